"""Housekeeping of report requests: productions that will never end, and old PDF files.

* :func:`fail_interrupted` marks failed (``failure="interrupted"``) every queued or running
  request whose production will never end: its RQ job failed, was stopped or cancelled, ended
  without recording a result, disappeared from Redis, or runs on a worker that is gone; or,
  whatever the queue says (and without a queue), it has been running longer than
  ``[reports] running_timeout_minutes`` or queued longer than ``queued_timeout_minutes``.
  Its requester (or an administrator) can then start it again. Run every 5 minutes by the job
  ``reports.check_interrupted`` and, for one user's requests, when that user opens the reports
  pages.
* :func:`purge_files` deletes the PDF of every done request finished more than
  ``[reports] retention_days`` ago (the row stays, with ``expired_at``), and the files of the
  reports folder that no live request uses. Run hourly by the job ``reports.purge_files``.

Every change is audited under the actor :data:`HOUSEKEEPER`: row updates by the audit
listener, each deleted file by one ``delete`` entry of entity ``report_file``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_, select

from core.audit import acting_as, record_event
from core.db import session as db_session, utcnow
from core.models import ReportRequest, ReportStatus
from core.reports.service import reports_dir

log = logging.getLogger(__name__)

HOUSEKEEPER = "pilote reports housekeeping"
CHECK_JOB = "reports.check_interrupted"
PURGE_JOB = "reports.purge_files"
OPEN = (ReportStatus.QUEUED, ReportStatus.RUNNING)
# A file left by a request that is no longer in production (a ``.part`` of a killed job, the
# PDF of a request marked interrupted) is deleted once this old.
LEFTOVER_GRACE = dt.timedelta(hours=1)
FILE_SUFFIXES = (".pdf", ".part")


@dataclass(frozen=True)
class Limits:
    retention: dt.timedelta
    running: dt.timedelta
    queued: dt.timedelta


def _number(setting: str, key: str) -> int:
    """App setting (``create_app(settings=…)``), else environment variable, else ``[reports]``."""
    value = current_app.config.get(setting)
    if value is None or value == "":
        value = os.environ.get(setting) or None
    if value is None:
        value = current_app.extensions["pilote"].config.data["reports"][key]
    return int(value)


def limits() -> Limits:
    return Limits(
        retention=dt.timedelta(days=_number("PILOTE_REPORTS_RETENTION_DAYS", "retention_days")),
        running=dt.timedelta(minutes=_number("PILOTE_REPORTS_RUNNING_TIMEOUT_MINUTES", "running_timeout_minutes")),
        queued=dt.timedelta(minutes=_number("PILOTE_REPORTS_QUEUED_TIMEOUT_MINUTES", "queued_timeout_minutes")),
    )


# --------------------------------------------------------------------------- interrupted
def rq_verdict(queue, job_id: str) -> str | None:
    """Why the RQ job ``job_id`` will never finish its request, None while it still may:
    ``missing`` (no longer in Redis), ``failed`` (e.g. its work horse was killed), ``stopped``,
    ``canceled``, ``finished`` (ended without recording a result) or ``worker lost`` (started
    by a worker whose heartbeat key has expired: the process is gone)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus
    from rq.worker import Worker

    try:
        job = Job.fetch(job_id, connection=queue.connection)
    except NoSuchJobError:
        return "missing"
    status = job.get_status(refresh=False)
    if status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED):
        return status.value
    if status == JobStatus.STARTED and job.worker_name and not queue.connection.exists(
            Worker.redis_worker_namespace_prefix + job.worker_name):
        return "worker lost"
    return None


def interruption(request: ReportRequest, now: dt.datetime, limits: Limits, queue=None) -> str | None:
    """The (technical, English) reason why ``request`` will never end, None while it may."""
    if queue is not None and request.job_id:
        try:
            verdict = rq_verdict(queue, request.job_id)
        except Exception:  # noqa: BLE001 - Redis unreachable: the clock still decides
            log.warning("cannot read RQ job %s of report %s", request.job_id, request.code, exc_info=True)
            verdict = None
        if verdict:
            return f"RQ job {request.job_id}: {verdict}"
    if request.status is ReportStatus.RUNNING:
        since = request.started_at or request.created_at
        if now - since > limits.running:
            return f"running for more than {int(limits.running.total_seconds() // 60)} min"
    elif now - request.created_at > limits.queued:
        return f"queued for more than {int(limits.queued.total_seconds() // 60)} min"
    return None


def _stop_job(queue, job_id: str) -> None:
    """Best effort: a job taken for dead must not start (or go on) later."""
    try:
        from rq.command import send_stop_job_command
        from rq.job import Job, JobStatus

        job = Job.fetch(job_id, connection=queue.connection)
        status = job.get_status(refresh=False)
        if status in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED):
            job.cancel()
        elif status == JobStatus.STARTED:
            send_stop_job_command(queue.connection, job_id)
    except Exception:  # noqa: BLE001 - already gone, or Redis unreachable: nothing to stop
        pass


