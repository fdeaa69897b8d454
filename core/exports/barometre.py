"""The open-data format of the "Baromètre des résultats de l'action publique", with the
progress rates Pilote computed (``pilote export barometre <folder>``).

One ``ind-<id>.csv`` per indicator, exactly like the published files::

    indic_id,enforce_zone_id,metric_enforce_date,maille,indic_vi,indic_va,indic_vc,indic_ta
    IND-218,D01,2022-09-01,DEPT,57.4,57.4,,
    IND-218,D01,2023-12-01,DEPT,,59.3,,26.76
    IND-218,D01,2026-12-01,DEPT,,,64.5,

* ``indic_id`` is the indicator's code; the file is named ``ind-<code without "IND-">.csv``
  in lower case (``IND-218`` → ``ind-218.csv``);
* zones: ``FRANCE`` (level ``nation``, maille ``NAT``), ``R<INSEE code>`` (``region``,
  ``REG``), ``D<INSEE code>`` (``department``, ``DEPT``: ``D01``, ``D2A``, ``D971``); other
  levels are not part of the format and are left out;
* per zone: the baseline row (``indic_vi``: the baseline Pilote uses, VIG), one row per
  month with an actual value (``indic_va``: the values Pilote uses, entered or aggregated,
  one per month as in the computation), and the target row (``indic_vc``: the final target,
  VCG); values on the same date share one row, as published;
* ``indic_ta``: Pilote's overall progress (TAG) of the zone, on the row of the zone's latest
  actual value only, as published;
* rows sorted by maille, zone, date (the published order); comma-separated, UTF-8 without BOM,
  ``\\n`` line ends; numbers rounded half-up to 2 decimals and written with at least one
  decimal (``69.0``, ``79.58``, ``100.0``), never in exponent notation; no placeholder rows for
  zones without data;
* next to each CSV, ``ind-<id>.schema.json``: its Table Schema.

By default only what is public is exported: public indicators of public, published policies.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.exports.tabular import UNRESTRICTED
from core.models import (
    AggregatedValue,
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    Policy,
    PolicyStatus,
    Territory,
    ValueKind,
)
from core.progress import DatedValue, latest_per_month

COLUMNS = ["indic_id", "enforce_zone_id", "metric_enforce_date", "maille",
           "indic_vi", "indic_va", "indic_vc", "indic_ta"]
MAILLES = {"nation": "NAT", "region": "REG", "department": "DEPT"}
NATION_ZONE = "FRANCE"
CENT = Decimal("0.01")


def zone_of(level: str, code: str) -> tuple[str, str] | None:
    """(maille, zone id) of a territory, or None when its level is not in the format."""
    if level == "nation":
        return "NAT", NATION_ZONE
    if level == "region":
        return "REG", f"R{code}"
    if level == "department":
        return "DEPT", f"D{code}"
    return None


def format_number(value: Decimal | None) -> str:
    """``69`` → ``69.0``, ``79.584`` → ``79.58``, ``100.00`` → ``100.0`` (the published style)."""
    if value is None:
        return ""
    rounded = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    if rounded == 0:
        return "0.0"
    text = format(rounded.normalize(), "f")
    return text if "." in text else text + ".0"


def file_stem(code: str) -> str:
    """``IND-218`` → ``ind-218``; other codes → ``ind-<code>`` (lower case, safe characters)."""
    ident = re.sub(r"^ind-", "", code.strip(), flags=re.IGNORECASE)
    return "ind-" + re.sub(r"[^a-z0-9_-]+", "_", ident.lower())


def table_schema(indicator_code: str = "", title: str = "") -> dict[str, Any]:
    """The Table Schema of one barometer file."""
    number = {"type": "number", "bareNumber": True}
    return {
        "name": file_stem(indicator_code) if indicator_code else "barometre",
        "title": title or "Baromètre des résultats de l'action publique",
        "description": ("Valeurs initiales (vi), actuelles (va), cibles (vc) et taux d'avancement "
                        "(ta, calculé par Pilote) par zone. CSV séparé par des virgules, UTF-8."),
        "fields": [
            {"name": "indic_id", "title": "Identifiant de l'indicateur", "type": "string",
             "constraints": {"required": True}},
            {"name": "enforce_zone_id", "title": "Zone", "type": "string",
             "description": "FRANCE, R<code INSEE de région> ou D<code INSEE de département>",
             "constraints": {"required": True,
                             "pattern": r"FRANCE|R[0-9]{2}|D([0-9]{2}|2A|2B|97[1-6])"}},
            {"name": "metric_enforce_date", "title": "Date de la valeur", "type": "date",
             "format": "%Y-%m-%d", "constraints": {"required": True}},
            {"name": "maille", "title": "Maille", "type": "string",
             "constraints": {"required": True, "enum": ["NAT", "REG", "DEPT"]}},
            {"name": "indic_vi", "title": "Valeur initiale", **number},
            {"name": "indic_va", "title": "Valeur actuelle", **number},
            {"name": "indic_vc", "title": "Valeur cible", **number},
            {"name": "indic_ta", "title": "Taux d'avancement (%)", **number,
             "constraints": {"minimum": 0, "maximum": 100}},
        ],
        "primaryKey": ["indic_id", "enforce_zone_id", "metric_enforce_date"],
        "missingValues": [""],
    }


@dataclass
class BarometreExport:
    folder: Path
    files: dict[str, int] = field(default_factory=dict)  # file name → data rows


def _effective(entered: dict, aggregated: dict, prefer_entered: bool, key) -> list[DatedValue]:
    own, agg = entered.get(key, []), aggregated.get(key, [])
    first, second = (own, agg) if prefer_entered else (agg, own)
    return first or second


def indicator_rows(session: Session, indicator: Indicator,
                   zones: dict[int, tuple[str, str]]) -> list[list[str]]:
    """The rows of one indicator, sorted as published (three queries)."""
    entered: dict[tuple, list[DatedValue]] = defaultdict(list)
    for tid, kind, day, value, recorded_at in session.execute(
            select(IndicatorValue.territory_id, IndicatorValue.kind, IndicatorValue.date,
                   IndicatorValue.value, IndicatorValue.recorded_at)
            .where(IndicatorValue.indicator_id == indicator.id, IndicatorValue.kind == ValueKind.ACTUAL,
                   IndicatorValue.value.is_not(None))):
        if tid in zones:
            entered[tid].append(DatedValue(day, value, recorded_at))
    aggregated: dict[int, list[DatedValue]] = defaultdict(list)
    for tid, day, value, computed_at in session.execute(
            select(AggregatedValue.territory_id, AggregatedValue.date, AggregatedValue.value,
                   AggregatedValue.computed_at)
            .where(AggregatedValue.indicator_id == indicator.id,
                   AggregatedValue.kind == ValueKind.ACTUAL, AggregatedValue.value.is_not(None))):
        if tid in zones:
            aggregated[tid].append(DatedValue(day, value, computed_at))
    figures = {f.territory_id: f for f in session.scalars(
        select(IndicatorFigure).where(IndicatorFigure.indicator_id == indicator.id))
        if f.territory_id in zones}

    out = []
    for tid in set(entered) | set(aggregated) | set(figures):
        maille, zone = zones[tid]
        rows: dict[dt.date, list[str]] = {}

        def cell(day: dt.date, column: int, value: Decimal | None) -> None:
            row = rows.setdefault(day, [indicator.code, zone, day.isoformat(), maille, "", "", "", ""])
            row[column] = format_number(value)

        figure = figures.get(tid)
        if figure is not None and figure.baseline is not None and figure.baseline_date:
            cell(figure.baseline_date, 4, figure.baseline)
        for dv in latest_per_month(_effective(entered, aggregated, indicator.prefer_entered_values, tid)):
            if dv.value is not None:
                cell(dv.date, 5, dv.value)
        if figure is not None and figure.final_target is not None and figure.final_target_date:
            cell(figure.final_target_date, 6, figure.final_target)
        if figure is not None and figure.overall is not None and figure.actual_date:
            if figure.actual_date not in rows or not rows[figure.actual_date][5]:
                cell(figure.actual_date, 5, figure.actual)
            cell(figure.actual_date, 7, figure.overall)
        out.extend(rows.values())
    out.sort(key=lambda r: (r[3], r[1], r[2]))
    return out


def export_barometre(
    session: Session,
    folder: str | Path,
    *,
    indicator_codes: Iterable[str] | None = None,
    public_only: bool = True,
    user: Any = UNRESTRICTED,
) -> BarometreExport:
    """Write ``ind-<id>.csv`` and ``ind-<id>.schema.json`` for every selected indicator.

    ``public_only`` keeps public indicators of public, published policies; otherwise every
    indicator the ``user`` may read (``UNRESTRICTED``: all).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    query = (select(Indicator).join(Policy, Policy.id == Indicator.policy_id)
             .order_by(Policy.code, Indicator.position, Indicator.code))
    if public_only:
        query = query.where(Indicator.is_public.is_(True), Policy.is_public.is_(True),
                            Policy.status == PolicyStatus.PUBLISHED)
    if user is not UNRESTRICTED:
        from core.permissions import scope

        query = query.where(scope("policy.read", Policy, user=user))
    if indicator_codes is not None:
        query = query.where(Indicator.code.in_(list(indicator_codes)))
    indicators = session.scalars(query).all()
    zones = {}
    for tid, level, code in session.execute(
            select(Territory.id, Territory.level, Territory.code)
            .where(Territory.valid_to.is_(None), Territory.level.in_(list(MAILLES)))):
        zone = zone_of(level, code)
        if zone:
            zones[tid] = zone
    report = BarometreExport(folder)
    for indicator in indicators:
        rows = indicator_rows(session, indicator, zones)
        stem = file_stem(indicator.code)
        with open(folder / f"{stem}.csv", "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(COLUMNS)
            writer.writerows(rows)
        (folder / f"{stem}.schema.json").write_text(
            json.dumps(table_schema(indicator.code, indicator.name), ensure_ascii=False, indent=2)
            + "\n", encoding="utf-8")
        report.files[f"{stem}.csv"] = len(rows)
    return report


__all__ = ["BarometreExport", "COLUMNS", "export_barometre", "file_stem", "format_number",
           "indicator_rows", "table_schema", "zone_of"]
