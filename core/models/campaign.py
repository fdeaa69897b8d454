"""Review campaigns ("campagnes de saisie, revues"): a cycle over a set of policies with a due
date per territorial level, closed by a frozen snapshot that later reports can cite."""

from __future__ import annotations

import datetime as dt
import decimal
import enum

from sqlalchemy import (JSON, Column, Date, Enum, ForeignKey, Index, Integer, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import ExactDecimal, Model, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class CampaignKind(enum.StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ONE_OFF = "one_off"  # e.g. ahead of an interministerial meeting


class CampaignStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _enum(cls):
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


campaign_policy = Table(
    "campaign_policy",
    Model.metadata,
    Column("campaign_id", ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    Column("policy_id", ForeignKey("policy.id", ondelete="CASCADE"), primary_key=True),
)


class Campaign(Model):
    """One review campaign. ``code`` is stable (``2026-003``) and used in its URL
    (``/campagnes/2026-003``). ``due_dates`` maps a territorial level to a local date (ISO
    string): a due date is reached at midnight in the territory's time zone
    (:mod:`core.timezones`). Expected entries are the periods of ``period_start`` →
    ``period_end`` due by ``period_end`` (see :mod:`core.campaigns.service`)."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[CampaignKind] = mapped_column(_enum(CampaignKind), default=CampaignKind.ONE_OFF)
    description: Mapped[str] = mapped_column(Text, default="")
    due_dates: Mapped[dict] = mapped_column(JSONType, default=dict)  # level -> "YYYY-MM-DD"
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    remind_days_before: Mapped[int] = mapped_column(Integer, default=3)
    escalate_days_after: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[CampaignStatus] = mapped_column(_enum(CampaignStatus), default=CampaignStatus.OPEN,
                                                   index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    policies = relationship("Policy", secondary=campaign_policy, order_by="Policy.code")
    opened_by = relationship("User", foreign_keys=[opened_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])
    snapshot: Mapped[list[CampaignSnapshot]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan", order_by="CampaignSnapshot.id")

    @property
    def is_open(self) -> bool:
        return self.status is CampaignStatus.OPEN

    def due_date_items(self) -> list[tuple[str, dt.date]]:
        return [(level, dt.date.fromisoformat(day)) for level, day in self.due_dates.items()]

    @property
    def last_due_date(self) -> dt.date:
        return max(day for _, day in self.due_date_items())

    def __repr__(self) -> str:
        return f"<Campaign {self.code} {self.status.value}>"


class CampaignSnapshot(Model):
    """Frozen at closing: one territory × policy (territories include the roll-ups of their
    subtree). ``late`` counts expected entries still missing although their due date was
    reached; ``progress`` is the policy's overall progress rate, ``weather`` the latest rating."""

    __tablename__ = "campaign_snapshot"
    __table_args__ = (
        UniqueConstraint("campaign_id", "territory_id", "policy_id"),
        Index("ix_campaign_snapshot_campaign", "campaign_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    expected: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    weather: Mapped[str | None] = mapped_column(String(20))

    campaign: Mapped[Campaign] = relationship(back_populates="snapshot")
    territory = relationship("Territory")
    policy = relationship("Policy")
