"""Every ORM write is audited: inserts, updates (old → new) and deletes, with the actor.

Rows go to :class:`core.models.AuditEntry` in the same transaction as the write (an
``after_flush`` listener inserting through the flush's own connection), so a write and its
audit entry are committed or rolled back together. Bulk writes (seed, imports) record one
``bulk`` entry themselves with :func:`record_bulk`; security events (sign-ins, refusals,
grant and token changes) are recorded with :func:`record_event`. Every entry carries where it
came from (client address and user agent of the request, see :func:`set_origin`).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import decimal
import enum
from typing import Any, Iterator

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import AuditEntry

_actor: contextvars.ContextVar[tuple[int | None, str, str]] = contextvars.ContextVar(
    "pilote_audit_actor", default=(None, "system", "")
)
_origin: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "pilote_audit_origin", default=("", "")
)
SKIPPED = {"audit_entry", "login_failure"}
SECRET_ATTRS = {"password_hash", "token_hash"}
# Columns kept out of the log for one table only (a mail body may hold a reset link, and the
# unsubscribe link's token turns off a kind of e-mail without signing in).
SECRET_COLUMNS = {"mail_message": {"text", "html", "unsubscribe_url"}}


@contextlib.contextmanager
def acting_as(user_id: int | None, label: str, channel: str = "") -> Iterator[None]:
    """Attribute the writes made inside the block to this actor."""
    token = _actor.set((user_id, label, channel))
    try:
        yield
    finally:
        _actor.reset(token)


def set_actor(user_id: int | None, label: str, channel: str = "") -> contextvars.Token:
    """Attribute the following writes to this actor until :func:`reset_actor` (one request)."""
    return _actor.set((user_id, label, channel))


def reset_actor(token: contextvars.Token) -> None:
    _actor.reset(token)


def current_actor() -> tuple[int | None, str, str]:
    return _actor.get()


def set_origin(ip: str, user_agent: str) -> contextvars.Token:
    """Where the following writes come from (set for each request)."""
    return _origin.set(((ip or "")[:45], (user_agent or "")[:300]))


def reset_origin(token: contextvars.Token) -> None:
    _origin.reset(token)


def _where() -> dict[str, str]:
    ip, user_agent = _origin.get()
    return {"ip": ip, "user_agent": user_agent}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _column_changes(obj: Any, mode: str) -> dict[str, Any]:
    state = inspect(obj)
    changes: dict[str, Any] = {}
    secrets = SECRET_ATTRS | SECRET_COLUMNS.get(getattr(obj, "__tablename__", ""), set())
    for attr in state.mapper.column_attrs:
        key = attr.key
        if key in secrets:
            if mode == "update" and state.attrs[key].history.has_changes():
                changes[key] = "(changed)"
            continue
        history = state.attrs[key].history
        if mode == "insert":
            value = getattr(obj, key)
            if value is not None:
                changes[key] = _jsonable(value)
        elif mode == "update" and history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            changes[key] = [_jsonable(old), _jsonable(new)]
        elif mode == "delete":
            changes[key] = _jsonable(getattr(obj, key))
    return changes


def _entity_id(obj: Any) -> str:
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(i) for i in key if i is not None)


@event.listens_for(Session, "after_flush")
def _audit_after_flush(session: Session, _flush_context) -> None:
    actor_id, label, channel = current_actor()
    now = utcnow()
    rows = []
    for mode, objects in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            table = getattr(obj, "__tablename__", None)
            if table is None or table in SKIPPED:
                continue
            if mode == "update" and not session.is_modified(obj, include_collections=False):
                continue
            changes = _column_changes(obj, mode)
            if mode == "update" and not changes:
                continue
            rows.append(
                dict(at=now, actor_id=actor_id, actor_label=label, action=mode, entity=table,
                     entity_id=_entity_id(obj), changes=changes, channel=channel, **_where())
            )
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


def record_bulk(session: Session, entity: str, entity_id: str, changes: dict[str, Any]) -> None:
    """One audit entry for a bulk write that bypassed the ORM unit of work."""
    actor_id, label, channel = current_actor()
    session.execute(
        insert(AuditEntry),
        [dict(at=utcnow(), actor_id=actor_id, actor_label=label, action="bulk", entity=entity,
              entity_id=entity_id, changes={k: _jsonable(v) for k, v in changes.items()},
              channel=channel, **_where())],
    )


def record_event(session: Session, action: str, entity: str, entity_id: Any = "",
                 changes: dict[str, Any] | None = None, *,
                 actor: tuple[int | None, str] | None = None, channel: str | None = None) -> None:
    """One audit entry for something that is not a row write: a sign-in (``login``), a refused
    one (``login_failed``), a sign-out, a refused OpenID Connect answer, a grant or token
    change summary. The caller commits (or it goes with the request's transaction)."""
    actor_id, label, current_channel = current_actor()
    if actor is not None:
        actor_id, label = actor
    session.execute(
        insert(AuditEntry),
        [dict(at=utcnow(), actor_id=actor_id, actor_label=label[:254], action=action[:20],
              entity=entity, entity_id=str(entity_id or "")[:80],
              changes={k: [_jsonable(i) for i in v] if isinstance(v, (list, tuple)) else _jsonable(v)
                       for k, v in (changes or {}).items()},
              channel=current_channel if channel is None else channel, **_where())],
    )
