"""Local successes featured on a national policy page ("Réussites locales")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model, UTCDateTime, utcnow


class FeaturedComment(Model):
    """A local comment of the "results to highlight" type that a central referent of its policy
    chose to show on the policy's national page. Unfeaturing deletes the row (both are audited)."""

    __tablename__ = "featured_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"), unique=True)
    featured_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    featured_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    comment = relationship("Comment")
    featured_by = relationship("User")
