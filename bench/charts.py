"""Benchmark: server-side chart rendering by the visualisation plugin.

Usage: ``python bench/charts.py [--repeat N]``. Builds synthetic data (no database needed) and
prints the median wall and CPU time to render, through ``core.api.render_chart``: a trajectory of 60
monthly points × 3 series with a baseline and 5 targets, a comparison of 101 departments, a
gauge and a weather timeline of 12 ratings; then the PNG rasterisation of the first two and the
SVG sizes. Asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def trajectory(points: int = 60) -> dict:
    def month(i: int) -> str:
        return dt.date(2022 + i // 12, i % 12 + 1, 1).isoformat()

    def series(key: str, label: str, base: float) -> dict:
        return {"key": key, "label": label,
                "points": [[month(i), round(base + i * 0.4 + 3 * math.sin(i / 3), 2)] for i in range(points)]}

    return {"title": "Taux de couverture", "unit": "%", "direction": "increase", "decimals": 1,
            "series": [series("territory", "Rhône", 20), series("nation", "France", 22),
                       series("median", "Médiane (Département)", 21)],
            "baseline": {"date": "2021-12-01", "value": 18.0},
            "targets": [{"date": f"{2022 + y}-12-31", "value": 25.0 + 6 * y, "final": y == 4} for y in range(5)]}


def comparison(count: int = 101) -> dict:
    bars = [{"code": f"{i:02d}", "label": f"Département n° {i}", "value": (i * 37) % 100 or None,
             "highlight": i == 69} for i in range(1, count + 1)]
    return {"title": "Avancement global par département", "unit": "%", "decimals": 0,
            "bars": sorted(bars, key=lambda b: -(b["value"] or -1)), "reference": {"label": "Médiane", "value": 50.0}}


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process, in ms (CPU time is the figure to
    trust on a shared, loaded machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    from core.api import render_chart
    from core.app import create_app
    from plugins.visualisation.exports import to_png

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app("ditp", settings={"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "SECRET_KEY": "bench",
                                           "TESTING": True})
        cases = {
            "trajectory, 60 points x 3 series": ("trajectory", trajectory()),
            "comparison, 101 departments": ("comparison", comparison()),
            "gauge": ("gauge", {"title": "Avancement", "value": 62.5, "label": "Avancement global"}),
            "weather timeline, 12 ratings": ("weather_timeline", {"title": "Météo", "entries": [
                {"date": f"2025-{m:02d}-01", "weather": w, "label": w}
                for m, w in zip(range(1, 13), ["secured", "achievable", "support_needed", "compromised"] * 3)]}),
        }
        with app.test_request_context("/"):
            print(f"{'render (SVG)':40} {'wall ms':>10} {'CPU ms':>8} {'SVG bytes':>10}")
            figures = {}
            for name, (kind, data) in cases.items():
                render_chart(kind, data)  # warm-up: locale data, templates
                median, cpu = timed(lambda: render_chart(kind, data), args.repeat)
                figures[name] = render_chart(kind, data)
                print(f"{name:40} {median:10.1f} {cpu:8.1f} {len(figures[name].svg.encode()):10d}")
            print(f"\n{'rasterise (PNG, scale 2)':40} {'wall ms':>10} {'CPU ms':>8} {'PNG bytes':>10}")
            for name in list(cases)[:2]:
                svg = figures[name].svg
                median, cpu = timed(lambda: to_png(svg), max(args.repeat // 4, 3))
                print(f"{name:40} {median:10.1f} {cpu:8.1f} {len(to_png(svg)):10d}")
        app.extensions["pilote"].db.dispose()


if __name__ == "__main__":
    main()
