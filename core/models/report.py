"""Report requests: who asked for which PDF, its progress and where the file is stored."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model, UTCDateTime, utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")


class ReportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReportRequest(Model):
    """One requested report or brief. ``code`` is the unguessable identifier used in URLs;
    the PDF lives in the instance's data folder and is served to its requester (or admins)."""

    __tablename__ = "report_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="report")  # report or brief
    title: Mapped[str] = mapped_column(String(300), default="")
    selection: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[ReportStatus] = mapped_column(
        Enum(ReportStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=ReportStatus.QUEUED,
    )
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    sections: Mapped[int] = mapped_column(Integer, default=0)
    pages: Mapped[int | None] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    file_name: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text, default="")
    # why a failed request failed: "error" (the production raised), "interrupted" (its worker
    # died or it never ended: see core.reports.housekeeping); None before migration 0013
    failure: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # when retention deleted the PDF of a done request (the row stays, the page offers a retry)
    expired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    user = relationship("User")
