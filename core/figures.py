"""Read the stored figures of policies in one territory, for pages (computed by core.engine)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import (
    Indicator,
    IndicatorFigure,
    Policy,
    PolicyFigure,
    Territory,
    Weather,
    WeatherReport,
)


@dataclass
class IndicatorView:
    indicator: Indicator
    weight: Decimal | None
    real_weight: Decimal | None
    figure: IndicatorFigure | None


@dataclass
class PolicyView:
    policy: Policy
    figure: PolicyFigure | None
    weather: Weather
    weather_at: dt.datetime | None
    indicators: list[IndicatorView] = field(default_factory=list)

    @property
    def overall(self) -> Decimal | None:
        return self.figure.overall if self.figure else None

    @property
    def annual(self) -> Decimal | None:
        return self.figure.annual if self.figure else None

    @property
    def reason(self) -> str | None:
        return self.figure.reason if self.figure else "no_data"

    @property
    def last_update(self) -> dt.date | None:
        return self.figure.last_value_date if self.figure else None


def policy_views(session: Session, policies: list[Policy], territory: Territory,
                 with_indicators: bool = False) -> dict[int, PolicyView]:
    """One :class:`PolicyView` per policy for ``territory`` (stored figures + latest weather)."""
    ids = [p.id for p in policies]
    if not ids:
        return {}
    figures = {f.policy_id: f for f in session.scalars(
        select(PolicyFigure).where(PolicyFigure.policy_id.in_(ids), PolicyFigure.territory_id == territory.id))}
    weather = _latest_weather(session, ids, territory.id)
    indicator_figures = {}
    if with_indicators:
        indicator_ids = [i.id for p in policies for i in p.indicators]
        indicator_figures = {f.indicator_id: f for f in session.scalars(
            select(IndicatorFigure).where(IndicatorFigure.indicator_id.in_(indicator_ids),
                                          IndicatorFigure.territory_id == territory.id))}
    out = {}
    for policy in policies:
        report = weather.get(policy.id)
        figure = figures.get(policy.id)
        real = (figure.explanation or {}).get("weights", {}) if figure else {}
        out[policy.id] = PolicyView(
            policy=policy,
            figure=figure,
            weather=report.weather if report else Weather.NOT_SET,
            weather_at=report.created_at if report else None,
            indicators=[
                IndicatorView(ind, ind.weight_at(territory.level),
                              Decimal(real[ind.code]["real"]) if ind.code in real else None,
                              indicator_figures.get(ind.id))
                for ind in policy.indicators
            ] if with_indicators else [],
        )
    return out


def _latest_weather(session: Session, policy_ids: list[int], territory_id: int):
    latest = (
        select(WeatherReport.policy_id, func.max(WeatherReport.id).label("id"))
        .where(WeatherReport.policy_id.in_(policy_ids), WeatherReport.territory_id == territory_id)
        .group_by(WeatherReport.policy_id)
        .subquery()
    )
    reports = session.scalars(select(WeatherReport).join(latest, WeatherReport.id == latest.c.id))
    return {r.policy_id: r for r in reports}
