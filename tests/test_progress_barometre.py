"""Conformance of core.progress with the progress rates PILOTE 2 actually published.

The data is the public "Baromètre des résultats de l'action publique" (DITP), kept outside the
repository in ``../shared/data/barometre/`` (see its README); the test skips when it is absent.

How the published rows pair up: for each (indicator, zone) the rate ``indic_ta`` is published
on one row only, the one holding the zone's latest actual value ``indic_va``. The zone has one
baseline row (``indic_vi``) and one target row (``indic_vc``, mostly dated 2026-12), so the
rate is the overall one (TAG): f(VIG of the zone, latest VA of the zone, VCG of the zone).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from core.progress import (
    DatedValue,
    indicator_progress,
    latest_actual,
    latest_per_month,
    select_baseline,
    select_final_target,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "barometre"
TOLERANCE = Decimal("0.5")
MIN_CONFORMANCE = 0.99


@dataclass
class Zone:
    baselines: list[DatedValue] = field(default_factory=list)
    actuals: list[DatedValue] = field(default_factory=list)
    targets: list[DatedValue] = field(default_factory=list)
    published: list[tuple[dt.date, Decimal | None, Decimal]] = field(default_factory=list)


@dataclass
class Barometre:
    directions: dict[str, str]
    zones: dict[tuple[str, str], Zone]
    rows: int
    placeholders: int


@pytest.fixture(scope="module")
def barometre() -> Barometre:
    if not (DATA / "metadata" / "meta_indicateurs.csv").is_file():
        pytest.skip(f"baromètre data not found at {DATA} (it is kept outside the repository)")
    with open(DATA / "metadata" / "meta_indicateurs.csv", encoding="utf-8", newline="") as f:
        directions = {r["indic_id"]: r["tendance"] for r in csv.DictReader(f)}
    zones: dict[tuple[str, str], Zone] = defaultdict(Zone)
    rows = placeholders = 0
    for path in sorted((DATA / "data").glob("ind-*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                rows += 1
                if not r["metric_enforce_date"]:
                    placeholders += 1
                    assert not (r["indic_vi"] or r["indic_va"] or r["indic_vc"] or r["indic_ta"])
                    continue
                zone = zones[(r["indic_id"], r["enforce_zone_id"])]
                day = dt.date.fromisoformat(r["metric_enforce_date"])
                for column, values in (
                    ("indic_vi", zone.baselines),
                    ("indic_va", zone.actuals),
                    ("indic_vc", zone.targets),
                ):
                    if r[column]:
                        values.append(DatedValue(day, r[column]))
                if r["indic_ta"]:
                    actual = Decimal(r["indic_va"]) if r["indic_va"] else None
                    zone.published.append((day, actual, Decimal(r["indic_ta"])))
    return Barometre(directions, dict(zones), rows, placeholders)


def test_published_rates_are_reproduced(barometre, record_property):
    compared = within = exact = 0
    not_latest = 0
    failures = []
    for (indicator, zone_id), zone in barometre.zones.items():
        direction = {"hausse": "increase", "baisse": "decrease"}[barometre.directions[indicator]]
        baseline = select_baseline(latest_per_month(zone.baselines))
        target = select_final_target(latest_per_month(zone.targets))
        latest = latest_actual(latest_per_month(zone.actuals))
        for day, actual, published in zone.published:
            if latest is None or latest.date != day.replace(day=1):
                not_latest += 1
            computed = indicator_progress(
                baseline and baseline.value, actual, target and target.value, direction
            )
            compared += 1
            if computed is not None and abs(computed - published) <= TOLERANCE:
                within += 1
                exact += computed == published
            else:
                failures.append((indicator, zone_id, str(day), str(published), str(computed)))
    assert compared, "no published rate found"
    rate = within / compared
    report = (
        f"baromètre conformance: {within}/{compared} = {rate:.2%} within {TOLERANCE} points, "
        f"{exact / compared:.2%} exact; {barometre.placeholders} placeholder rows skipped "
        f"of {barometre.rows}; {not_latest} rates not on the latest actual"
    )
    print(report)
    record_property("barometre_conformance", report)
    assert rate >= MIN_CONFORMANCE, f"{report}; first failures: {failures[:10]}"
    assert not_latest == 0, report


def test_exact_ties_are_rounded_half_up(barometre):
    """PILOTE rounds with PostgreSQL ``round(numeric, 2)``: half away from zero, not half-even."""
    ties = []
    for (indicator, _), zone in barometre.zones.items():
        if not (zone.baselines and zone.targets):
            continue
        vi, vc = zone.baselines[0].value, zone.targets[0].value
        for _, actual, published in zone.published:
            if actual is None or vi == vc:
                continue
            raw = 100 * (actual - vi) / (vc - vi)
            thousandths = raw * 1000
            if 0 < raw < 100 and thousandths == thousandths.to_integral_value() and thousandths % 10 == 5:
                direction = "decrease" if barometre.directions[indicator] == "baisse" else "increase"
                ties.append((published, indicator_progress(vi, actual, vc, direction)))
    assert ties, "no exact tie in the data"  # 12 in the 2024-10 snapshot
    assert all(published == computed for published, computed in ties), ties