def fail_interrupted(now: dt.datetime | None = None, user_id: int | None = None,
                     channel: str = "job") -> list[str]:
    """Mark failed every queued or running request (of ``user_id`` only, when given) whose
    production will never end; returns their codes. Each request is re-read under a row lock
    before it is written, so a production that ends meanwhile is left as it ended."""
    from core.jobs import get_queue

    now = now or utcnow()
    bounds = limits()
    session = db_session()
    query = select(ReportRequest).where(ReportRequest.status.in_(OPEN)).order_by(ReportRequest.id)
    if user_id is not None:
        query = query.where(ReportRequest.user_id == user_id)
    candidates = session.scalars(query).all()
    if not candidates:
        return []
    queue = get_queue(current_app._get_current_object())
    failed = []
    for request in candidates:
        seen = request.status
        reason = interruption(request, now, bounds, queue)
        if reason is None:
            continue
        session.refresh(request, with_for_update=True)
        if request.status is not seen:  # it moved on meanwhile (started, ended): next time
            session.rollback()
            continue
        with acting_as(None, HOUSEKEEPER, channel):
            request.status = ReportStatus.FAILED
            request.failure = "interrupted"
            request.error = f"interrupted: {reason}"[:500]
            request.finished_at = now
            session.commit()
        log.warning("report %s marked interrupted: %s", request.code, reason)
        if queue is not None and request.job_id:
            _stop_job(queue, request.job_id)
        failed.append(request.code)
    return failed


# --------------------------------------------------------------------------- retention
def _delete_file(session, path: Path, reason: str, code: str) -> None:
    size = path.stat().st_size
    path.unlink()
    record_event(session, "delete", "report_file", path.name,
                 {"reason": reason, "request": code, "size_bytes": size})


def _modified(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)


def purge_files(now: dt.datetime | None = None, channel: str = "job") -> dict[str, int]:
    """Delete the PDFs of done requests finished more than ``retention_days`` ago (the row
    stays, with ``expired_at``), then the files of the reports folder no live request uses:
    files of requests no longer in production after :data:`LEFTOVER_GRACE`, and files of no
    request at all once older than the retention period too (the folder may be shared by
    mistake with another database). A request in production is never touched, nor its files.
    Returns counts: ``expired`` requests, ``leftovers`` and ``orphans`` deleted."""
    now = now or utcnow()
    bounds = limits()
    cutoff = now - bounds.retention
    session = db_session()
    folder = reports_dir(create=False)
    counts = {"expired": 0, "leftovers": 0, "orphans": 0}
    old = session.scalars(select(ReportRequest).where(
        ReportRequest.status == ReportStatus.DONE, ReportRequest.expired_at.is_(None),
        or_(ReportRequest.finished_at < cutoff,
            and_(ReportRequest.finished_at.is_(None), ReportRequest.created_at < cutoff)),
    ).order_by(ReportRequest.id)).all()
    for request in old:
        with acting_as(None, HOUSEKEEPER, channel):
            path = folder / request.file_name if request.file_name else None
            if path is not None and path.is_file():
                _delete_file(session, path, "expired", request.code)
            request.expired_at = now
            request.file_name = None
            session.commit()  # one request at a time: a deleted file is never left unrecorded for long
        counts["expired"] += 1
    if not folder.is_dir():
        return counts
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix in FILE_SUFFIXES]
    known: dict[str, tuple[ReportStatus, str | None]] = {}
    codes = sorted({p.stem for p in files})
    for start in range(0, len(codes), 500):
        for code, status, file_name in session.execute(
                select(ReportRequest.code, ReportRequest.status, ReportRequest.file_name)
                .where(ReportRequest.code.in_(codes[start:start + 500]))):
            known[code] = (status, file_name)
    with acting_as(None, HOUSEKEEPER, channel):
        for path in files:
            row = known.get(path.stem)
            if row is not None and (row[0] in OPEN or (row[0] is ReportStatus.DONE and row[1] == path.name)):
                continue  # in production, or the PDF of a live request
            grace = LEFTOVER_GRACE if row is not None else max(bounds.retention, LEFTOVER_GRACE)
            try:
                if now - _modified(path) < grace:
                    continue
                _delete_file(session, path, "leftover" if row is not None else "orphan",
                             path.stem if row is not None else "")
            except FileNotFoundError:  # removed meanwhile
                continue
            counts["leftovers" if row is not None else "orphans"] += 1
        session.commit()
    if any(counts.values()):
        log.info("report files purged: %s", counts)
    return counts
