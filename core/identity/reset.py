"""Password reset by e-mail: single-use, expiring links; only the token's hash is stored.

Asking for a link never says whether the address has an account (same answer, same page).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.db import utcnow
from core.identity import throttle
from core.identity.passwords import hash_password
from core.mail import send_mail
from core.models import PasswordReset, User

LIFETIME = dt.timedelta(hours=1)
MAX_OPEN_LINKS = 3  # per account and per hour: more requests are silently ignored


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def request_reset(session: Session, email: str, ip: str) -> bool:
    """Mail a reset link when ``email`` is an active, non-service account (True if sent)."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_active or user.is_service_account:
        return False
    now = utcnow()
    recent = session.scalar(select(func.count()).select_from(PasswordReset).where(
        PasswordReset.user_id == user.id, PasswordReset.created_at > now - LIFETIME)) or 0
    if recent >= MAX_OPEN_LINKS:
        return False
    token = secrets.token_urlsafe(32)
    with audit.acting_as(user.id, user.email, "form"):
        session.add(PasswordReset(user_id=user.id, token_hash=_hash(token), created_at=now,
                                  expires_at=now + LIFETIME, ip=ip[:45]))
        session.commit()
    link = url_for("auth.reset_password", token=token, _external=True)
    send_mail([user.email], _("Réinitialisation de votre mot de passe"),
              _("Bonjour,\n\nPour choisir un nouveau mot de passe, ouvrez ce lien (valable une "
                "heure, utilisable une seule fois) :\n%(link)s\n\nSi vous n'avez rien demandé, "
                "ignorez ce message : votre mot de passe reste inchangé.", link=link))
    return True


def valid_reset(session: Session, token: str) -> PasswordReset | None:
    """The unused, unexpired reset of ``token``, or None."""
    if not token or len(token) > 100:
        return None
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _hash(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    user = session.get(User, reset.user_id)
    return reset if user is not None and user.is_active else None


def complete_reset(session: Session, reset: PasswordReset, password: str) -> User:
    """Set the new password, use up this link and every other open link of the account."""
    user = session.get(User, reset.user_id)
    now = utcnow()
    with audit.acting_as(user.id, user.email, "form"):
        user.password_hash = hash_password(password)
        session.execute(update(PasswordReset).where(PasswordReset.user_id == user.id,
                                                    PasswordReset.used_at.is_(None)).values(used_at=now))
        audit.record_event(session, "password_reset", "user_account", user.id)
        throttle.clear(session, user.email)
        session.commit()
    return user
