"""Make a PDF from a selection, and run stored report requests (inline or as queued jobs)."""

from __future__ import annotations

import os
import secrets
import traceback
from pathlib import Path
from typing import Any, Callable

from flask import current_app
from sqlalchemy import select

from core.db import session as db_session, utcnow
from core.models import ReportRequest, ReportStatus, User
from core.plugins import call_in_order, keyed_registry
from core.reports.model import Report, Selection, build_report
from core.reports.render import RenderedPdf, render_brief, render_report
from core.reports.sections import brief_context

JOB_NAME = "reports.generate"
DEFAULT_QUEUE_ABOVE = 6  # chapters: bigger reports are queued when Redis is configured


def collect_sections(report: Report) -> list:
    """Every section of ``report`` from the ``report_sections`` hook (plugins first, the core's
    last); a plugin's keys must start with its name, duplicates stop the report."""
    pm = current_app.extensions["pilote"].pm
    sections = keyed_registry(call_in_order(pm, "report_sections", report=report), "key", "report section")
    return list(sections.values())


def make_pdf(selection: Selection, user: Any = None,
             progress: Callable[[int], None] | None = None) -> RenderedPdf:
    """The PDF of ``selection`` as ``user`` may read it (None: the operator, everything)."""
    report = build_report(db_session(), selection, user)
    if progress:
        progress(10)
    if report.brief:
        return render_brief(report, brief_context(report))
    sections = collect_sections(report)
    if progress:
        progress(60)
    return render_report(report, sections, progress)


# --------------------------------------------------------------------------- stored requests
def _setting(key: str) -> Any:
    """An app setting (``create_app(settings=…)``), else the environment variable."""
    return current_app.config.get(key) or os.environ.get(key)


def reports_dir(create: bool = True) -> Path:
    """Where generated PDFs are kept: ``PILOTE_REPORTS_DIR``, else ``<var>/reports``
    (created unless ``create`` is False)."""
    configured = _setting("PILOTE_REPORTS_DIR")
    folder = Path(configured) if configured else current_app.extensions["pilote"].config.var_dir / "reports"
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_of(request: ReportRequest) -> Path | None:
    if not request.file_name:
        return None
    path = reports_dir() / request.file_name
    return path if path.is_file() else None


def queue_threshold() -> int:
    return int(_setting("PILOTE_REPORTS_QUEUE_ABOVE") or DEFAULT_QUEUE_ABOVE)


def create_request(user: User, selection: Selection, title: str, chapters: int,
                   locale: str | None = None) -> ReportRequest:
    """Store a new request of ``user`` (committed) and start it: queued on Redis when the
    report has more than :func:`queue_threshold` chapters and a queue exists, else inline.
    ``locale``: the PDF's language (default: the current request's)."""
    from core.jobs import enqueue, get_queue

    session = db_session()
    request = ReportRequest(code=secrets.token_urlsafe(16), user_id=user.id, title=title[:300],
                            kind="brief" if selection.brief else "report",
                            selection={**selection.to_json(),
                                       "locale": _locale() if locale is None else locale},
                            status=ReportStatus.QUEUED,
                            sections=chapters, error="")
    session.add(request)
    session.commit()
    queued = chapters > queue_threshold() and get_queue(current_app._get_current_object()) is not None
    if queued:
        job = enqueue(JOB_NAME, request_id=request.id)
        _update(request.id, job_id=job.id)
    else:
        generate_request(request.id)
    session.refresh(request)
    return request


def _locale() -> str:
    from flask import has_request_context
    from flask_babel import get_locale

    return str(get_locale()) if has_request_context() else ""


def _update(request_id: int, expect: ReportStatus | None = None, **fields: Any) -> bool:
    """Write the request's state in its own short transaction (audited), so that the long
    read of the report never holds a write lock. With ``expect``, only while the request is
    in that status (the row is locked first): False when it was not, nothing written."""
    factory = current_app.extensions["pilote"].db.session_factory
    with factory() as session:
        request = session.scalar(select(ReportRequest).where(ReportRequest.id == request_id)
                                 .with_for_update())
        if request is None or (expect is not None and request.status is not expect):
            return False
        for name, value in fields.items():
            setattr(request, name, value)
        session.commit()
    return True


def generate_request(request_id: int) -> str:
    """The job: build the request's PDF as its requester may read it and store it.
    Returns the final status. Only a queued request starts: a job left in the queue for a
    request since marked interrupted (see core.reports.housekeeping) does nothing."""
    session = db_session()
    request = session.get(ReportRequest, request_id)
    if request is None:
        return "missing"
    user = session.scalar(select(User).where(User.id == request.user_id))
    if not _update(request_id, expect=ReportStatus.QUEUED, status=ReportStatus.RUNNING, progress=5,
                   started_at=utcnow()):
        return "skipped"
    try:
        # templates and translations need a request: one in the requester's language
        with current_app.test_request_context(query_string={"lang": request.selection.get("locale", "")}):
            pdf = make_pdf(Selection.from_json(request.selection), user,
                           progress=lambda value: _update(request_id, expect=ReportStatus.RUNNING,
                                                            progress=value))
        name = f"{request.code}.pdf"
        target = reports_dir() / name
        partial = target.with_suffix(".part")
        partial.write_bytes(pdf.data)
        partial.replace(target)
    except Exception as exc:  # noqa: BLE001 - the requester sees that it failed, logs say why
        current_app.logger.error("report %s failed:\n%s", request.code, traceback.format_exc())
        _update(request_id, expect=ReportStatus.RUNNING, status=ReportStatus.FAILED, failure="error",
                error=str(exc)[:500], finished_at=utcnow())
        return ReportStatus.FAILED.value
    if not _update(request_id, expect=ReportStatus.RUNNING, status=ReportStatus.DONE, progress=100,
                   pages=pdf.pages, size_bytes=len(pdf.data), file_name=name, finished_at=utcnow()):
        # marked interrupted while it ran (too slow, or taken for dead): the page says failed
        target.unlink(missing_ok=True)
        return "abandoned"
    return ReportStatus.DONE.value
