"""``pilote scheduler``: enqueue the periodic jobs (``JobSpec.every``) when they are due.

Each tick looks at every registered job with an ``every``; a job whose last run is older than
``every`` (or that never ran) is *claimed* in the ``scheduled_job_run`` table, then enqueued
with :func:`core.jobs.enqueue` (RQ when Redis is configured, inline otherwise). The claim is a
single conditional ``UPDATE`` (or an ``INSERT`` on the primary key for a first run), so two
schedulers, or a scheduler restarted in the middle of a tick, never enqueue the same run twice.

The table is written with SQL statements rather than ORM objects: a tick every minute would
otherwise fill the audit log with bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Callable

from flask import Flask
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from core.db import session as db_session, utcnow
from core.models import ScheduledJobRun

log = logging.getLogger(__name__)
TICK_SECONDS = 60


def periodic_jobs(app: Flask) -> dict[str, dt.timedelta]:
    """``{job name: every}`` of the registered periodic jobs."""
    return {name: spec.every for name, spec in sorted(app.extensions["pilote"].jobs.items())
            if getattr(spec, "every", None)}


def claim(name: str, every: dt.timedelta, now: dt.datetime) -> bool:
    """Record that ``name`` runs at ``now`` if it is due; True when this caller won the run."""
    session = db_session()
    table = ScheduledJobRun.__table__
    result = session.execute(
        update(table).where(table.c.name == name, table.c.last_run_at <= now - every)
        .values(last_run_at=now, runs=table.c.runs + 1))
    if result.rowcount == 1:
        session.commit()
        return True
    exists = session.scalar(select(table.c.name).where(table.c.name == name))
    if exists is not None:
        session.rollback()
        return False  # ran less than ``every`` ago
    try:
        session.execute(insert(table).values(name=name, last_run_at=now, runs=1))
        session.commit()
    except IntegrityError:  # another scheduler inserted it first
        session.rollback()
        return False
    return True


def last_runs() -> dict[str, dt.datetime]:
    table = ScheduledJobRun.__table__
    return {row.name: row.last_run_at for row in db_session().execute(select(table))}


def tick(app: Flask, now: dt.datetime | None = None) -> list[str]:
    """One pass: enqueue every due periodic job once; returns the names enqueued."""
    from core.jobs import enqueue

    now = now or utcnow()
    started = []
    for name, every in periodic_jobs(app).items():
        if not claim(name, every, now):
            continue
        try:
            enqueue(name)
        except Exception:  # noqa: BLE001 - one failing job never stops the others
            log.exception("periodic job %s failed to run", name)
        started.append(name)
    return started


def run(app: Flask, *, interval: float = TICK_SECONDS, once: bool = False,
        echo: Callable[[str], None] = log.info) -> None:
    """Tick now, then every ``interval`` seconds (forever unless ``once``)."""
    while True:
        try:
            with app.app_context():  # a fresh session per tick (removed when the context ends)
                started = tick(app)
        except Exception:  # noqa: BLE001 - e.g. the database restarting: try again next tick
            if once:
                raise
            log.exception("scheduler tick failed")
            started = []
        for name in started:
            echo(f"enqueued {name}")
        if once:
            return
        time.sleep(interval)
