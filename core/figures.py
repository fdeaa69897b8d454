"""Figures of policies in one territory, computed on read from the stored values.

The data engine will store and roll these up; until then the home page and the policy page
compute them here with the rules of :mod:`core.progress`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import progress as rules
from core.models import (
    Indicator,
    IndicatorValue,
    Policy,
    Territory,
    ValueKind,
    Weather,
    WeatherReport,
)


@dataclass
class IndicatorFigure:
    indicator: Indicator
    weight: Decimal | None
    result: rules.IndicatorProgress
    last_recorded: dt.datetime | None


@dataclass
class PolicyFigure:
    policy: Policy
    overall: Decimal | None
    annual: Decimal | None
    reason: str | None
    weather: Weather
    weather_at: dt.datetime | None
    last_update: dt.date | None
    indicators: list[IndicatorFigure] = field(default_factory=list)


def policy_figures(
    session: Session, policies: list[Policy], territory: Territory, today: dt.date
) -> dict[int, PolicyFigure]:
    """One :class:`PolicyFigure` per policy, for ``territory``, as of ``today``."""
    indicators = [ind for policy in policies for ind in policy.indicators]
    values = _values_by_indicator(session, [i.id for i in indicators], territory.id)
    weather = _latest_weather(session, [p.id for p in policies], territory.id)
    out: dict[int, PolicyFigure] = {}
    for policy in policies:
        figures = []
        for ind in policy.indicators:
            by_kind = values.get(ind.id, {})
            result = rules.compute_indicator(
                by_kind.get(ValueKind.BASELINE, []),
                by_kind.get(ValueKind.ACTUAL, []),
                by_kind.get(ValueKind.TARGET, []),
                ind.direction,
                today,
            )
            recorded = [v.recorded_at for vs in by_kind.values() for v in vs if v.recorded_at]
            figures.append(IndicatorFigure(ind, ind.weight_at(territory.level), result,
                                           max(recorded) if recorded else None))
        overall, annual, reason = _combine(policy, figures)
        actual_dates = [f.result.actual.date for f in figures if f.result.actual]
        report = weather.get(policy.id)
        out[policy.id] = PolicyFigure(
            policy=policy,
            overall=overall,
            annual=annual,
            reason=reason,
            weather=report.weather if report else Weather.NOT_SET,
            weather_at=report.created_at if report else None,
            last_update=max(actual_dates) if actual_dates else None,
            indicators=figures,
        )
    return out


def _combine(policy: Policy, figures: list[IndicatorFigure]):
    if policy.kind == "structuring_project":
        return (
            rules.structuring_project_progress(f.result.overall for f in figures),
            rules.structuring_project_progress(f.result.annual for f in figures),
            None,
        )
    overall = rules.policy_progress([(f.weight, f.result.overall) for f in figures])
    annual = rules.policy_progress([(f.weight, f.result.annual) for f in figures])
    return overall.progress, annual.progress, overall.reason


def _values_by_indicator(session: Session, indicator_ids: list[int], territory_id: int):
    if not indicator_ids:
        return {}
    rows = session.execute(
        select(IndicatorValue.indicator_id, IndicatorValue.kind, IndicatorValue.date,
               IndicatorValue.value, IndicatorValue.recorded_at)
        .where(IndicatorValue.indicator_id.in_(indicator_ids),
               IndicatorValue.territory_id == territory_id)
    )
    out: dict[int, dict[ValueKind, list[rules.DatedValue]]] = defaultdict(lambda: defaultdict(list))
    for indicator_id, kind, date, value, recorded_at in rows:
        out[indicator_id][kind].append(rules.DatedValue(date, value, recorded_at))
    return out


def _latest_weather(session: Session, policy_ids: list[int], territory_id: int):
    if not policy_ids:
        return {}
    latest = (
        select(WeatherReport.policy_id, func.max(WeatherReport.id).label("id"))
        .where(WeatherReport.policy_id.in_(policy_ids), WeatherReport.territory_id == territory_id)
        .group_by(WeatherReport.policy_id)
        .subquery()
    )
    reports = session.scalars(select(WeatherReport).join(latest, WeatherReport.id == latest.c.id))
    return {r.policy_id: r for r in reports}
