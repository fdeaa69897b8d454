"""Indicators, their per-level weights, dated values and the append-only revision history."""

from __future__ import annotations

import datetime as dt
import decimal
import enum

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import ExactDecimal, Model, UTCDateTime, utcnow


def _enum(cls, length=20):
    return Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Direction(enum.StrEnum):
    """Which way is better."""

    INCREASE = "increase"
    DECREASE = "decrease"


class Periodicity(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    ANNUAL = "annual"
    BIENNIAL = "biennial"
    TRIENNIAL = "triennial"
    SEXENNIAL = "sexennial"
    OTHER = "other"

    @property
    def months(self) -> int | None:
        return {
            "monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12,
            "biennial": 24, "triennial": 36, "sexennial": 72,
        }.get(self.value)


class IndicatorCategory(enum.StrEnum):
    IMPACT = "impact"
    REALISATION = "realisation"
    SERVICE_QUALITY = "service_quality"
    CONTEXT = "context"
    FINANCIAL = "financial"


class ValueKind(enum.StrEnum):
    BASELINE = "baseline"
    ACTUAL = "actual"
    TARGET = "target"


class TargetScope(enum.StrEnum):
    ANNUAL = "annual"
    FINAL = "final"


class Channel(enum.StrEnum):
    """How a value reached Pilote (provenance)."""

    FORM = "form"
    IMPORT = "import"
    API = "api"
    SEED = "seed"
    COMPUTED = "computed"


class Indicator(Model):
    """A measured quantity of a policy, with everything needed to read and compute it."""

    __tablename__ = "indicator"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    unit: Mapped[str] = mapped_column(String(60), default="")
    decimals: Mapped[int] = mapped_column(Integer, default=0)
    direction: Mapped[Direction] = mapped_column(_enum(Direction), default=Direction.INCREASE)
    periodicity: Mapped[Periodicity] = mapped_column(_enum(Periodicity), default=Periodicity.MONTHLY)
    availability_delay_months: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(300), default="")
    source_url: Mapped[str | None] = mapped_column(String(500))
    calculation_method: Mapped[str] = mapped_column(Text, default="")
    aggregation_method: Mapped[str] = mapped_column(String(40), default="sum")
    # For a rate aggregated as a ratio of sums: the indicator holding its denominator.
    denominator_id: Mapped[int | None] = mapped_column(ForeignKey("indicator.id", ondelete="SET NULL"))
    prefer_entered_values: Mapped[bool] = mapped_column(Boolean, default=True)
    category: Mapped[IndicatorCategory] = mapped_column(
        _enum(IndicatorCategory), default=IndicatorCategory.IMPACT
    )
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    min_value: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    max_value: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    position: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)

    policy = relationship("Policy", back_populates="indicators")
    weights: Mapped[list[IndicatorWeight]] = relationship(
        back_populates="indicator", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    def weight_at(self, level: str) -> decimal.Decimal | None:
        """Declared weight of this indicator in its policy's progress at ``level`` (None: n/a)."""
        for w in self.weights:
            if w.level == level:
                return w.weight
        return None


class IndicatorWeight(Model):
    """The declared weight (0–100) of an indicator in its policy's progress, per level."""

    __tablename__ = "indicator_weight"
    __table_args__ = (UniqueConstraint("indicator_id", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(40))
    weight: Mapped[decimal.Decimal] = mapped_column(ExactDecimal)

    indicator: Mapped[Indicator] = relationship(back_populates="weights")


class IndicatorValue(Model):
    """The current value of one (indicator, territory, kind, date): what figures are built on.

    Every write also appends an :class:`IndicatorValueRevision`; ``version`` guards against
    concurrent edits (a stale version raises instead of overwriting).
    """

    __tablename__ = "indicator_value"
    __table_args__ = (
        UniqueConstraint("indicator_id", "territory_id", "kind", "date"),
        Index("ix_indicator_value_territory", "territory_id", "indicator_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    kind: Mapped[ValueKind] = mapped_column(_enum(ValueKind))
    target_scope: Mapped[TargetScope | None] = mapped_column(_enum(TargetScope))
    date: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    source: Mapped[str] = mapped_column(String(300), default="")
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    indicator: Mapped[Indicator] = relationship()
    territory = relationship("Territory")
    author = relationship("User")

    __mapper_args__ = {"version_id_col": version}


class IndicatorValueRevision(Model):
    """Append-only history: one row per write of a value (``value`` None = erased)."""

    __tablename__ = "indicator_value_revision"
    __table_args__ = (Index("ix_indicator_value_revision_value", "value_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    value_id: Mapped[int] = mapped_column(ForeignKey("indicator_value.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    value: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    source: Mapped[str] = mapped_column(String(300), default="")
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    import_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id", ondelete="SET NULL"),
                                                  index=True)
