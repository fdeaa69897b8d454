"""Benchmark: server-side choropleth maps of the cartographie plugin.

Usage: ``python bench/maps.py [--repeat N]``. Builds the DITP app on a temporary SQLite database
holding the reference territories, then prints the time (first call, with the geometry files
read and parsed, then the median of warm calls) and the SVG size of: the department map, the
commune map of a region (Auvergne-Rhône-Alpes), and the map of all communes of France. The
commune maps need the commune files (``pilote cartographie build``). Asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(fn, repeat: int):
    started = time.perf_counter()
    result = fn()
    first = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - started)
    return result, first, statistics.median(warm) if warm else first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from core.app import create_app
    from core.db import Model, session
    from core.seed import load_reference_territories

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app("ditp", settings={"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                                           "SECRET_KEY": "bench"})
        Model.metadata.create_all(app.extensions["pilote"].db.engine)
        with app.app_context():
            load_reference_territories(session(), ["nation", "region", "department"])
            session().commit()
        from core.api import render_map, territory_layer
        from plugins.cartographie.layers import communes_available

        rng = random.Random(0)
        with app.test_request_context():
            cases = [("department map (101)", "department", None)]
            if communes_available():
                cases += [("commune map of a region (84)", "commune", "region-84"),
                          ("commune map of France", "commune", "FR")]
            else:
                print("commune files missing: run `pilote cartographie build` for the commune maps")
            for label, level, within in cases:
                layer = territory_layer(level, within)
                values = {f["properties"]["code"]: round(rng.uniform(0, 100), 1)
                          for f in layer["features"]}
                figure, first, warm = measure(
                    lambda: render_map(level, values, title=label, within=within, unit="%",
                                       link="/t/{code}"), args.repeat)
                print(f"{label}: {len(values)} territories, first {first:.2f} s, "
                      f"warm median {warm:.2f} s, SVG {len(str(figure.svg)) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
