"""Login throttling, per account and per client address, counted in the database so that every
worker (and every server) sees the same failures."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import LoginFailure

WINDOW = dt.timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_IP = 30


def retry_after(session: Session, email: str, ip: str, now: dt.datetime | None = None) -> int:
    """Seconds to wait before the next attempt on ``email`` from ``ip`` (0: go ahead)."""
    now = now or utcnow()
    since = now - WINDOW
    waits = [0]
    for column, value, limit in ((LoginFailure.email, email.lower(), MAX_PER_ACCOUNT),
                                 (LoginFailure.ip, ip, MAX_PER_IP)):
        times = session.scalars(
            select(LoginFailure.at).where(column == value, LoginFailure.at > since)
            .order_by(LoginFailure.at.desc()).limit(limit)
        ).all()
        if len(times) >= limit:  # blocked until the oldest of the last `limit` leaves the window
            waits.append(int((times[-1] + WINDOW - now).total_seconds()) + 1)
    return max(waits)


def record_failure(session: Session, email: str, ip: str) -> None:
    """Count a failure (the caller commits); old rows are pruned on the way."""
    now = utcnow()
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - 2 * WINDOW))
    session.execute(insert(LoginFailure).values(at=now, email=email.lower()[:254], ip=ip[:45]))


def clear(session: Session, email: str) -> None:
    """Forget an account's failures after a successful sign-in or a password reset."""
    session.execute(delete(LoginFailure).where(LoginFailure.email == email.lower()))


def failures(session: Session, email: str) -> int:
    return session.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.email == email.lower())) or 0
