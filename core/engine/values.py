"""The single write path of indicator values: form, import and API all come through here.

Each changed value updates its current row (``indicator_value``) and appends a revision
(``indicator_value_revision``) carrying its provenance. Unchanged values write nothing. An
empty value is ignored unless the caller asks to erase (then the value becomes None, with a
revision, so history keeps what was there). A caller holding a version (a form) gets a
:class:`ConflictError` instead of overwriting someone else's change.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from core.audit import record_bulk
from core.db import utcnow
from core.events import emit
from core.models import Channel, IndicatorValue, IndicatorValueRevision, TargetScope, ValueKind

CHUNK = 5000


@dataclass(frozen=True)
class ValueInput:
    """One value to write. ``expected_version`` (from a form) guards against lost updates."""

    indicator_id: int
    territory_id: int
    kind: ValueKind
    date: dt.date
    value: decimal.Decimal | None
    target_scope: TargetScope | None = None
    source: str = ""
    expected_version: int | None = None


@dataclass
class SaveReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    erased: int = 0
    skipped_empty: int = 0
    touched: set[tuple[int, int]] = field(default_factory=set)  # (indicator_id, territory_id)

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "erased": self.erased, "skipped_empty": self.skipped_empty}


class ConflictError(Exception):
    """Someone saved the value since the caller read it; nothing was written."""

    def __init__(self, entry: ValueInput, current: IndicatorValue):
        self.entry = entry
        self.current_value = current.value
        self.current_version = current.version
        self.current_author_id = current.author_id
        self.current_recorded_at = current.recorded_at
        super().__init__(
            f"value of indicator {entry.indicator_id} in territory {entry.territory_id} on "
            f"{entry.date} was changed (version {current.version}, expected {entry.expected_version})"
        )


def _key(indicator_id, territory_id, kind, date):
    return (indicator_id, territory_id, ValueKind(kind), date)


def save_values(
    session: Session,
    entries: Iterable[ValueInput],
    *,
    channel: Channel,
    author_id: int | None = None,
    import_id: int | None = None,
    erase_empty: bool = False,
    recompute: bool = True,
    today: dt.date | None = None,
    note: str = "",
) -> SaveReport:
    """Write ``entries`` in the session's transaction (the caller commits).

    Later entries for the same (indicator, territory, kind, date) win within one call. With
    ``recompute``, the roll-ups and figures that depend on the written values are updated
    before returning, so that the next read sees them.
    """
    latest: dict[tuple, ValueInput] = {}
    for entry in entries:
        latest[_key(entry.indicator_id, entry.territory_id, entry.kind, entry.date)] = entry
    report = SaveReport()
    now = utcnow()
    existing = _existing(session, latest)

    new_rows, changed, revisions_for_existing = [], [], []
    for key, entry in latest.items():
        current = existing.get(key)
        value = None if entry.value is None else decimal.Decimal(entry.value)
        if current is not None and entry.expected_version is not None \
                and current.version != entry.expected_version:
            raise ConflictError(entry, current)
        if value is None and not erase_empty:
            report.skipped_empty += 1
            continue
        if current is None:
            if value is None:
                report.skipped_empty += 1
                continue
            new_rows.append(dict(
                indicator_id=entry.indicator_id, territory_id=entry.territory_id, kind=entry.kind,
                target_scope=entry.target_scope, date=entry.date, value=value, source=entry.source,
                channel=channel, author_id=author_id, recorded_at=now, version=1,
            ))
            report.created += 1
        elif current.value == value and current.target_scope == entry.target_scope:
            report.unchanged += 1
            continue
        else:
            changed.append(dict(
                id=current.id, value=value, target_scope=entry.target_scope, source=entry.source,
                channel=channel, author_id=author_id, recorded_at=now, version=current.version + 1,
                old_version=current.version,
            ))
            revisions_for_existing.append((current.id, value, entry.source))
            if value is None:
                report.erased += 1
            else:
                report.updated += 1
        report.touched.add((entry.indicator_id, entry.territory_id))

    _insert_new(session, new_rows, channel, author_id, import_id, now, note)
    _update_changed(session, changed)
    _append_revisions(session, revisions_for_existing, channel, author_id, import_id, now, note)
    if new_rows or changed:
        record_bulk(session, "indicator_value", str(import_id or ""),
                    {"channel": channel.value, **report.as_dict()})
        emit(session, "values_saved", pairs=sorted(report.touched), channel=channel.value,
             import_id=import_id)
    if recompute and report.touched:
        from core.engine.recompute import recompute as run

        run(session, report.touched, today=today)
    return report


def _existing(session, latest: dict[tuple, ValueInput]) -> dict[tuple, IndicatorValue]:
    """The stored rows for these keys: one query per chunk of indicators (indexed), filtered
    to the wanted keys in Python (a tuple IN over thousands of keys plans badly)."""
    wanted = defaultdict(set)
    for indicator_id, territory_id, _, _ in latest:
        wanted[indicator_id].add(territory_id)
    existing: dict[tuple, IndicatorValue] = {}
    indicator_ids = sorted(wanted)
    for start in range(0, len(indicator_ids), 50):
        chunk = indicator_ids[start:start + 50]
        territory_ids = sorted(set().union(*(wanted[i] for i in chunk)))
        query = select(IndicatorValue).where(IndicatorValue.indicator_id.in_(chunk))
        if len(territory_ids) <= 1000:
            query = query.where(IndicatorValue.territory_id.in_(territory_ids))
        for row in session.scalars(query):
            key = _key(row.indicator_id, row.territory_id, row.kind, row.date)
            if key in latest:
                existing[key] = row
    return existing


def _insert_new(session, rows, channel, author_id, import_id, now, note) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        ids = session.scalars(
            insert(IndicatorValue).returning(IndicatorValue.id, sort_by_parameter_order=True), chunk
        ).all()
        session.execute(insert(IndicatorValueRevision), [
            dict(value_id=value_id, revision=1, value=r["value"], source=r["source"], channel=channel,
                 author_id=author_id, recorded_at=now, import_id=import_id, note=note)
            for value_id, r in zip(ids, chunk)
        ])


_UPDATE = (
    update(IndicatorValue.__table__)
    .where(IndicatorValue.__table__.c.id == bindparam("b_id"),
           IndicatorValue.__table__.c.version == bindparam("b_old_version"))
    .values({name: bindparam(f"b_{name}") for name in (
        "value", "target_scope", "source", "channel", "author_id", "recorded_at", "version")})
)


def _update_changed(session, rows) -> None:
    """Update in bulk, each row only if nobody changed it since it was read (its version)."""
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        params = [{f"b_{k}": v for k, v in row.items()} for row in chunk]
        result = session.connection().execute(_UPDATE, params)
        if result.rowcount == len(chunk):
            continue
        for row in chunk:  # find the row a concurrent transaction changed
            current = session.get(IndicatorValue, row["id"], populate_existing=True)
            if current.version != row["version"]:
                raise ConflictError(
                    ValueInput(current.indicator_id, current.territory_id, current.kind, current.date,
                               row["value"], expected_version=row["old_version"]), current)
    if rows:
        session.expire_all()  # the ORM's copies of updated rows are stale


def _append_revisions(session, items, channel, author_id, import_id, now, note) -> None:
    if not items:
        return
    last = defaultdict(int)
    ids = [value_id for value_id, _, _ in items]
    for start in range(0, len(ids), CHUNK):
        for value_id, revision in session.execute(
            select(IndicatorValueRevision.value_id, func.max(IndicatorValueRevision.revision))
            .where(IndicatorValueRevision.value_id.in_(ids[start:start + CHUNK]))
            .group_by(IndicatorValueRevision.value_id)
        ):
            last[value_id] = revision
    session.execute(insert(IndicatorValueRevision), [
        dict(value_id=value_id, revision=last[value_id] + 1, value=value, source=source,
             channel=channel, author_id=author_id, recorded_at=now, import_id=import_id, note=note)
        for value_id, value, source in items
    ])
