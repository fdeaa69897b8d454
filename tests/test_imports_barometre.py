"""Conformance with real data: import the baromètre folder, then compare every rate PILOTE
published (``indic_ta``) with the overall progress Pilote stored (``IndicatorFigure.overall``).

The data is the public « Baromètre des résultats de l'action publique », kept outside the
repository in ``../shared/data/barometre/`` (see its README); the test skips, with the reason,
when the folder is absent. Nothing of it is copied into the repository.

The published rate of an (indicator, zone) is on the row of the zone's latest actual value and
is the overall one: f(zone's baseline, latest actual, latest-dated target) — see
``tests/test_progress_barometre.py``. Mismatches are listed with an explanation:

* ``cumulated indicator``: PILOTE computes the rate of a cumulated indicator
  (``indic_categorie_evolution`` = ``cumul_annuel``/``cumul_non_annuel``) on a de-cumulated
  "comparable" actual value (VACA/VACG, pilote2.md §2.3) that the baromètre does not publish;
* ``published values rounded``: the published VI/VA/VC are rounded to 2 decimals; some values
  within half a cent of them reproduce the published rate (small magnitudes amplify rounding);
* ``unexplained``: neither.
"""

from __future__ import annotations

import csv
import decimal
import itertools
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import session as db_session
from core.imports import ZoneResolver, import_file
from core.models import (
    ImportBatch,
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    IndicatorValueRevision,
    PolicyFigure,
    Territory,
)
from core.progress import indicator_progress

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "barometre"
TOLERANCE = decimal.Decimal("0.5")
MIN_CONFORMANCE = 0.99
HALF_CENT = decimal.Decimal("0.005")

pytestmark = pytest.mark.skipif(
    not (DATA / "metadata" / "meta_indicateurs.csv").is_file(),
    reason=f"baromètre data not found at {DATA} (it is kept outside the repository)",
)


def published_rates() -> tuple[list[tuple[str, str, str, decimal.Decimal]], int, int]:
    """Every published (indicator, zone, maille, rate); plus rows read and placeholder rows."""
    rates, rows, placeholders = [], 0, 0
    for path in sorted((DATA / "data").glob("ind-*.csv")):
        with open(path, encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh):
                rows += 1
                if not r["metric_enforce_date"] and not (r["indic_vi"] or r["indic_va"] or r["indic_vc"]):
                    placeholders += 1
                if r["indic_ta"]:
                    rates.append((r["indic_id"], r["enforce_zone_id"], r["maille"],
                                  decimal.Decimal(r["indic_ta"])))
    return rates, rows, placeholders


def _decimals(value: decimal.Decimal) -> int:
    return max(0, -value.normalize().as_tuple().exponent)


def explain(figure: IndicatorFigure, published: decimal.Decimal, direction: str, evolution: str) -> str:
    if evolution.startswith("cumul"):
        return f"cumulated indicator ({evolution}): PILOTE rates a de-cumulated actual not published"
    inputs = (figure.baseline, figure.actual, figure.final_target)
    if None in inputs:
        return "unexplained: Pilote has no figure (missing baseline, actual or target)"
    steps = [decimal.Decimal(i) / 10 for i in range(-10, 11)]
    boxes = [[v + HALF_CENT * s for s in steps] if _decimals(v) <= 2 else [v] for v in inputs]
    for vi, va, vc in itertools.product(*boxes):
        rate = indicator_progress(vi, va, vc, direction)
        if rate is not None and abs(rate - published) <= TOLERANCE:
            return "published values rounded to 2 decimals: unrounded values reproduce the rate"
    return "unexplained"


def test_barometre_import_reproduces_published_rates(app, record_property):
    rates, rows, placeholders = published_rates()
    with open(DATA / "metadata" / "meta_indicateurs.csv", encoding="utf-8", newline="") as fh:
        meta = {r["indic_id"]: r for r in csv.DictReader(fh)}
    with app.app_context():
        session = db_session()
        started = time.perf_counter()
        report = import_file(session, "barometre", DATA)
        elapsed = time.perf_counter() - started
        assert report.ok, report.render()
        assert report.applied and report.batch_id
        counts = report.counts
        assert counts["rows"] == rows and counts["placeholder_rows_skipped"] == placeholders
        assert 0 < counts["created"] <= counts["values"]  # identical repeated rows are ignored
        assert report.metadata["indicator"]["created"] == len(meta)

        stored = session.scalar(select(func.count()).select_from(IndicatorValue))
        assert stored == counts["created"]
        batch = session.get(ImportBatch, report.batch_id)
        assert batch.format == "barometre" and len(batch.file_hash) == 64
        assert batch.counts["created"] == counts["created"]
        assert session.scalar(select(func.count()).select_from(IndicatorValueRevision)
                              .where(IndicatorValueRevision.import_id == batch.id)) == stored

        resolver = ZoneResolver(session)
        figures = {
            (f.indicator_id, f.territory_id): f
            for f in session.scalars(select(IndicatorFigure))
        }
        ids = dict(session.execute(select(Indicator.code, Indicator.id)).all())
        directions = {code: d.value for code, d in
                      session.execute(select(Indicator.code, Indicator.direction))}
        compared = within = exact = 0
        mismatches = []
        for code, zone, maille, published in sorted(rates):
            compared += 1
            figure = figures.get((ids[code], resolver.resolve(zone, maille)))
            computed = figure.overall if figure else None
            if computed is not None and abs(computed - published) <= TOLERANCE:
                within += 1
                exact += computed == published
                continue
            evolution = meta.get(code, {}).get("indic_categorie_evolution") or ""
            why = explain(figure, published, directions[code], evolution) if figure \
                else "unexplained: no figure"
            mismatches.append((code, zone, str(published), str(computed), why))

        # a policy's progress is computable where all its indicators have a rate
        national = session.scalar(select(Territory.id).where(Territory.level == "nation"))
        policy_rates = session.scalars(select(PolicyFigure.overall).where(
            PolicyFigure.territory_id == national, PolicyFigure.overall.is_not(None))).all()

        # a second run changes nothing
        again = import_file(session, "barometre", DATA, dry_run=True)
        assert again.ok and again.counts["unchanged"] == counts["created"]
        assert again.metadata["indicator"] == {"created": 0, "updated": 0, "unchanged": len(meta)}

    rate = within / compared
    categories = Counter(why.split(":")[0] for *_, why in mismatches)
    lines = [
        f"baromètre import: {counts['values']} values from {counts['files']} files in {elapsed:.1f} s "
        f"({report.seconds}); {placeholders} placeholder rows skipped of {rows}",
        f"conformance: {within}/{compared} = {rate:.2%} within {TOLERANCE} points "
        f"({exact / compared:.2%} exact); {len(policy_rates)} national policy rates",
        f"mismatches by explanation: {dict(categories)}",
        *(f"  {code} {zone}: published {pub}, Pilote {mine} — {why}"
          for code, zone, pub, mine, why in mismatches),
    ]
    print("\n".join(lines))
    record_property("barometre_import_conformance", "\n".join(lines))
    assert compared > 0, "no published rate found"
    assert policy_rates, "no policy progress computed at national level"
    assert rate >= MIN_CONFORMANCE, "\n".join(lines)
