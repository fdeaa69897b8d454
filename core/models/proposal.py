"""Value proposals: a value suggested by a local service, validated or refused by a referent."""

from __future__ import annotations

import datetime as dt
import decimal
import enum

from sqlalchemy import Date, Enum, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import ExactDecimal, Model, UTCDateTime, utcnow
from core.models.indicator import ValueKind


class ProposalStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"


def _enum(cls):
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class ValueProposal(Model):
    """A proposed value for indicator × territory × kind × date, with the proposer's reason.

    Accepting it writes the value through ``save_values`` (the revision's note names the
    proposer and the validator); refusing it keeps the reviewer's reason.
    """

    __tablename__ = "value_proposal"
    __table_args__ = (Index("ix_value_proposal_status", "status", "indicator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    kind: Mapped[ValueKind] = mapped_column(_enum(ValueKind), default=ValueKind.ACTUAL)
    date: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[decimal.Decimal] = mapped_column(ExactDecimal)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ProposalStatus] = mapped_column(_enum(ProposalStatus), default=ProposalStatus.PENDING)
    proposer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    indicator = relationship("Indicator")
    territory = relationship("Territory")
    proposer = relationship("User", foreign_keys=[proposer_id])
    reviewer = relationship("User", foreign_keys=[reviewer_id])

    __mapper_args__ = {"version_id_col": version}
