"""Computed figures: roll-ups of values and progress rates, stored with how they were made.

They are derived data: :mod:`core.engine` rewrites them whenever a value they depend on
changes, and ``pilote figures recompute`` rebuilds them all.
"""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import JSON, Date, Enum, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import ExactDecimal, Model, UTCDateTime, utcnow
from core.models.indicator import ValueKind

JSONType = JSON().with_variant(JSONB(), "postgresql")


class AggregatedValue(Model):
    """A value of a parent territory computed from its children with the indicator's
    aggregation method. Entered values are never overwritten: they live in indicator_value."""

    __tablename__ = "aggregated_value"
    __table_args__ = (UniqueConstraint("indicator_id", "territory_id", "kind", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    kind: Mapped[ValueKind] = mapped_column(
        Enum(ValueKind, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    date: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    method: Mapped[str] = mapped_column(String(40))
    inputs: Mapped[int] = mapped_column(Integer)  # how many child values were combined
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class IndicatorFigure(Model):
    """An indicator's progress in one territory, with the inputs it was computed from."""

    __tablename__ = "indicator_figure"
    __table_args__ = (UniqueConstraint("indicator_id", "territory_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    baseline: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    baseline_date: Mapped[dt.date | None] = mapped_column(Date)
    actual: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    actual_date: Mapped[dt.date | None] = mapped_column(Date)
    annual_target: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    annual_target_date: Mapped[dt.date | None] = mapped_column(Date)
    final_target: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    final_target_date: Mapped[dt.date | None] = mapped_column(Date)
    annual: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    overall: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    previous_overall: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    origin: Mapped[str] = mapped_column(String(20), default="entered")  # entered, aggregated, national
    next_update_due: Mapped[dt.date | None] = mapped_column(Date)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    explanation: Mapped[dict] = mapped_column(JSONType, default=dict)

    indicator = relationship("Indicator")
    territory = relationship("Territory")


class PolicyFigure(Model):
    """A policy's progress in one territory: weighted mean of its indicators' progress."""

    __tablename__ = "policy_figure"
    __table_args__ = (
        UniqueConstraint("policy_id", "territory_id"),
        Index("ix_policy_figure_territory", "territory_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    overall: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    annual: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    previous_overall: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    trend: Mapped[str | None] = mapped_column(String(10))
    gap_to_median: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    reason: Mapped[str | None] = mapped_column(String(60))
    last_value_date: Mapped[dt.date | None] = mapped_column(Date)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    explanation: Mapped[dict] = mapped_column(JSONType, default=dict)

    policy = relationship("Policy")
    territory = relationship("Territory")
