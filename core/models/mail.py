"""Outgoing e-mail: every message is stored, then delivered by a job (SMTP) or captured."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, Enum, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Model, UTCDateTime, utcnow


class MailStatus(enum.StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    CAPTURED = "captured"  # no SMTP server configured: kept here, readable by administrators
    FAILED = "failed"


class MailMessage(Model):
    """One message to send (or sent, or captured). ``dedupe_key`` makes a resend a no-op."""

    __tablename__ = "mail_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[MailStatus] = mapped_column(
        Enum(MailStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=MailStatus.QUEUED)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(500))
    # absolute one-click unsubscribe link of a mail about a preference kind (List-Unsubscribe);
    # None for transactional mail (password reset, access requests)
    unsubscribe_url: Mapped[str | None] = mapped_column(String(1000))
