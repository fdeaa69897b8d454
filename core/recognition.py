"""Recognition of the local level: what a territory contributed (values entered, comments,
weather reports, entries made on time) and what it achieved (progress since the baseline,
indicators whose final target is met, best improvements over the year); and the local
successes a central referent features on a policy's national page.

Conventions:

* **Window**: the 12 months of the completeness report (:func:`core.engine.completeness.default_window`).
* **Values entered**: revisions written through a form, an import or the API (not the initial
  load nor computed values) on the territory and the territories below it.
* **On time**: an expected period (completeness) whose value was first recorded no later than
  its due date; rate = 100 × on time / expected, rounded half-up to 1 decimal. Periods whose
  value came with the initial load (channel ``seed``) are left out: when it was entered is unknown.
* **Improvement over the year**: the latest actual value against the latest actual value dated
  at least one year earlier (entered, else aggregated), as a relative change, sign turned so that
  a positive number is always an improvement (indicators that should go down).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from core.activity import subtree_ids
from core.engine.completeness import CompletenessReport, completion_rate, periods
from core.models import (
    AggregatedValue,
    Channel,
    Comment,
    Direction,
    FeaturedComment,
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    IndicatorValueRevision,
    Policy,
    Territory,
    ValueKind,
    WeatherReport,
)

HIGHLIGHT_KEYS = ("results_to_highlight", "actions_to_highlight", "highlight")
ENTERED = (Channel.FORM, Channel.IMPORT, Channel.API)
TENTH = Decimal("0.1")


def highlight_type() -> str | None:
    """The instance's comment type for results/actions to highlight, if any."""
    keys = [t["key"] for t in current_app.extensions["pilote"].config.data.get("comment_types", [])]
    for key in HIGHLIGHT_KEYS:
        if key in keys:
            return key
    return next((k for k in keys if "highlight" in k), None)


# --------------------------------------------------------------------------- contributions
def contributions(session: Session, territory: Territory, policy_ids: list[int],
                  report: CompletenessReport | None, today: dt.date,
                  visible: set[int] | None = None) -> dict:
    """Values entered, comments and weather reports over the last 12 months in the territory's
    subtree (only the ``visible`` territories when given), and the on-time rate of the expected
    entries."""
    start = report.start if report else today.replace(year=today.year - 1)
    since = dt.datetime.combine(start, dt.time(), tzinfo=dt.timezone.utc)
    subtree = subtree_ids(session, territory, whole=True)  # None: every territory
    if visible is not None:
        subtree = set(visible) if subtree is None else subtree & visible

    def within(column):
        return column.in_(sorted(subtree)) if subtree is not None else column.is_not(None)

    out = {"values": 0, "comments": 0, "weather": 0, "start": start, "end": today,
           "expected": 0, "on_time": 0, "unknown": 0, "on_time_rate": None}
    if not policy_ids:
        return out
    rev = IndicatorValueRevision
    out["values"] = session.scalar(
        select(func.count(rev.id)).join(IndicatorValue, IndicatorValue.id == rev.value_id)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .where(rev.channel.in_(ENTERED), rev.recorded_at >= since, Indicator.policy_id.in_(policy_ids),
               within(IndicatorValue.territory_id))) or 0
    out["comments"] = session.scalar(
        select(func.count(Comment.id)).where(Comment.created_at >= since, Comment.policy_id.in_(policy_ids),
                                             within(Comment.territory_id))) or 0
    out["weather"] = session.scalar(
        select(func.count(WeatherReport.id)).where(
            WeatherReport.created_at >= since, WeatherReport.policy_id.in_(policy_ids),
            within(WeatherReport.territory_id))) or 0
    if report is not None:
        expected, on_time, unknown = on_time_counts(session, report, subtree)
        out.update(expected=expected, on_time=on_time, unknown=unknown,
                   on_time_rate=completion_rate(expected, on_time))
    return out


def on_time_counts(session: Session, report: CompletenessReport, places: set[int] | None) -> tuple[int, int, int]:
    """(expected periods, periods whose value was first recorded by their due date, periods
    left out because their value came with the initial load)."""
    cells = [c for c in report.cells if (places is None or c.territory_id in places) and c.expected]
    if not cells:
        return 0, 0, 0
    indicators = {i.id: i for i in session.scalars(
        select(Indicator).where(Indicator.id.in_(sorted({c.indicator_id for c in cells}))))}
    rev = IndicatorValueRevision
    first = select(rev.value_id, func.min(rev.id).label("first_id")).group_by(rev.value_id).subquery()
    recorded: dict[tuple[int, int], list[tuple[dt.date, dt.datetime, Channel]]] = defaultdict(list)
    for iid, tid, day, at, channel in session.execute(
            select(IndicatorValue.indicator_id, IndicatorValue.territory_id, IndicatorValue.date,
                   rev.recorded_at, rev.channel)
            .join(first, first.c.value_id == IndicatorValue.id).join(rev, rev.id == first.c.first_id)
            .where(IndicatorValue.indicator_id.in_(sorted(indicators)),
                   IndicatorValue.territory_id.in_(sorted({c.territory_id for c in cells})),
                   IndicatorValue.kind == ValueKind.ACTUAL, IndicatorValue.value.is_not(None),
                   IndicatorValue.date >= report.start)):
        recorded[(iid, tid)].append((day, at, channel))
    expected = on_time = unknown = 0
    for cell in cells:
        ind = indicators[cell.indicator_id]
        for period in periods(ind.periodicity, ind.availability_delay_months, report.start, report.end, report.today):
            found = [(at, channel) for day, at, channel in recorded.get((cell.indicator_id, cell.territory_id), ())
                     if period.start <= day <= period.end]
            if any(channel is Channel.SEED for _, channel in found):
                unknown += 1  # loaded with the initial data: when it was entered is not known
                continue
            expected += 1
            if any(at.date() <= period.due for at, _ in found):
                on_time += 1
    return expected, on_time, unknown


