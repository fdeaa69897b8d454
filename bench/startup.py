"""Benchmark: app start-up, CLI start-up, and page times on a demo database.

Usage: ``python bench/startup.py [--requests N]``. Seeds a temporary SQLite demo database,
then prints: the time to import the core and build the app, the time `pilote --help` takes in a
fresh process, and the median/max time of the home page (nation, a department) and a policy
page. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    started = time.perf_counter()
    from core.app import create_app  # noqa: E402

    imported = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app("ditp", settings={"DATABASE_URL": url, "SECRET_KEY": "bench"})
        built = time.perf_counter()
        print(f"import core.app: {(imported - started) * 1000:.0f} ms")
        print(f"create_app('ditp'): {(built - imported) * 1000:.0f} ms")

        cli = subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "--help"],
                             capture_output=True, cwd=ROOT, check=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from core.cli import main; main()", "--help"],
                       capture_output=True, cwd=ROOT, check=True)
        print(f"pilote --help (fresh process): {(time.perf_counter() - started) * 1000:.0f} ms")
        del cli

        from core.db import Model, session
        from core.seed import load_demo, load_reference_territories

        Model.metadata.create_all(app.extensions["pilote"].db.engine)
        with app.app_context():
            started = time.perf_counter()
            load_reference_territories(session(), ["nation", "region", "department"])
            counts = load_demo(session(), ROOT / "instances/ditp/seed/demo.toml")
            session().commit()
            print(f"seed reference + demo: {time.perf_counter() - started:.2f} s, "
                  f"{sum(counts.values())} rows")

        client = app.test_client()
        from core.testing.pytest_plugin import login

        login(client, "central_steering@demo.pilote.example")
        for label, path in [("home, nation", "/"), ("home, department 69", "/?territoire=department-69"),
                            ("policy page, department 69", "/politiques/CH-101?territoire=department-69")]:
            client.get(path)  # warm-up
            times = timed(lambda: client.get(path), args.requests)
            print(f"{label}: median {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
                  f"over {args.requests} requests")
        app.extensions["pilote"].db.dispose()


if __name__ == "__main__":
    main()
