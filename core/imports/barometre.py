"""The open-data format of the « Baromètre des résultats de l'action publique » (DITP).

A folder laid out like ``shared/data/barometre/``:

* ``metadata/meta_engagement.csv`` (``engagement_id, engagement_short, engagement_name``)
  → :class:`~core.models.PolicyGroup` (code ``engagement_short``); commitments no policy
  refers to (the ``TODO`` placeholder) are not imported;
* ``metadata/meta_chantiers.csv`` (``chantier_id, ch_nom, engagement_short``) →
  :class:`~core.models.Policy` (kind ``priority_policy``, published, public);
* ``metadata/meta_indicateurs.csv`` (``indic_id, indic_parent_ch, indic_nom, indic_nom_baro,
  indic_descr, indic_descr_baro, tendance, indic_categorie_evolution``) →
  :class:`~core.models.Indicator` (name ``indic_nom`` or else ``indic_nom_baro``, direction
  from ``tendance`` hausse/baisse, public; created ones are not aggregated —
  ``aggregation_method = "none"`` — since the baromètre publishes every level's values);
* ``data/ind-<NNN>.csv`` (``indic_id, enforce_zone_id, metric_enforce_date, maille,
  indic_vi, indic_va, indic_vc, indic_ta``): each non-empty ``indic_vi``/``indic_va``/
  ``indic_vc`` is a baseline/actual/target value (a row may hold several); ``indic_ta`` is
  PILOTE's published rate, which Pilote recomputes and does not import. Rows with neither a
  date nor a value are placeholders: skipped and counted. An empty cell here only means
  "no such value on this row", it never erases anything.

Weights: the indicators of each policy get equal weights at the nation, region and
department levels (so that the policy's progress is computable), unless the weights of that
policy at a level were customised (not all equal): then existing weights are kept and an
indicator without one gets their mean.
"""

from __future__ import annotations

import csv
import decimal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.imports.pilote_format import parse_date, parse_number
from core.imports.report import ImportReport
from core.imports.service import IndicatorInfo, ParsedImport, ValueRow, folder_sha256
from core.imports.zones import normalise_level
from core.models import (
    Direction,
    Indicator,
    IndicatorWeight,
    Periodicity,
    Policy,
    PolicyGroup,
    PolicyStatus,
    ValueKind,
)

ENGAGEMENTS = "metadata/meta_engagement.csv"
CHANTIERS = "metadata/meta_chantiers.csv"
INDICATORS = "metadata/meta_indicateurs.csv"
DATA_COLUMNS = ("indic_id", "enforce_zone_id", "metric_enforce_date", "maille",
                "indic_vi", "indic_va", "indic_vc")
VALUE_COLUMNS = {"indic_vi": ValueKind.BASELINE, "indic_va": ValueKind.ACTUAL,
                 "indic_vc": ValueKind.TARGET}
ROLES = {
    column: {"indicator": "indic_id", "zone": "enforce_zone_id", "date": "metric_enforce_date",
             "kind": column, "value": column}
    for column in VALUE_COLUMNS
}
DIRECTIONS = {"hausse": Direction.INCREASE, "stable": Direction.INCREASE,
              "baisse": Direction.DECREASE}
WEIGHT_LEVELS = ("nation", "region", "department")
HUNDRED = decimal.Decimal(100)
CENT = decimal.Decimal("0.01")


def _read_csv(folder: Path, relative: str, required: tuple[str, ...],
              report: ImportReport) -> list[tuple[int, dict[str, str]]] | None:
    path = folder / relative
    if not path.is_file():
        report.problem(relative, None, None, None, "missing file")
        return None
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in required if c not in header]
            for column in missing:
                report.problem(relative, 1, column, None, "missing column")
            if missing:
                return None
            reader.fieldnames = header
            return [(n, {k: (v or "").strip() for k, v in row.items() if k is not None})
                    for n, row in enumerate(reader, start=2)]
    except UnicodeDecodeError as exc:
        report.problem(relative, None, None, None, f"not UTF-8 ({exc.reason} at offset {exc.start})")
        return None


