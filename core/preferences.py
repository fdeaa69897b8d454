"""What e-mail each user wants to receive.

``wants(user, kind)`` is the one question every sender asks before mailing a user. Choices are
stored in :class:`core.models.MailPreference` (a missing row means the default of
:data:`DEFAULTS`); users change them on « Mon compte › Préférences de courriel », or with the
one-click unsubscribe link of an e-mail (:func:`unsubscribe_token`, valid without signing in,
for that kind only).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

# kind -> label shown on the preferences page (French, through Babel at render time)
KINDS: dict[str, Any] = {
    "campaign_reminder": _l("Rappels avant, le jour et après l'échéance d'une campagne"),
    "campaign_escalation": _l("Retards des contributeurs de mon territoire (coordinateurs)"),
    "digest": _l("Synthèse hebdomadaire de mes politiques et territoires"),
    "notification": _l("Commentaires, réponses, mentions et propositions"),
}

# what a user gets before choosing: everything is useful and rare enough to be on by default
# (reminders only near a due date, escalations only to coordinators, one digest a week).
DEFAULTS: dict[str, bool] = {kind: True for kind in KINDS}

_SALT = "pilote.mail-unsubscribe"


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise KeyError(kind)


def preferences_of(user: Any) -> dict[str, bool]:
    """Every kind with the user's choice (or the default)."""
    from core.db import session as db_session
    from core.models import MailPreference

    prefs = dict(DEFAULTS)
    user_id = getattr(user, "id", None)
    if user_id is not None:
        for row in db_session().scalars(select(MailPreference).where(MailPreference.user_id == user_id)):
            if row.kind in prefs:
                prefs[row.kind] = bool(row.enabled)
    return prefs


def wants(user: Any, kind: str) -> bool:
    """True when ``user`` accepts e-mails of ``kind`` (a key of :data:`KINDS`)."""
    _check(kind)
    if not getattr(user, "is_active", True) or not getattr(user, "email", None):
        return False
    user_id = getattr(user, "id", None)
    if user_id is None:
        return DEFAULTS[kind]
    from core.db import session as db_session
    from core.models import MailPreference

    enabled = db_session().scalar(select(MailPreference.enabled).where(
        MailPreference.user_id == user_id, MailPreference.kind == kind))
    return DEFAULTS[kind] if enabled is None else bool(enabled)


def set_preference(session, user_id: int, kind: str, enabled: bool) -> bool:
    """Store one choice (the caller commits); True when it changed."""
    from core.models import MailPreference

    _check(kind)
    row = session.get(MailPreference, (user_id, kind))
    if row is None:
        current = DEFAULTS[kind]
        if current == enabled:
            return False
        session.add(MailPreference(user_id=user_id, kind=kind, enabled=enabled))
        return True
    if row.enabled == enabled:
        return False
    row.enabled = enabled
    return True


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def unsubscribe_token(user_id: int, kind: str) -> str:
    """A signed token that turns off ``kind`` for ``user_id`` (no sign-in needed)."""
    _check(kind)
    return _serializer().dumps({"u": int(user_id), "k": kind})


def read_unsubscribe_token(token: str) -> tuple[int, str] | None:
    """``(user_id, kind)`` of a valid token, else None."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") not in KINDS or not isinstance(data.get("u"), int):
        return None
    return data["u"], data["k"]


def unsubscribe_url(user_id: int, kind: str, root: str | None = None) -> str:
    """Absolute link to the one-click unsubscribe page (``root``: the site's base URL)."""
    from flask import url_for

    path = url_for("preferences.unsubscribe", token=unsubscribe_token(user_id, kind))
    return (root or site_root()).rstrip("/") + path


def site_root() -> str:
    """The site's base URL for links in e-mails (request root, else ``PILOTE_PUBLIC_URL``)."""
    from flask import has_request_context, request

    if has_request_context():
        return request.url_root
    import os

    return (current_app.config.get("PILOTE_PUBLIC_URL") or os.environ.get("PILOTE_PUBLIC_URL")
            or "http://localhost:5000/")
