"""Benchmark: PDF reports and one-page briefs on the demo data.

Usage: ``python bench/reports.py [--policies 20] [--database URL]``. Without ``--database``,
seeds a temporary SQLite demo database first. Prints the time (and pages, size) of a national
report of the first N policies (drafts included), of a policy brief and of a territory brief, each split
into building the sections (data, charts and maps through the plugins) and the WeasyPrint layout,
in wall-clock and CPU seconds (the CPU time does not depend on other processes). Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEMO_TODAY = "2026-11-01"


def seeded_app(url: str):
    from core.app import create_app
    from core.db import Model, session
    from core.engine.recompute import recompute
    from core.seed import load_demo, load_reference_territories

    app = create_app("ditp", settings={"DATABASE_URL": url, "SECRET_KEY": "bench",
                                       "PILOTE_TODAY": DEMO_TODAY})
    Model.metadata.create_all(app.extensions["pilote"].db.engine)
    with app.app_context():
        import datetime as dt

        started = time.perf_counter()
        today = dt.date.fromisoformat(DEMO_TODAY)
        load_reference_territories(session(), ["nation", "region", "department"])
        load_demo(session(), ROOT / "instances/ditp/seed/demo.toml", today=today)
        recompute(session(), today=today)
        session().commit()
        print(f"seed reference + demo + figures: {time.perf_counter() - started:.1f} s")
    return app


def report(app, policies: int) -> None:
    from sqlalchemy import select

    from core.db import session
    from core.models import Policy, PolicyStatus
    from core.reports.model import Selection, build_report
    from core.reports.render import render_brief, render_report
    from core.reports.sections import brief_context
    from core.reports.service import collect_sections

    with app.test_request_context():
        import weasyprint  # noqa: F401  (import time is not the report's)

        codes = tuple(session().scalars(select(Policy.code).where(Policy.status != PolicyStatus.ARCHIVED)
                                        .order_by(Policy.code).limit(policies)))
        started, cpu = time.perf_counter(), time.process_time()
        built = build_report(session(), Selection(codes, ()))
        sections = collect_sections(built)
        middle, middle_cpu = time.perf_counter(), time.process_time()
        pdf = render_report(built, sections)
        ended, ended_cpu = time.perf_counter(), time.process_time()
        print(f"national report, {len(codes)} policies: {ended - started:.1f} s "
              f"(CPU {ended_cpu - cpu:.1f} s; sections {middle - started:.1f} s, CPU "
              f"{middle_cpu - cpu:.1f} s; layout {ended - middle:.1f} s, CPU {ended_cpu - middle_cpu:.1f} s), "
              f"{pdf.pages} pages, {len(pdf.data) // 1024} KB")
        for label, selection in [("policy brief (CH-101, department 69)",
                                  Selection(("CH-101",), ("department-69",), brief=True)),
                                 ("territory brief (nation, every policy)",
                                  Selection((), ("nation-FR",), brief=True))]:
            started, cpu = time.perf_counter(), time.process_time()
            built = build_report(session(), selection)
            pdf = render_brief(built, brief_context(built))
            print(f"{label}: {time.perf_counter() - started:.2f} s "
                  f"(CPU {time.process_time() - cpu:.2f} s), {pdf.pages} page")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=20)
    parser.add_argument("--database", default=None, help="An already seeded demo database URL.")
    args = parser.parse_args()
    if args.database:
        from core.app import create_app

        app = create_app("ditp", settings={"DATABASE_URL": args.database, "SECRET_KEY": "bench",
                                           "PILOTE_TODAY": DEMO_TODAY})
        report(app, args.policies)
        return
    with tempfile.TemporaryDirectory() as tmp:
        app = seeded_app(f"sqlite:///{tmp}/bench.sqlite3")
        report(app, args.policies)
        app.extensions["pilote"].db.dispose()


if __name__ == "__main__":
    main()