@dataclass
class BarometreMetadata:
    """Commitments, policies and indicators of the folder, planned then applied."""

    engagements: dict[str, dict[str, Any]] = field(default_factory=dict)
    chantiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    indicators: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed_indicator_ids: set[int] = field(default_factory=set)

    # ------------------------------------------------------------------ plan (no writes)
    def plan(self, session: Session, report: ImportReport) -> dict[str, IndicatorInfo]:
        groups = {g.code: g for g in session.scalars(select(PolicyGroup))}
        policies = {p.code: p for p in session.scalars(select(Policy))}
        indicators = {i.code: i for i in session.scalars(select(Indicator))}
        used = {c["group"] for c in self.chantiers.values()}
        for code in sorted(set(self.engagements) - used):
            report.warnings.append(f"{ENGAGEMENTS}: commitment {code} is used by no policy: not imported")
        self.engagements = {k: v for k, v in self.engagements.items() if k in used}
        for code, chantier in self.chantiers.items():
            group = chantier["group"]
            if group and group not in self.engagements and group not in groups:
                report.problem(CHANTIERS, chantier["row"], "engagement_short", chantier["group"],
                               "unknown commitment (not in meta_engagement.csv)")
        for code, ind in self.indicators.items():
            if ind["policy"] not in self.chantiers and ind["policy"] not in policies:
                report.problem(INDICATORS, ind["row"], "indic_parent_ch", ind["policy"],
                               "unknown policy (not in meta_chantiers.csv)")
        report.metadata = {
            "policy_group": _diff(self.engagements, groups,
                                  lambda e, g: (g.name, g.position) == (e["name"], e["position"])),
            "policy": _diff(self.chantiers, policies, lambda c, p: p.name == c["name"] and (
                p.group.code if p.group else "") == c["group"]),
            "indicator": _diff(self.indicators, indicators, lambda i, x: (
                x.name, x.description, x.direction, x.policy.code) == (
                i["name"], i["description"], i["direction"], i["policy"])),
        }
        return {
            code: IndicatorInfo(code, indicators[code].id if code in indicators else None,
                                indicators[code].min_value if code in indicators else None,
                                indicators[code].max_value if code in indicators else None)
            for code in self.indicators
        }

    # ------------------------------------------------------------------ apply (writes)
    def apply(self, session: Session, report: ImportReport) -> dict[str, int]:
        groups = {g.code: g for g in session.scalars(select(PolicyGroup))}
        for code, e in self.engagements.items():
            group = groups.get(code)
            if group is None:
                group = groups[code] = PolicyGroup(code=code)
                session.add(group)
            group.name, group.position = e["name"], e["position"]
        session.flush()
        policies = {p.code: p for p in session.scalars(select(Policy))}
        for code, c in self.chantiers.items():
            policy = policies.get(code)
            if policy is None:
                policy = policies[code] = Policy(
                    code=code, kind="priority_policy", status=PolicyStatus.PUBLISHED,
                    is_public=True, is_territorialised=True)
                session.add(policy)
            if policy.name != c["name"]:
                policy.name = c["name"]
            group_id = groups[c["group"]].id if c["group"] else None
            if policy.group_id != group_id:
                policy.group_id = group_id
        session.flush()
        indicators = {i.code: i for i in session.scalars(
            select(Indicator).options(selectinload(Indicator.weights)))}
        for code, d in self.indicators.items():
            indicator = indicators.get(code)
            if indicator is None:
                indicator = indicators[code] = Indicator(
                    code=code, periodicity=Periodicity.MONTHLY, aggregation_method="none",
                    is_public=True, position=d["position"], weights=[],
                    calculation_method=d["calculation_method"])
                session.add(indicator)
            elif indicator.direction != d["direction"]:
                self.changed_indicator_ids.add(indicator.id)
            for attr, key in (("name", "name"), ("description", "description"),
                              ("direction", "direction")):
                if getattr(indicator, attr) != d[key]:
                    setattr(indicator, attr, d[key])
            policy_id = policies[d["policy"]].id
            if indicator.policy_id != policy_id:
                if indicator.id is not None:
                    self.changed_indicator_ids.add(indicator.id)
                indicator.policy_id = policy_id
        session.flush()
        self._equal_weights(session, {d["policy"] for d in self.indicators.values()})
        session.flush()
        return {code: indicators[code].id for code in self.indicators}

    def _equal_weights(self, session: Session, policy_codes: set[str]) -> None:
        levels = list(WEIGHT_LEVELS)
        if has_app_context() and "pilote" in current_app.extensions:
            levels = [lvl for lvl in levels if lvl in current_app.extensions["pilote"].config.level_keys]
        members = session.scalars(
            select(Indicator).join(Policy).where(Policy.code.in_(policy_codes))
            .options(selectinload(Indicator.weights))
        ).all()
        by_policy: dict[int, list[Indicator]] = {}
        for ind in members:
            by_policy.setdefault(ind.policy_id, []).append(ind)
        for inds in by_policy.values():
            equal = (HUNDRED / len(inds)).quantize(CENT)
            for level in levels:
                current = {ind.id: ind.weight_at(level) for ind in inds}
                known = {w for w in current.values() if w is not None}
                if len(known) <= 1:
                    target = {ind.id: equal for ind in inds}
                else:  # customised: keep, fill the missing ones with the mean
                    mean = (sum(known) / len(known)).quantize(CENT)
                    target = {i: (w if w is not None else mean) for i, w in current.items()}
                for ind in inds:
                    if current[ind.id] == target[ind.id]:
                        continue
                    existing = next((w for w in ind.weights if w.level == level), None)
                    if existing is None:
                        ind.weights.append(IndicatorWeight(level=level, weight=target[ind.id]))
                    else:
                        existing.weight = target[ind.id]
                    self.changed_indicator_ids.add(ind.id)


