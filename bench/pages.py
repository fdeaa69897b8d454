"""Server time of the steering pages (p50/p95) on the demo data and on a larger dataset. Prints
figures; asserts nothing.

Usage: ``python bench/pages.py [--requests 20] [--policies 40] [--indicators 4] [--months 24]
[--skip-large]``. The demo is the seeded DITP demo (signed in as central steering); the larger
dataset reuses ``bench/engine.py``'s generator (nation, 18 regions, 101 departments, policies ×
indicators × departments × months of values, everything recomputed), signed in as an admin.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine import build_structure, months, percentile, value_rows  # noqa: E402


def measure(client, pages: list[tuple[str, str]], requests: int) -> None:
    for label, path in pages:
        status = client.get(path).status_code  # warm-up (templates, caches)
        if status != 200:
            print(f"  {label:<28} {path}: status {status}")
            continue
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        print(f"  {label:<28} p50 {statistics.median(times):7.1f} ms   p95 {percentile(times, 0.95):7.1f} ms   {path}")


def sign_in(client, email: str, password: str) -> None:
    """Through the real login form, so that the session is the one a browser gets."""
    from core.testing.pytest_plugin import login

    response = login(client, email, password)
    if response.status_code != 302:
        raise SystemExit(f"cannot sign in as {email} (status {response.status_code})")


def demo(requests: int) -> None:
    from core.app import create_app
    from core.db import Model
    from core.migrate import import_all_models
    from core.testing.pytest_plugin import DEMO_PASSWORD, seed_demo

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app("ditp", settings={"DATABASE_URL": f"sqlite:///{tmp}/demo.sqlite3",
                                           "SECRET_KEY": "bench", "PILOTE_TODAY": "2026-11-01"})
        import_all_models()
        Model.metadata.create_all(app.extensions["pilote"].db.engine)
        with app.app_context():
            seed_demo(app)
        client = app.test_client()
        sign_in(client, "central_steering@demo.pilote.example", DEMO_PASSWORD)
        print("demo data (DITP demo, central steering):")
        measure(client, [
            ("home (nation)", "/"),
            ("home (department, sorted)", "/?territoire=department-69&tri=progress&desc=1"),
            ("export CSV", "/export/politiques.csv"),
            ("policy page", "/politiques/CH-101?territoire=department-69"),
            ("territory sheet", "/territoires/department/69"),
            ("indicator card", "/indicateurs/IND-1011?territoire=department-69"),
            ("completeness (nation)", "/completude"),
            ("what I owe", "/completude/mes-saisies"),
        ], requests)


def large(requests: int, n_policies: int, n_indicators: int, n_months: int) -> None:
    from sqlalchemy import select

    from core.app import create_app
    from core.db import Model
    from core.db import session as db_session
    from core.engine.recompute import recompute
    from core.engine.values import save_values
    from core.identity.passwords import hash_password
    from core.migrate import import_all_models
    from core.models import Channel, Grant, Role, Territory, User
    from core.seed.reference import load_reference_territories

    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app("ditp", settings={"DATABASE_URL": f"sqlite:///{tmp}/large.sqlite3",
                                           "SECRET_KEY": "bench", "PILOTE_TODAY": "2026-11-01"})
        import_all_models()
        Model.metadata.create_all(app.extensions["pilote"].db.engine)
        with app.app_context():
            session = db_session()
            load_reference_territories(session, ["nation", "region", "department"])
            session.commit()
            departments = list(session.scalars(select(Territory.id).where(Territory.level == "department")))
            indicators = build_structure(session, n_policies, n_indicators)
            dates = months(n_months, dt.date(2026, 10, 1))
            rows = 0
            for batch in value_rows(indicators, departments, dates, rng):
                save_values(session, batch, channel=Channel.IMPORT, recompute=False)
                session.commit()
                rows += len(batch)
            recompute(session)
            admin = User(email="bench@example.org", name="Bench", password_hash=hash_password("bench-pages"))
            admin.grants.append(Grant(role=Role.ADMIN))
            session.add(admin)
            session.commit()
        client = app.test_client()
        sign_in(client, "bench@example.org", "bench-pages")
        print(f"larger dataset ({n_policies} policies × {n_indicators} indicators × {len(departments)} "
              f"departments × {n_months} months = {rows:,} values, admin):")
        measure(client, [
            ("home (nation)", "/"),
            ("home (department, sorted)", "/?territoire=department-69&tri=progress&desc=1"),
            ("export CSV", "/export/politiques.csv"),
            ("policy page", "/politiques/CH-B000?territoire=department-69&niveau=department"),
            ("territory sheet", "/territoires/department/69"),
            ("indicator card", "/indicateurs/IND-B000-0?territoire=department-69"),
            ("completeness (nation)", "/completude"),
        ], requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--policies", type=int, default=40)
    parser.add_argument("--indicators", type=int, default=4)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    demo(args.requests)
    if not args.skip_large:
        large(args.requests, args.policies, args.indicators, args.months)


if __name__ == "__main__":
    main()
