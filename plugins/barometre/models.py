"""Publications of the barometer: frozen snapshots of what a referent made public."""

from __future__ import annotations

import datetime as dt
import decimal

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.api import ExactDecimal, Model, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class Publication(Model):
    """One publication (or withdrawal) of a policy on the public barometer.

    The latest row of a policy decides: ``published`` shows its snapshot, ``withdrawn`` hides
    the policy. ``content`` freezes the policy's and its public indicators' wording.
    """

    __tablename__ = "barometre_publication"
    __table_args__ = (UniqueConstraint("policy_id", "number"), {"info": {"plugin": "barometre"}})

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2… per policy
    status: Mapped[str] = mapped_column(String(20))  # published, withdrawn
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")
    content: Mapped[dict] = mapped_column(JSONType, default=dict)
    counts: Mapped[dict] = mapped_column(JSONType, default=dict)  # rows frozen, per table

    policy = relationship("Policy")
    author = relationship("User")


class PublishedFigure(Model):
    """A frozen figure: a policy's (``indicator_code`` empty) or an indicator's, in one territory."""

    __tablename__ = "barometre_figure"
    __table_args__ = (Index("ix_barometre_figure_publication", "publication_id", "territory_id"),
                      Index("ix_barometre_figure_territory", "territory_id"),
                      {"info": {"plugin": "barometre"}})

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(
        ForeignKey("barometre_publication.id", ondelete="CASCADE"))
    indicator_code: Mapped[str] = mapped_column(String(40), default="")
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(40))
    baseline: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    baseline_date: Mapped[dt.date | None] = mapped_column(Date)
    actual: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    actual_date: Mapped[dt.date | None] = mapped_column(Date)
    target: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    progress: Mapped[decimal.Decimal | None] = mapped_column(ExactDecimal)
    weather: Mapped[str | None] = mapped_column(String(20))


class PublishedSeries(Model):
    """The frozen time series of one indicator: rows of the barometer open-data format, with
    territory keys (``department-69``) as zones."""

    __tablename__ = "barometre_series"
    __table_args__ = (UniqueConstraint("publication_id", "indicator_code"),
                      {"info": {"plugin": "barometre"}})

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(
        ForeignKey("barometre_publication.id", ondelete="CASCADE"))
    indicator_code: Mapped[str] = mapped_column(String(40))
    rows: Mapped[list] = mapped_column(JSONType, default=list)
