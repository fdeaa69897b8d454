"""The all-or-nothing import runner, its dry run, and the revert of a whole import.

Every format is parsed into :class:`ValueRow` objects (one value each, with where it came
from), then :func:`run_import`:

1. checks everything: indicator known, zone known, kind, date, number, declared range, no
   duplicate (indicator, territory, kind, date) — collecting *every* problem;
2. if there is any problem, writes nothing and returns the report;
3. computes the preview (created/updated/unchanged/erased/skipped per indicator) by comparing
   with the stored values — nothing is written for that, so a dry run stops here;
4. otherwise, in one transaction: records an :class:`~core.models.ImportBatch` (format, file
   name, SHA-256, author, counts), writes the format's metadata if any (baromètre), and writes
   the values through :func:`core.engine.values.save_values` (the single write path, which
   appends revisions pointing to the batch and recomputes the figures). Any error rolls back
   everything.

Targets without an explicit scope get one: per (indicator, territory), the latest-dated target
of the file is ``final`` (unless a later target is already stored), the others ``annual``.

:func:`revert_import` undoes an applied import as a whole, through the same write path.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.engine.values import CHUNK, ConflictError, ValueInput, save_values
from core.imports.report import COUNT_KEYS, ImportReport
from core.imports.zones import ZoneResolver
from core.models import (
    Channel,
    ImportBatch,
    Indicator,
    IndicatorValue,
    IndicatorValueRevision,
    TargetScope,
    Territory,
    ValueKind,
)

FORMATS = ("pilote", "barometre", "native")
SAMPLE_SIZE = 50
DECIMALS = 8  # the precision of stored values (ExactDecimal: NUMERIC(28, 8))
QUANTUM = decimal.Decimal(1).scaleb(-DECIMALS)
MAX_VALUE = decimal.Decimal(10) ** 20


@dataclass(slots=True)
class ValueRow:
    """One value read from a file. ``columns`` maps roles (indicator, zone, kind, date, value)
    to the file's column names, for problem locations. ``valid`` is False when a cell of the
    row could not be read (the parser already reported it); ``reported`` names the roles
    (``indicator``, ``zone``) not to report again."""

    file: str
    row: int
    indicator: str
    zone: str
    level: str | None
    kind: ValueKind | None
    date: dt.date | None
    value: decimal.Decimal | None
    columns: Mapping[str, str]
    target_scope: TargetScope | None = None
    source: str = ""
    valid: bool = True
    reported: frozenset[str] = frozenset()  # roles whose cell the parser already reported


@dataclass
class IndicatorInfo:
    """What validation needs to know of an indicator (``id`` None: created by this import)."""

    code: str
    id: int | None
    min_value: decimal.Decimal | None = None
    max_value: decimal.Decimal | None = None


class MetadataStep(Protocol):
    """Metadata a format brings along (the baromètre's policies and indicators)."""

    def plan(self, session: Session, report: ImportReport) -> dict[str, IndicatorInfo]:
        """Check the metadata against the database without writing; return the indicators it
        defines (new ones with ``id`` None) and fill ``report.metadata``."""

    def apply(self, session: Session, report: ImportReport) -> dict[str, int]:
        """Write the metadata; return indicator code → id; fill ``changed_indicator_ids``."""

    changed_indicator_ids: set[int]


@dataclass
class ParsedImport:
    """A file read by a format's parser. ``tolerate_identical_duplicates``: a row repeating
    another row's value (same indicator, territory, kind, date and value) is ignored with a
    warning instead of being a problem — for published exports the user cannot fix."""

    report: ImportReport
    rows: list[ValueRow] = field(default_factory=list)
    metadata: MetadataStep | None = None
    tolerate_identical_duplicates: bool = False


@dataclass(slots=True)
class _Resolved:
    file: str
    row: int
    code: str
    territory_id: int
    kind: ValueKind
    date: dt.date
    value: decimal.Decimal | None
    target_scope: TargetScope | None
    source: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_sha256(folder: Path, files: Iterable[Path]) -> str:
    """A folder's hash: SHA-256 of the sorted ``<relative path> <file sha256>`` lines."""
    lines = sorted(f"{p.relative_to(folder).as_posix()} {file_sha256(p)}" for p in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# --------------------------------------------------------------------------- entry points
def parse_file(format: str, path: str | Path) -> ParsedImport:
    """Read ``path`` in ``format`` (``pilote``, ``barometre``, ``native``) without a database."""
    path = Path(path)
    if format == "pilote":
        from core.imports.pilote_format import parse_pilote

        return parse_pilote(path)
    if format == "barometre":
        from core.imports.barometre import parse_barometre

        return parse_barometre(path)
    if format == "native":
        from core.imports.native import parse_native

        return parse_native(path)
    raise ValueError(f"unknown import format {format!r}; expected one of {', '.join(FORMATS)}")


def import_file(session: Session, format: str, path: str | Path, **options: Any) -> ImportReport:
    """Parse then :func:`run_import` (same options)."""
    started = time.perf_counter()
    parsed = parse_file(format, path)
    parse_seconds = time.perf_counter() - started
    report = run_import(session, parsed, **options)
    report.seconds["parse"] = round(parse_seconds, 3)
    return report


def run_import(
    session: Session,
    parsed: ParsedImport,
    *,
    dry_run: bool = False,
    erase_empty: bool = False,
    author_id: int | None = None,
    author_label: str = "",
    today: dt.date | None = None,
    commit: bool = True,
) -> ImportReport:
    """Validate everything, then apply all of it or nothing (see the module docstring).

    With ``commit`` (the default) the transaction is committed on success and rolled back
    on failure; without it the caller decides (the writes are still all in one transaction).
    """
    report = parsed.report
    report.dry_run = dry_run
    started = time.perf_counter()
    catalog = _catalog(session)
    if parsed.metadata is not None:
        catalog.update(parsed.metadata.plan(session, report))
    resolved = _validate(session, parsed.rows, catalog, report, parsed.tolerate_identical_duplicates)
    report.seconds["validate"] = round(time.perf_counter() - started, 3)
    if report.problems:
        report.problems.sort(key=lambda p: (p.file, p.row or 0))  # stable: a row's own order
        return report
    _assign_target_scopes(session, resolved, catalog)
    _preview(session, resolved, catalog, erase_empty, report)
    if report.file_hash:
        for number, when in session.execute(
                select(ImportBatch.id, ImportBatch.created_at)
                .where(ImportBatch.file_hash == report.file_hash, ImportBatch.reverted_at.is_(None))
                .order_by(ImportBatch.id)):
            report.warnings.append(
                f"the same file was already imported as #{number} on {when:%Y-%m-%d %H:%M} UTC")
    if dry_run:
        return report

    started = time.perf_counter()
    try:
        batch = ImportBatch(format=report.format, filename=report.filename[:300],
                            file_hash=report.file_hash, author_id=author_id,
                            author_label=author_label[:254], counts={})
        session.add(batch)
        session.flush()
        ids = {code: info.id for code, info in catalog.items() if info.id is not None}
        changed: set[int] = set()
        if parsed.metadata is not None:
            ids.update(parsed.metadata.apply(session, report))
            changed = set(parsed.metadata.changed_indicator_ids)
        entries = [
            ValueInput(ids[r.code], r.territory_id, r.kind, r.date, r.value,
                       target_scope=r.target_scope, source=r.source)
            for r in resolved
        ]
        saved = save_values(session, entries, channel=Channel.IMPORT, author_id=author_id,
                            import_id=batch.id, erase_empty=erase_empty, recompute=True, today=today)
        touched = {indicator_id for indicator_id, _ in saved.touched}
        if changed - touched:  # metadata changed (direction, weights) without a value change
            from core.engine.recompute import recompute

            recompute(session, indicator_ids=changed - touched, today=today)
        report.counts.update(saved.as_dict())
        batch.counts = {**{k: v for k, v in report.counts.items()},
                        "indicators": len(report.preview),
                        **{f"{kind}_{k}": v for kind, c in report.metadata.items() for k, v in c.items()}}
        session.flush()
        report.batch_id = batch.id
        if commit:
            session.commit()
        report.applied = True
    except ConflictError as exc:
        session.rollback()
        report.problem(report.filename, None, None, None,
                       f"a value changed while importing, nothing was written: {exc}")
    except Exception:
        session.rollback()
        raise
    report.seconds["write_and_recompute"] = round(time.perf_counter() - started, 3)
    return report


# --------------------------------------------------------------------------- validation
def _catalog(session: Session) -> dict[str, IndicatorInfo]:
    return {
        code: IndicatorInfo(code, iid, lo, hi)
        for iid, code, lo, hi in session.execute(
            select(Indicator.id, Indicator.code, Indicator.min_value, Indicator.max_value))
    }


def _lookup(catalog: dict[str, IndicatorInfo], upper: dict[str, str], code: str) -> IndicatorInfo | None:
    info = catalog.get(code)
    if info is None and code.upper() in upper:
        info = catalog[upper[code.upper()]]
    return info


def _validate(session: Session, rows: list[ValueRow], catalog: dict[str, IndicatorInfo],
              report: ImportReport, tolerate_identical: bool = False) -> list[_Resolved]:
    resolver = ZoneResolver(session)
    upper = {code.upper(): code for code in catalog}
    seen: dict[tuple, ValueRow] = {}
    out: list[_Resolved] = []
    rounded = repeated = 0
    for r in rows:
        cols = r.columns
        ok = r.valid
        info = _lookup(catalog, upper, r.indicator) if r.indicator else None
        if info is None:
            ok = False
            if "indicator" not in r.reported:
                report.problem(r.file, r.row, cols.get("indicator"), r.indicator,
                               "unknown indicator" if r.indicator else "missing indicator")
        tid, reason = resolver.try_resolve(r.zone, r.level)
        if tid is None:
            ok = False
            if "zone" not in r.reported:
                report.problem(r.file, r.row, cols.get("zone"), r.zone, reason)
        if r.value is not None and abs(r.value) >= MAX_VALUE:
            ok = False
            report.problem(r.file, r.row, cols.get("value"), _plain(r.value),
                           "too large (at most 20 digits before the decimal mark)")
        elif r.value is not None and r.value.as_tuple().exponent < -DECIMALS:
            kept = r.value.quantize(QUANTUM, rounding=decimal.ROUND_HALF_UP)
            rounded += kept != r.value
            r.value = kept
        if info is not None and r.value is not None:
            if info.min_value is not None and r.value < info.min_value or \
                    info.max_value is not None and r.value > info.max_value:
                ok = False
                low = "−∞" if info.min_value is None else _plain(info.min_value)
                high = "+∞" if info.max_value is None else _plain(info.max_value)
                report.problem(r.file, r.row, cols.get("value"), _plain(r.value),
                               f"out of the declared range of {info.code} ({low} to {high})")
        if r.kind is not None and r.date is not None:
            key = ((info.code if info else r.indicator.upper()),
                   tid if tid is not None else (r.zone.strip().upper(), r.level),
                   r.kind, r.date)
            first = seen.get(key)
            if first is None:
                seen[key] = r
            elif tolerate_identical and ok and first.valid and first.value == r.value:
                repeated += 1
                continue
            else:
                ok = False
                where = f"row {first.row}" if first.file == r.file else f"{first.file}:{first.row}"
                report.problem(r.file, r.row, None, None,
                               f"duplicate row: same indicator, zone, date and type as {where}")
        if ok and info is not None and tid is not None:
            out.append(_Resolved(r.file, r.row, info.code, tid, r.kind, r.date, r.value,
                                 r.target_scope, r.source))
    if repeated:
        report.warnings.append(f"{repeated} duplicate row(s) repeating the same value: ignored")
    if rounded:
        report.warnings.append(f"{rounded} value(s) had more than {DECIMALS} decimals: rounded to "
                               f"{DECIMALS} (what Pilote stores)")
    return out


def _plain(value: decimal.Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _territory_key(session: Session, territory_id: int) -> str:
    level, code = session.execute(select(Territory.level, Territory.code)
                                  .where(Territory.id == territory_id)).one()
    return f"{level}-{code}"


def _assign_target_scopes(session: Session, rows: list[_Resolved],
                          catalog: dict[str, IndicatorInfo]) -> None:
    latest: dict[tuple[str, int], dt.date] = {}
    for r in rows:
        if r.kind == ValueKind.TARGET and r.target_scope is None and r.value is not None:
            key = (r.code, r.territory_id)
            if key not in latest or r.date > latest[key]:
                latest[key] = r.date
    if not latest:
        return
    stored: dict[tuple[int, int], dt.date] = {}
    ids = sorted({catalog[code].id for code, _ in latest if catalog[code].id is not None})
    for start in range(0, len(ids), CHUNK):
        stored.update({
            (i, t): d for i, t, d in session.execute(
                select(IndicatorValue.indicator_id, IndicatorValue.territory_id,
                       func.max(IndicatorValue.date))
                .where(IndicatorValue.indicator_id.in_(ids[start:start + CHUNK]),
                       IndicatorValue.kind == ValueKind.TARGET, IndicatorValue.value.is_not(None))
                .group_by(IndicatorValue.indicator_id, IndicatorValue.territory_id))
        })
    for r in rows:
        if r.kind != ValueKind.TARGET or r.target_scope is not None:
            continue
        key = (r.code, r.territory_id)
        last = latest.get(key)
        before = stored.get((catalog[r.code].id, r.territory_id))
        final = last is not None and r.date == last and (before is None or before <= last)
        r.target_scope = TargetScope.FINAL if final else TargetScope.ANNUAL


def _preview(session: Session, rows: list[_Resolved], catalog: dict[str, IndicatorInfo],
             erase_empty: bool, report: ImportReport) -> None:
    """What the import would do, per indicator, computed by comparing with stored values
    (the same decisions as ``save_values``), without writing anything."""
    ids = sorted({catalog[r.code].id for r in rows if catalog[r.code].id is not None})
    stored: dict[tuple, tuple[decimal.Decimal | None, TargetScope | None]] = {}
    for start in range(0, len(ids), CHUNK):
        for i, t, k, d, v, s in session.execute(
            select(IndicatorValue.indicator_id, IndicatorValue.territory_id, IndicatorValue.kind,
                   IndicatorValue.date, IndicatorValue.value, IndicatorValue.target_scope)
            .where(IndicatorValue.indicator_id.in_(ids[start:start + CHUNK]))
        ):
            stored[(i, t, ValueKind(k), d)] = (v, s)
    preview: dict[str, dict[str, int]] = {}
    keys: dict[int, str] = {}
    for r in rows:
        counts = preview.setdefault(r.code, dict.fromkeys(COUNT_KEYS, 0))
        current = stored.get((catalog[r.code].id, r.territory_id, r.kind, r.date))
        if r.value is None and (not erase_empty or current is None):
            outcome = "skipped_empty"
        elif current is None:
            outcome = "created"
        elif current[0] == r.value and current[1] == r.target_scope:
            outcome = "unchanged"
        elif r.value is None:
            outcome = "erased"
        else:
            outcome = "updated"
        counts[outcome] += 1
        if len(report.sample) < SAMPLE_SIZE:
            keys[r.territory_id] = keys.get(r.territory_id) or _territory_key(session, r.territory_id)
            report.sample.append({
                "file": r.file, "row": r.row, "indicator": r.code, "territory": keys[r.territory_id],
                "kind": r.kind.value, "date": r.date.isoformat(),
                "value": None if r.value is None else _plain(r.value),
                "target_scope": r.target_scope.value if r.target_scope else None,
                "previous": None if current is None or current[0] is None else _plain(current[0]),
                "outcome": outcome,
            })
    report.preview = preview
    report.counts.update(report.totals())


# --------------------------------------------------------------------------- listing, revert
def list_imports(session: Session, limit: int = 50) -> list[ImportBatch]:
    return list(session.scalars(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(limit)))


def revert_import(
    session: Session,
    batch_id: int,
    author_id: int | None = None,
    *,
    today: dt.date | None = None,
    commit: bool = True,
) -> ImportReport:
    """Undo import ``batch_id`` as a whole: every value it wrote gets back the value of the
    revision before (a value it created is erased), through ``save_values``; the batch is
    marked reverted. Refused — nothing written — if the batch does not exist, was already
    reverted, or if any value it wrote was written again since (each one is reported).

    Only values are reverted: policies and indicators a baromètre import created stay.
    """
    report = ImportReport(format="revert", filename=f"import #{batch_id}")
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        report.problem(report.filename, None, None, None, "no such import")
        return report
    report.filename = f"import #{batch_id} ({batch.format} {batch.filename})"
    if batch.reverted_at is not None:
        report.problem(report.filename, None, None, None,
                       f"already reverted on {batch.reverted_at:%Y-%m-%d %H:%M} UTC")
        return report
    written = {
        vid: (lo, hi) for vid, lo, hi in session.execute(
            select(IndicatorValueRevision.value_id, func.min(IndicatorValueRevision.revision),
                   func.max(IndicatorValueRevision.revision))
            .where(IndicatorValueRevision.import_id == batch_id)
            .group_by(IndicatorValueRevision.value_id))
    }
    value_ids = sorted(written)
    previous: dict[int, IndicatorValueRevision] = {}
    later: dict[int, IndicatorValueRevision] = {}
    for start in range(0, len(value_ids), CHUNK):
        for rev in session.scalars(select(IndicatorValueRevision).where(
                IndicatorValueRevision.value_id.in_(value_ids[start:start + CHUNK]))):
            lo, hi = written[rev.value_id]
            if rev.revision == lo - 1:
                previous[rev.value_id] = rev
            elif rev.revision > hi and (rev.value_id not in later
                                        or rev.revision > later[rev.value_id].revision):
                later[rev.value_id] = rev
    current: dict[int, IndicatorValue] = {}
    for start in range(0, len(value_ids), CHUNK):
        current.update({v.id: v for v in session.scalars(select(IndicatorValue).where(
            IndicatorValue.id.in_(value_ids[start:start + CHUNK])))})
    if later:
        codes = dict(session.execute(select(Indicator.id, Indicator.code)).all())
        keys = dict(session.execute(select(Territory.id, Territory.level + "-" + Territory.code)
                                    .where(Territory.id.in_({current[v].territory_id for v in later}))).all())
        for vid in sorted(later, key=lambda v: (current[v].indicator_id, current[v].territory_id,
                                               current[v].kind.value, current[v].date)):
            rev, value = later[vid], current[vid]
            how = f"import #{rev.import_id}" if rev.import_id else rev.channel.value
            report.problem(
                report.filename, None, None, None,
                f"{codes.get(value.indicator_id)} {keys.get(value.territory_id)} "
                f"{value.kind.value} {value.date}: written again after this import "
                f"(revision {rev.revision}, {how}, {rev.recorded_at:%Y-%m-%d %H:%M} UTC)")
        return report
    entries = []
    for vid in value_ids:
        value, before = current[vid], previous.get(vid)
        entries.append(ValueInput(
            value.indicator_id, value.territory_id, value.kind, value.date,
            before.value if before is not None else None,
            target_scope=value.target_scope, source=before.source if before is not None else "",
        ))
    try:
        saved = save_values(session, entries, channel=Channel.IMPORT, author_id=author_id,
                            erase_empty=True, recompute=True, today=today)
        batch.reverted_at = utcnow()
        batch.reverted_by_id = author_id
        batch.counts = {**(batch.counts or {}), "reverted": saved.as_dict()}
        session.flush()
        if commit:
            session.commit()
    except Exception:
        session.rollback()
        raise
    report.counts.update({"values": len(entries), **saved.as_dict()})
    report.batch_id = batch_id
    report.applied = True
    return report
