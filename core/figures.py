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
    alerts: list = field(default_factory=list)  # core.engine.alerts.Alert

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

    @property
    def trend(self) -> str | None:
        return self.figure.trend if self.figure else None

    @property
    def gap_to_median(self) -> Decimal | None:
        return self.figure.gap_to_median if self.figure else None


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


def median(values: list[Decimal]) -> Decimal | None:
    """The median of known values (mean of the two middle ones for an even count)."""
    known = sorted(v for v in values if v is not None)
    if not known:
        return None
    middle = len(known) // 2
    return known[middle] if len(known) % 2 else (known[middle - 1] + known[middle]) / 2


@dataclass(frozen=True)
class Spread:
    """Min, median and max of a set of progress figures, and how many were known."""

    minimum: Decimal | None
    median: Decimal | None
    maximum: Decimal | None
    count: int

    @classmethod
    def of(cls, values) -> "Spread":
        known = [v for v in values if v is not None]
        return cls(min(known) if known else None, median(known), max(known) if known else None,
                   len(known))


def level_figures(session: Session, policy_ids: list[int], level: str) -> list[PolicyFigure]:
    """Stored figures of ``policy_ids`` in every current territory of ``level``."""
    if not policy_ids:
        return []
    return list(session.scalars(
        select(PolicyFigure).join(Territory, Territory.id == PolicyFigure.territory_id)
        .where(PolicyFigure.policy_id.in_(policy_ids), Territory.level == level,
               Territory.valid_to.is_(None))))


def latest_weather(session: Session, policy_ids: list[int], territory_ids: list[int]
                   ) -> dict[tuple[int, int], WeatherReport]:
    """The current weather report of each (policy, territory) pair that has one."""
    if not policy_ids or not territory_ids:
        return {}
    latest = (
        select(func.max(WeatherReport.id).label("id"))
        .where(WeatherReport.policy_id.in_(policy_ids), WeatherReport.territory_id.in_(territory_ids))
        .group_by(WeatherReport.policy_id, WeatherReport.territory_id)
        .subquery()
    )
    reports = session.scalars(select(WeatherReport).join(latest, WeatherReport.id == latest.c.id))
    return {(r.policy_id, r.territory_id): r for r in reports}


NEAR_NATIONAL_POINTS = Decimal(10)


def compare_to_national(local: Decimal | None, national: Decimal | None) -> str:
    """``above`` (at or above the national value), ``near`` (less than 10 points below, or
    exactly 10), ``below`` (more than 10 points below) or ``unknown``."""
    if local is None or national is None:
        return "unknown"
    if local >= national:
        return "above"
    return "near" if national - local <= NEAR_NATIONAL_POINTS else "below"