def _diff(wanted: dict[str, Any], existing: dict[str, Any], same) -> dict[str, int]:
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for code, item in wanted.items():
        if code not in existing:
            counts["created"] += 1
        elif same(item, existing[code]):
            counts["unchanged"] += 1
        else:
            counts["updated"] += 1
    return counts


def _read_metadata(folder: Path, report: ImportReport) -> BarometreMetadata:
    meta = BarometreMetadata()
    rows = _read_csv(folder, ENGAGEMENTS, ("engagement_id", "engagement_short", "engagement_name"), report)
    for n, r in rows or []:
        code = r["engagement_short"]
        if not code:
            report.problem(ENGAGEMENTS, n, "engagement_short", "", "missing commitment code")
            continue
        try:
            position = int(r["engagement_id"] or 0)
        except ValueError:
            report.problem(ENGAGEMENTS, n, "engagement_id", r["engagement_id"], "not an integer")
            position = 0
        meta.engagements[code] = {"name": r["engagement_name"][:300] or code, "position": position, "row": n}
    rows = _read_csv(folder, CHANTIERS, ("chantier_id", "ch_nom", "engagement_short"), report)
    for n, r in rows or []:
        code = r["chantier_id"]
        if not code:
            report.problem(CHANTIERS, n, "chantier_id", "", "missing policy code")
            continue
        if code in meta.chantiers:
            report.problem(CHANTIERS, n, "chantier_id", code,
                           f"duplicate policy (already on row {meta.chantiers[code]['row']})")
            continue
        if not r["ch_nom"]:
            report.problem(CHANTIERS, n, "ch_nom", "", "missing policy name")
        meta.chantiers[code] = {"name": r["ch_nom"][:300], "group": r["engagement_short"], "row": n}
    rows = _read_csv(folder, INDICATORS, ("indic_id", "indic_parent_ch", "indic_nom", "indic_nom_baro",
                                          "tendance"), report)
    for position, (n, r) in enumerate(rows or []):
        code = r["indic_id"]
        if not code:
            report.problem(INDICATORS, n, "indic_id", "", "missing indicator code")
            continue
        if code in meta.indicators:
            report.problem(INDICATORS, n, "indic_id", code,
                           f"duplicate indicator (already on row {meta.indicators[code]['row']})")
            continue
        name = r.get("indic_nom") or r.get("indic_nom_baro") or ""
        if not name:
            name = code
            report.warnings.append(f"{INDICATORS}:{n}: {code} has no name (indic_nom, indic_nom_baro): "
                                   "named after its code")
        direction = DIRECTIONS.get(r["tendance"].lower())
        if not r["tendance"]:
            direction = Direction.INCREASE
            report.warnings.append(f"{INDICATORS}:{n}: {code} has no tendance (PILOTE computes no "
                                   "rate then): increase assumed")
        elif direction is None:
            report.problem(INDICATORS, n, "tendance", r["tendance"],
                           "unknown direction (expected hausse or baisse)")
        evolution = r.get("indic_categorie_evolution", "")
        meta.indicators[code] = {
            "name": name[:300], "policy": r["indic_parent_ch"], "direction": direction,
            "description": r.get("indic_descr") or r.get("indic_descr_baro") or "",
            "position": position, "row": n,
            "calculation_method": (f"Valeurs cumulées ({evolution}) dans le baromètre"
                                   if evolution.startswith("cumul") else ""),
        }
    return meta


