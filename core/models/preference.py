"""Per-user e-mail preferences (one row per user and kind that differs from nothing: a missing
row means the default of :data:`core.preferences.DEFAULTS`) and the scheduler's last runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Model, UTCDateTime, utcnow


class MailPreference(Model):
    """Whether ``user_id`` wants e-mails of ``kind`` (a key of ``core.preferences.KINDS``)."""

    __tablename__ = "mail_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ScheduledJobRun(Model):
    """When ``pilote scheduler`` last enqueued the periodic job ``name`` (one row per job).

    Claimed by a compare-and-set update so that two schedulers never enqueue the same run."""

    __tablename__ = "scheduled_job_run"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    last_run_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(default=0)