# --------------------------------------------------------------------------- results
def _round(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def results(session: Session, territory: Territory, indicators: list[Indicator], today: dt.date) -> dict:
    """Progress since the baseline, targets met and best improvements over the year."""
    out = {"measured": 0, "improved": 0, "met": [], "since_baseline": [], "best_year": []}
    by_id = {i.id: i for i in indicators}
    if not by_id:
        return out
    figures = session.scalars(select(IndicatorFigure).where(
        IndicatorFigure.territory_id == territory.id, IndicatorFigure.indicator_id.in_(sorted(by_id)))).all()
    for fig in figures:
        ind = by_id[fig.indicator_id]
        if fig.overall is not None and fig.overall >= 100 and fig.final_target is not None:
            out["met"].append({"indicator": ind, "figure": fig})
        if fig.baseline is not None and fig.actual is not None:
            out["measured"] += 1
            delta = fig.actual - fig.baseline
            better = delta if ind.direction is Direction.INCREASE else -delta
            if better > 0:
                out["improved"] += 1
                out["since_baseline"].append({"indicator": ind, "figure": fig, "delta": delta,
                                              "progress": fig.overall})
    out["since_baseline"].sort(key=lambda r: (-(r["progress"] or 0), r["indicator"].code))
    out["since_baseline"] = out["since_baseline"][:5]
    out["met"].sort(key=lambda r: r["indicator"].code)
    out["best_year"] = best_year(session, territory, list(by_id.values()), today)
    return out


def best_year(session: Session, territory: Territory, indicators: list[Indicator], today: dt.date,
              limit: int = 5) -> list[dict]:
    ids = [i.id for i in indicators]
    series: dict[int, dict[dt.date, Decimal]] = defaultdict(dict)
    for model in (AggregatedValue, IndicatorValue):  # entered values win over aggregated ones
        for iid, day, value in session.execute(
                select(model.indicator_id, model.date, model.value)
                .where(model.indicator_id.in_(ids), model.territory_id == territory.id,
                       model.kind == ValueKind.ACTUAL, model.value.is_not(None), model.date <= today)):
            series[iid][day] = value
    out = []
    for ind in indicators:
        points = sorted(series.get(ind.id, {}).items())
        if len(points) < 2:
            continue
        last_day, last = points[-1]
        try:
            cutoff = last_day.replace(year=last_day.year - 1)
        except ValueError:  # 29 February
            cutoff = last_day.replace(year=last_day.year - 1, day=28)
        earlier = [(d, v) for d, v in points if d <= cutoff]
        if not earlier or earlier[-1][1] == 0:
            continue
        before_day, before = earlier[-1]
        change = (last - before) / abs(before) * 100
        if ind.direction is Direction.DECREASE:
            change = -change
        if change > 0:
            out.append({"indicator": ind, "before": before, "before_date": before_day, "after": last,
                        "after_date": last_day, "change": _round(change)})
    out.sort(key=lambda r: (-r["change"], r["indicator"].code))
    return out[:limit]


# --------------------------------------------------------------------------- featured successes
def featured(session: Session, policy: Policy) -> list[FeaturedComment]:
    return list(session.scalars(
        select(FeaturedComment).join(Comment, Comment.id == FeaturedComment.comment_id)
        .where(Comment.policy_id == policy.id)
        .options(selectinload(FeaturedComment.comment).selectinload(Comment.territory),
                 selectinload(FeaturedComment.comment).selectinload(Comment.author),
                 selectinload(FeaturedComment.featured_by))
        .order_by(FeaturedComment.featured_at.desc(), FeaturedComment.id.desc())))


def candidates(session: Session, policy: Policy, limit: int = 10) -> list[Comment]:
    """Recent top-level "to highlight" comments of the policy not featured yet."""
    kind = highlight_type()
    if kind is None:
        return []
    already = select(FeaturedComment.comment_id)
    return list(session.scalars(
        select(Comment).where(Comment.policy_id == policy.id, Comment.type == kind, Comment.parent_id.is_(None),
                              Comment.id.not_in(already))
        .options(selectinload(Comment.territory), selectinload(Comment.author))
        .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(limit)))
