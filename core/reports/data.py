"""The data behind a report's sections, read in a few set-based queries per report."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.models import AggregatedValue, Comment, IndicatorValue, Territory, ValueKind, WeatherReport


def actual_series(session: Session, indicator_ids: Iterable[int], territory_ids: Iterable[int],
                  start: dt.date, end: dt.date) -> dict[tuple[int, int], list[tuple[dt.date, Decimal | None]]]:
    """(indicator, territory) → dated actual values in [start, end]: entered values, else the
    roll-up of the children (an entered value wins on the same date)."""
    indicator_ids, territory_ids = sorted(set(indicator_ids)), sorted(set(territory_ids))
    points: dict[tuple[int, int], dict[dt.date, Decimal | None]] = defaultdict(dict)
    if not indicator_ids or not territory_ids:
        return {}
    for model in (AggregatedValue, IndicatorValue):  # entered values last: they win
        rows = session.execute(
            select(model.indicator_id, model.territory_id, model.date, model.value)
            .where(model.indicator_id.in_(indicator_ids), model.territory_id.in_(territory_ids),
                   model.kind == ValueKind.ACTUAL, model.date >= start, model.date <= end))
        for iid, tid, date, value in rows:
            points[(iid, tid)][date] = value
    return {key: sorted(values.items()) for key, values in points.items()}


def weather_history(session: Session, policy_ids: Iterable[int], territory_ids: Iterable[int],
                    end: dt.date) -> dict[tuple[int, int], list[WeatherReport]]:
    """(policy, territory) → weather reports up to ``end`` included, newest first."""
    limit = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    out: dict[tuple[int, int], list[WeatherReport]] = defaultdict(list)
    rows = session.scalars(
        select(WeatherReport).options(selectinload(WeatherReport.author))
        .where(WeatherReport.policy_id.in_(sorted(set(policy_ids))),
               WeatherReport.territory_id.in_(sorted(set(territory_ids))),
               WeatherReport.created_at < limit)
        .order_by(WeatherReport.created_at.desc(), WeatherReport.id.desc()))
    for report in rows:
        out[(report.policy_id, report.territory_id)].append(report)
    return out


def comments_in(session: Session, policy_ids: Iterable[int], territory_ids: Iterable[int],
                start: dt.date, end: dt.date) -> dict[tuple[int, int], list[Comment]]:
    """(policy, territory) → top-level comments written in [start, end], newest first (their
    replies are reachable through ``replies``)."""
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
    out: dict[tuple[int, int], list[Comment]] = defaultdict(list)
    rows = session.scalars(
        select(Comment).options(selectinload(Comment.replies), selectinload(Comment.author))
        .where(Comment.policy_id.in_(sorted(set(policy_ids))),
               Comment.territory_id.in_(sorted(set(territory_ids))), Comment.parent_id.is_(None),
               Comment.created_at >= since, Comment.created_at < until)
        .order_by(Comment.created_at.desc(), Comment.id.desc()))
    for comment in rows:
        out[(comment.policy_id, comment.territory_id)].append(comment)
    return out


def descendants_at(session: Session, root: Territory, level: str) -> list[Territory]:
    """The current territories of ``level`` inside ``root`` (all of them when ``root`` is a top)."""
    candidates = session.scalars(select(Territory).where(Territory.level == level,
                                                         Territory.valid_to.is_(None))
                                 .order_by(Territory.code)).all()
    if root.parent_id is None:
        return [t for t in candidates if t.grid == root.grid]
    parents = dict(session.execute(select(Territory.id, Territory.parent_id)).all())

    def inside(territory: Territory) -> bool:
        node, seen = territory.parent_id, set()
        while node is not None and node not in seen:
            if node == root.id:
                return True
            seen.add(node)
            node = parents.get(node)
        return False

    return [t for t in candidates if inside(t)]
