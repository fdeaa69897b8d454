"""Benchmark of the data engine at national scale. Prints figures; asserts nothing.

Usage: ``python bench/engine.py [--db sqlite|postgresql] [--policies 80] [--indicators 5]
[--months 60] [--requests 50]``. Builds a fresh database with the nation, the 18 regions and
the 101 departments, generates policies × indicators × territories × months of values
(defaults: 80 × 5 × 120 × (60 actual + baseline + target) ≈ 3 million rows), then prints:

- write throughput of the engine's write path (``save_values``, rows/s, revisions included)
  next to PostgreSQL ``COPY`` of the same rows into a bare table (when PostgreSQL answers);
- time to recompute every roll-up and figure;
- time from one value saved to the updated policy progress (median of 10);
- API latency p50/p95 for the policy list and for one policy × all departments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def database_url(kind: str, tmp: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "pilote_bench" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "pilote_bench"'))
    admin.dispose()
    return PG_SERVER.rsplit("/", 1)[0] + "/pilote_bench"


def months(count: int, end: dt.date) -> list[dt.date]:
    out, year, month = [], end.year, end.month
    for _ in range(count):
        out.append(dt.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def build_structure(session, n_policies: int, n_indicators: int):
    from core.models import Direction, Indicator, IndicatorWeight, Policy, PolicyStatus

    indicators = []
    for p in range(n_policies):
        policy = Policy(code=f"CH-B{p:03d}", name=f"Politique {p}", status=PolicyStatus.PUBLISHED, is_public=True)
        for i in range(n_indicators):
            ind = Indicator(code=f"IND-B{p:03d}-{i}", name=f"Indicateur {p}.{i}", policy=policy,
                            direction=Direction.INCREASE if i % 4 else Direction.DECREASE,
                            aggregation_method="sum" if i % 2 else "mean", position=i)
            ind.weights = [IndicatorWeight(level=lvl, weight=Decimal(100) / n_indicators)
                           for lvl in ("nation", "region", "department")]
            indicators.append(ind)
        session.add(policy)
    session.commit()
    return indicators


def value_rows(indicators, departments, dates, rng):
    """Department-level values (regions and the nation come from roll-ups)."""
    from core.engine.values import ValueInput
    from core.models import TargetScope, ValueKind

    for ind in indicators:
        batch = []
        for dep in departments:
            base = Decimal(rng.randint(100, 1000))
            batch.append(ValueInput(ind.id, dep, ValueKind.BASELINE, dates[0], base))
            batch.append(ValueInput(ind.id, dep, ValueKind.TARGET, dt.date(2027, 12, 1), base * 2,
                                    target_scope=TargetScope.FINAL))
            for k, date in enumerate(dates):
                batch.append(ValueInput(ind.id, dep, ValueKind.ACTUAL, date,
                                        base + Decimal(k * rng.randint(1, 20))))
        yield batch


def copy_baseline(rows: list[tuple]) -> float | None:
    """Seconds PostgreSQL COPY takes for the same rows into a bare table (None without PG)."""
    try:
        import psycopg

        conn = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", connect_timeout=2)
    except Exception:  # noqa: BLE001 - no PostgreSQL here: no baseline
        return None
    with conn:
        conn.execute("CREATE TEMP TABLE copy_bench (indicator_id int, territory_id int, kind text, "
                     "date date, value numeric)")
        started = time.perf_counter()
        with conn.cursor().copy("COPY copy_bench FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        elapsed = time.perf_counter() - started
    return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--policies", type=int, default=80)
    parser.add_argument("--indicators", type=int, default=5)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    from sqlalchemy import select

    from core.app import create_app
    from core.db import Model
    from core.db import session as db_session
    from core.engine.recompute import recompute
    from core.engine.values import ValueInput, save_values
    from core.migrate import import_all_models
    from core.models import Channel, Territory, User, ValueKind
    from core.seed.reference import load_reference_territories

    rng = random.Random(20261122)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url(args.db, tmp)
        app = create_app("ditp", settings={"DATABASE_URL": url, "SECRET_KEY": "bench",
                                           "PILOTE_TODAY": "2026-11-01"})
        import_all_models()
        Model.metadata.create_all(app.extensions["pilote"].db.engine)
        with app.app_context():
            session = db_session()
            load_reference_territories(session, ["nation", "region", "department"])
            session.commit()
            departments = list(session.scalars(select(Territory.id).where(Territory.level == "department")))
            indicators = build_structure(session, args.policies, args.indicators)
            dates = months(args.months, dt.date(2026, 10, 1))
            total, started, copy_rows = 0, time.perf_counter(), []
            for batch in value_rows(indicators, departments, dates, rng):
                save_values(session, batch, channel=Channel.IMPORT, recompute=False)
                session.commit()
                total += len(batch)
                copy_rows.extend((v.indicator_id, v.territory_id, v.kind.value, v.date, v.value) for v in batch)
            write_seconds = time.perf_counter() - started
            print(f"database: {args.db}; {len(indicators)} indicators, {len(departments)} departments, "
                  f"{len(dates)} months")
            print(f"write path (save_values, with revisions): {total} rows in {write_seconds:.1f} s = "
                  f"{total / write_seconds:,.0f} rows/s")
            copy_seconds = copy_baseline(copy_rows)
            if copy_seconds:
                print(f"PostgreSQL COPY of the same rows: {copy_seconds:.1f} s = {total / copy_seconds:,.0f} rows/s "
                      f"(COPY is {write_seconds / copy_seconds:.0f}× faster than the write path)")
            del copy_rows

            started = time.perf_counter()
            report = recompute(session)
            session.commit()
            print(f"full recompute: {time.perf_counter() - started:.1f} s ({report.aggregated_values} "
                  f"aggregated values, {report.indicator_figures} indicator figures, "
                  f"{report.policy_figures} policy figures)")

            timings = []
            target = indicators[0]
            for k in range(10):
                started = time.perf_counter()
                save_values(session, [ValueInput(target.id, departments[k], ValueKind.ACTUAL, dates[-1],
                                                 Decimal(5000 + k))], channel=Channel.FORM)
                session.commit()
                timings.append(time.perf_counter() - started)
            print(f"one value saved → policy progress updated: median {statistics.median(timings) * 1000:.0f} ms, "
                  f"max {max(timings) * 1000:.0f} ms")

            from core.models import Grant, Role

            admin = User(email="bench@example.org", name="Bench")
            admin.grants.append(Grant(role=Role.ADMIN))
            session.add(admin)
            session.commit()
            admin_id = admin.id
        client = app.test_client()
        with client.session_transaction() as flask_session:
            flask_session["_user_id"] = str(admin_id)
            flask_session["_fresh"] = True
        policy_code = "CH-B000"
        for label, path in [("policy list", "/api/v1/policies?per_page=100"),
                            ("policy × all departments", f"/api/v1/policies/{policy_code}/figures?level=department")]:
            if client.get(path).status_code != 200:
                print(f"{label}: {path} unavailable (status {client.get(path).status_code})")
                continue
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - started) * 1000)
            print(f"API {label}: p50 {percentile(times, 0.5):.0f} ms, p95 {percentile(times, 0.95):.0f} ms "
                  f"over {args.requests} requests")
        app.extensions["pilote"].db.dispose()


if __name__ == "__main__":
    main()
