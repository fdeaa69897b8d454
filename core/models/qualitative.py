"""Weather ratings with their summary, and typed comments with replies, per policy × territory."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model, UTCDateTime, utcnow


class Weather(enum.StrEnum):
    """Forward-looking confidence set by a person (météo), best first."""

    SECURED = "secured"
    ACHIEVABLE = "achievable"
    SUPPORT_NEEDED = "support_needed"
    COMPROMISED = "compromised"
    NOT_SET = "not_set"

    @property
    def rank(self) -> int:
        """0 is best; NOT_SET ranks last so that a downgrade to it is visible."""
        return list(Weather).index(self)


class WeatherReport(Model):
    """Append-only: each rating is a new row; the latest one per policy × territory is current."""

    __tablename__ = "weather_report"
    __table_args__ = (Index("ix_weather_report_target", "policy_id", "territory_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    weather: Mapped[Weather] = mapped_column(
        Enum(Weather, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    summary: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    policy = relationship("Policy")
    territory = relationship("Territory")
    author = relationship("User")


class Comment(Model):
    """A typed narrative update (obstacles, next actions, results to highlight, decision…).

    ``parent_id`` makes it a reply. ``type`` is one of the instance's comment types.
    """

    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_target", "policy_id", "territory_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"))
    type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    policy = relationship("Policy")
    territory = relationship("Territory")
    author = relationship("User")
    parent: Mapped[Comment | None] = relationship(remote_side=[id], back_populates="replies")
    replies: Mapped[list[Comment]] = relationship(back_populates="parent", order_by="Comment.created_at")

    __mapper_args__ = {"version_id_col": version}
