"""Benchmark: load the reference territories and the demo into a temporary SQLite database.

Usage: ``python bench/seed.py [--communes] [--keep PATH]``. Prints the elapsed seconds of
each step and the row count of every table; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import core.models  # noqa: E402,F401  (registers every table)
from core.db import Model, make_engine  # noqa: E402
from core.seed import load_demo, load_reference_territories  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communes", action="store_true", help="also load the ~35,000 communes")
    parser.add_argument("--keep", type=Path, help="write the database here instead of a temp file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "seed.db"
        engine = make_engine(f"sqlite:///{path}")
        Model.metadata.create_all(engine)
        levels = ["nation", "region", "department"] + (["commune"] if args.communes else [])
        total = time.perf_counter()
        with Session(engine) as session:
            start = time.perf_counter()
            counts = load_reference_territories(session, levels)
            session.commit()
            print(f"reference {counts}: {time.perf_counter() - start:.2f} s")
            start = time.perf_counter()
            load_demo(session)
            session.commit()
            print(f"demo: {time.perf_counter() - start:.2f} s")
            print(f"total: {time.perf_counter() - total:.2f} s")
            for table in Model.metadata.sorted_tables:
                rows = session.scalar(select(func.count()).select_from(table))
                if rows:
                    print(f"  {table.name:28} {rows:>8}")
        engine.dispose()


if __name__ == "__main__":
    main()
