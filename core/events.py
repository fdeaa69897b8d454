"""Domain events, dispatched to the ``on_event`` hook after the transaction commits."""

from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from core.specs import Event

log = logging.getLogger(__name__)
_PENDING = "pilote_pending_events"


def emit(session: Session, name: str, **payload) -> None:
    """Queue an event; it is delivered only if (and once) ``session`` commits."""
    if not session.in_transaction():
        session.begin()  # so that a rollback before any SQL still discards the event
    session.info.setdefault(_PENDING, []).append(Event(name, payload))


@sa_event.listens_for(Session, "after_commit")
def _dispatch(session: Session) -> None:
    events = session.info.pop(_PENDING, [])
    if not events or not has_app_context():
        return
    pm = current_app.extensions["pilote"].pm
    for evt in events:
        try:
            pm.hook.on_event(event=evt)
        except Exception:  # a listener must never undo a committed write
            log.exception("on_event listener failed for %s", evt.name)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop(session: Session, previous_transaction) -> None:
    """Any rollback discards the queued events (even when no SQL had been sent yet)."""
    session.info.pop(_PENDING, None)
