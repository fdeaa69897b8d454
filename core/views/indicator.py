"""The indicator card: metadata, last value with its author, and the full revision history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from flask import Blueprint, abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.db import session as db_session
from core.models import (
    Channel,
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    IndicatorValueRevision,
    User,
    ValueKind,
)
from core.permissions import public, require

bp = Blueprint("indicator", __name__)


@dataclass(frozen=True)
class HistoryLine:
    """One write of a value: what it was before, what it became, who, when and how."""

    kind: ValueKind
    date: dt.date
    old: Decimal | None
    new: Decimal | None
    author: str | None
    recorded_at: dt.datetime
    channel: Channel
    source: str
    note: str
    first: bool  # the value's first revision (no "old" value)


def value_history(session: Session, indicator_id: int, territory_id: int, limit: int = 500
                  ) -> list[HistoryLine]:
    """Every revision of the indicator's values in the territory, newest first."""
    rows = session.execute(
        select(IndicatorValueRevision, IndicatorValue.kind, IndicatorValue.date, User.name)
        .join(IndicatorValue, IndicatorValue.id == IndicatorValueRevision.value_id)
        .outerjoin(User, User.id == IndicatorValueRevision.author_id)
        .where(IndicatorValue.indicator_id == indicator_id, IndicatorValue.territory_id == territory_id)
        .order_by(IndicatorValueRevision.value_id, IndicatorValueRevision.revision)).all()
    previous: dict[int, Decimal | None] = {}
    lines = []
    for revision, kind, date, author in rows:
        first = revision.value_id not in previous
        lines.append(HistoryLine(kind, date, previous.get(revision.value_id), revision.value, author,
                                 revision.recorded_at, revision.channel, revision.source,
                                 revision.note, first))
        previous[revision.value_id] = revision.value
    lines.sort(key=lambda line: (line.recorded_at, line.date), reverse=True)
    return lines[:limit]


@bp.route("/indicateurs/<code>")
@public  # the object checks below decide (public indicators are readable anonymously)
def card(code: str):
    from core.views.pages import selected_territory, territory_choices

    session = db_session()
    indicator = session.scalar(select(Indicator).where(Indicator.code == code)
                               .options(selectinload(Indicator.policy), selectinload(Indicator.weights)))
    if indicator is None:
        abort(404)
    require("indicator.read", indicator)
    territory = selected_territory()
    require("territory.read", territory)
    figure = session.scalar(select(IndicatorFigure).where(
        IndicatorFigure.indicator_id == indicator.id, IndicatorFigure.territory_id == territory.id))
    last = session.scalar(
        select(IndicatorValue).where(IndicatorValue.indicator_id == indicator.id,
                                     IndicatorValue.territory_id == territory.id,
                                     IndicatorValue.kind == ValueKind.ACTUAL,
                                     IndicatorValue.value.is_not(None))
        .options(selectinload(IndicatorValue.author))
        .order_by(IndicatorValue.date.desc()).limit(1))
    return render_template(
        "pages/indicator.html", indicator=indicator, policy=indicator.policy, territory=territory,
        territories=territory_choices(), figure=figure, last=last,
        history=value_history(session, indicator.id, territory.id),
    )
