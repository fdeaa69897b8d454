"""Territorial roadmaps: the policies a prefect or territorial coordinator selects for a territory.

Structuring projects themselves are policies of kind ``structuring_project`` with a
``territory`` (see :class:`core.models.Policy`); their progress is the mean of their
indicators' progress (``core.engine``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model, UTCDateTime, utcnow


class RoadmapEntry(Model):
    """One policy selected in one territory's roadmap (feuille de route)."""

    __tablename__ = "roadmap_entry"
    __table_args__ = (
        UniqueConstraint("territory_id", "policy_id"),
        Index("ix_roadmap_entry_policy", "policy_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    territory = relationship("Territory")
    policy = relationship("Policy")
    added_by = relationship("User")
