"""Help pages and FAQ entries managed in the application, with every saved version kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model, UTCDateTime, utcnow


class HelpPage(Model):
    """A help page (``kind`` ``page``) or a FAQ entry (``faq``: the title is the question).

    The text lives in :class:`HelpPageVersion` rows; ``current_version`` is the number of the
    version shown, and also what an editor's form sends back to detect concurrent edits.
    ``deleted_at`` set: removed from every listing (soft delete, history kept).
    """

    __tablename__ = "help_page"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10), default="page")  # page | faq
    category: Mapped[str] = mapped_column(String(120), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    current_version: Mapped[int] = mapped_column(Integer, default=0)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    versions: Mapped[list[HelpPageVersion]] = relationship(
        back_populates="page", order_by="HelpPageVersion.number", cascade="all, delete-orphan")


class HelpPageVersion(Model):
    """One saved state of a help page (append-only; restoring copies an old one as a new one)."""

    __tablename__ = "help_page_version"
    __table_args__ = (UniqueConstraint("page_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("help_page.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body_markdown: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    page: Mapped[HelpPage] = relationship(back_populates="versions")
    author = relationship("User")
