"""API tokens: created at random, shown once, stored as a SHA-256 hash, expiring, revocable.

A token reads ``pil_<prefix>_<secret>``: ``prefix`` (8 hex characters) is stored in clear to
recognise a token in lists, ``secret`` is 32 random bytes (URL-safe base64). The database keeps
only the hash of the whole string, so reading it (or a backup, or the audit log) never gives a
usable token. A token acts as its user, with that user's grants; a ``read_only`` token cannot
write. Revocation and expiry take effect at the next request (nothing is cached across requests).

:func:`user_from_token` is what the ``user_from_request`` hook calls; :func:`current_caller`
is how the API's views learn who is calling (token first, then the browser session).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from flask_login import current_user
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core import audit
from core.api_v1.errors import ApiError
from core.db import get_db, utcnow
from core.db import session as db_session
from core.models import ApiToken, AuditEntry, User

log = logging.getLogger(__name__)

TOKEN_PREFIX = "pil"
TOKEN_RE = re.compile(r"^pil_([0-9a-f]{8})_([A-Za-z0-9_-]{40,64})$")
MAX_HEADER_LENGTH = 200
DEFAULT_EXPIRES_DAYS = 90
MAX_EXPIRES_DAYS = 730
LAST_USED_EVERY = dt.timedelta(minutes=1)  # last_used_at is written at most once a minute
_CACHE = "pilote.api_tokens"
_CALLER = "pilote.api_caller"


def hash_token(token: str) -> str:
    """What the database stores and looks tokens up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_token() -> tuple[str, str]:
    """``(prefix, full token)``: fresh randomness from :mod:`secrets`."""
    prefix = secrets.token_hex(4)
    return prefix, f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"


def token_status(token: ApiToken, now: dt.datetime | None = None) -> str:
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def create_token(session: Session, user: User, name: str, *,
                 expires_days: int | None = DEFAULT_EXPIRES_DAYS, read_only: bool = False,
                 created_by_id: int | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user`` in the session's transaction (the caller commits).

    Returns the row and the token itself, which is never stored and cannot be shown again.
    The row is inserted without the ORM so that its hash stays out of the audit log; the audit
    entry is written here, with every other column.
    """
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRES_DAYS:
        raise ValueError(f"expires_days must be between 1 and {MAX_EXPIRES_DAYS}")
    prefix, plain = generate_token()
    now = utcnow()
    values = dict(
        user_id=user.id, name=name.strip(), prefix=prefix, token_hash=hash_token(plain),
        read_only=bool(read_only), created_at=now, created_by_id=created_by_id,
        expires_at=now + dt.timedelta(days=expires_days) if expires_days else None,
    )
    token_id = session.execute(insert(ApiToken).values(**values).returning(ApiToken.id)).scalar_one()
    actor_id, label, channel = audit.current_actor()
    session.execute(insert(AuditEntry), [dict(
        at=now, actor_id=actor_id, actor_label=label, action="insert", entity="api_token",
        entity_id=str(token_id), channel=channel,
        changes={key: value.isoformat() if isinstance(value, dt.datetime) else value
                 for key, value in values.items() if key != "token_hash" and value is not None},
    )])
    return session.get(ApiToken, token_id), plain


def revoke_token(token: ApiToken) -> bool:
    """Revoke at once (audited through the ORM). False if it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True


# --------------------------------------------------------------------------- authentication
def bearer_value(req) -> str | None:
    """The credentials of ``Authorization: Bearer …`` (None if absent or another scheme)."""
    headers = getattr(req, "headers", None)
    if headers is None:
        return None
    header = headers.get("Authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def resolve_token(req) -> ApiToken | None:
    """The valid token presented by ``req``, or None. Cached for the request; updates
    ``last_used_at`` (at most once a minute)."""
    value = bearer_value(req)
    if not value or len(value) > MAX_HEADER_LENGTH:
        return None
    cache = req.environ.setdefault(_CACHE, {})  # per request, even inside a shared app context
    if value in cache:
        return cache[value]
    found = None
    match = TOKEN_RE.match(value)
    if match:
        session = db_session()
        token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(value)))
        now = utcnow()
        if token is not None and hmac.compare_digest(token.prefix, match.group(1)) \
                and token.is_valid(now):
            user = session.get(User, token.user_id)
            if user is not None and user.is_active:
                _touch(token, now)
                found = token
    cache[value] = found
    return found


def _touch(token: ApiToken, now: dt.datetime) -> None:
    """Record the use on a connection of its own, so that it never commits (nor waits for)
    the request's own work; a failure is logged, never fatal."""
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    try:
        with get_db().engine.begin() as conn:
            conn.execute(
                update(ApiToken)
                .where(ApiToken.id == token.id,
                       or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY))
                .values(last_used_at=now)
            )
    except SQLAlchemyError:  # e.g. a locked SQLite file: the request goes on
        log.warning("could not record the use of API token %s", token.id, exc_info=True)
        return
    set_committed_value(token, "last_used_at", now)


def user_from_token(req) -> User | None:
    """The user of a valid ``Authorization: Bearer`` token, or None (``user_from_request``)."""
    token = resolve_token(req)
    if token is None:
        return None
    user = db_session().get(User, token.user_id)
    return user if user is not None and user.is_active else None


# --------------------------------------------------------------------------- the caller
@dataclass
class Caller:
    """Who calls the API: a user (or the anonymous user) and the token used, if any."""

    user: Any
    token: ApiToken | None = None

    @property
    def authenticated(self) -> bool:
        return bool(getattr(self.user, "is_authenticated", False))

    @property
    def via(self) -> str:
        if self.token is not None:
            return "token"
        return "session" if self.authenticated else "anonymous"

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.authenticated else None


def current_caller() -> Caller:
    """The caller of this request. A request carrying ``Authorization`` is authenticated by
    it alone (an invalid token is a 401, never a fallback to the session or to anonymous)."""
    cached = request.environ.get(_CALLER)
    if cached is not None:
        return cached
    if "Authorization" in request.headers:
        token = resolve_token(request)
        user = db_session().get(User, token.user_id) if token is not None else None
        if token is None or user is None or not user.is_active:
            raise ApiError(401, "Missing, unknown, revoked or expired API token.", type="invalid-token",
                           headers={"WWW-Authenticate": 'Bearer realm="pilote", error="invalid_token"'})
        caller = Caller(user, token)
    else:
        caller = Caller(current_user._get_current_object())
    request.environ[_CALLER] = caller
    return caller


def require_token_write(caller: Caller) -> None:
    """Writes of data: a token with write rights (never a session: no CSRF to check then)."""
    if caller.token is None:
        raise ApiError(401, "Writes require an API token (Authorization: Bearer pil_…).",
                       type="token-required")
    if caller.token.read_only:
        raise ApiError(403, "This token is read-only.", type="read-only-token")


def require_session_write(caller: Caller) -> None:
    """Token management writes from a browser session: the CSRF token must come along."""
    from flask_wtf.csrf import CSRFError

    if not caller.authenticated:
        raise ApiError(401, "Sign in or use an API token.")
    if caller.token is not None or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    csrf = current_app.extensions.get("csrf")
    if csrf is None:
        return
    try:
        csrf.protect()
    except CSRFError as exc:
        raise ApiError(403, exc.description, type="csrf") from None