def parse_barometre(folder: Path) -> ParsedImport:
    """Read a baromètre folder (metadata, then data) without touching the database."""
    folder = Path(folder)
    report = ImportReport(format="barometre", filename=folder.name or str(folder))
    parsed = ParsedImport(report, tolerate_identical_duplicates=True)
    if not folder.is_dir():
        report.problem(str(folder), None, None, None, "not a folder")
        return parsed
    files = sorted((folder / "data").glob("ind-*.csv")) if (folder / "data").is_dir() else []
    metadata_files = sorted((folder / "metadata").glob("*.csv")) if (folder / "metadata").is_dir() else []
    report.file_hash = folder_sha256(folder, [*metadata_files, *files])
    parsed.metadata = _read_metadata(folder, report)
    if not files:
        report.problem("data", None, None, None, "no data/ind-*.csv file")
    rows = placeholders = without_value = 0
    for path in files:
        relative = path.relative_to(folder).as_posix()
        table = _read_csv(folder, relative, DATA_COLUMNS, report)
        for n, r in table or []:
            rows += 1
            present = [c for c in VALUE_COLUMNS if r.get(c)]
            if not r["metric_enforce_date"] and not present:
                placeholders += 1
                continue
            if not present:
                without_value += 1
                continue
            valid = True
            try:
                date = parse_date(r["metric_enforce_date"], iso_only=True)
            except ValueError as exc:
                valid, date = False, None
                report.problem(relative, n, "metric_enforce_date", r["metric_enforce_date"], str(exc))
            level = normalise_level(r["maille"])
            for column in present:
                try:
                    value = parse_number(r[column])
                    ok = valid
                except ValueError as exc:
                    value, ok = None, False
                    report.problem(relative, n, column, r[column], str(exc))
                parsed.rows.append(ValueRow(
                    file=relative, row=n, indicator=r["indic_id"], zone=r["enforce_zone_id"],
                    level=level, kind=VALUE_COLUMNS[column], date=date, value=value,
                    columns=ROLES[column], valid=ok,
                ))
    report.counts.update({"files": len(files), "rows": rows, "values": len(parsed.rows),
                          "placeholder_rows_skipped": placeholders})
    if without_value:
        report.counts["dated_rows_without_value_skipped"] = without_value
    return parsed
