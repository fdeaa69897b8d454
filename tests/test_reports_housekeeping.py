"""Housekeeping of report requests (core/reports/housekeeping.py): productions whose worker
died are marked failed (from the RQ job's real state on Redis, else by the clock), old PDFs and
orphan files are deleted and audited, the pages say « expiré » and offer a retry to the
requester or an administrator only."""

from __future__ import annotations

import datetime as dt
import os
import signal
import uuid

import pytest
from sqlalchemy import select

from core.api import hookimpl
from core.db import session as db_session, utcnow
from core.jobs import enqueue, get_queue, set_worker_app
from core.models import AuditEntry, ReportRequest, ReportStatus, User
from core.reports.housekeeping import CHECK_JOB, HOUSEKEEPER, PURGE_JOB, limits
from core.reports.service import generate_request
from core.scheduler import periodic_jobs
from core.testing.support import client_as, email, redis_url, seeded_app

BRIEF = {"policies": ["CH-101"], "territories": ["department-69"], "period_start": None,
         "period_end": None, "brief": True, "locale": "fr"}


def user_id(role: str) -> int:
    return db_session().scalar(select(User.id).where(User.email == email(role)))


def add_request(role: str, status: ReportStatus, **fields) -> ReportRequest:
    request = ReportRequest(code=uuid.uuid4().hex[:22], user_id=user_id(role), kind="brief",
                            title=fields.pop("title", "Fiche de test"), selection=dict(BRIEF),
                            status=status, sections=1, error=fields.pop("error", ""), **fields)
    db_session().add(request)
    db_session().commit()
    return request


def row(code: str) -> ReportRequest:
    db_session().expire_all()
    return db_session().scalar(select(ReportRequest).where(ReportRequest.code == code))


def housekeeping_audit(entity: str) -> list[AuditEntry]:
    return db_session().scalars(select(AuditEntry).where(
        AuditEntry.entity == entity, AuditEntry.actor_label == HOUSEKEEPER).order_by(AuditEntry.id)).all()


def age(path, days: float) -> None:
    stamp = (utcnow() - dt.timedelta(days=days)).timestamp()
    os.utime(path, (stamp, stamp))


class KillTheHorse:
    """A plugin whose report section kills the process producing the report (SIGKILL, like
    the kernel's OOM killer), unless it is the test process itself."""

    name = "killtest"

    def __init__(self):
        self.parent = os.getpid()

    @hookimpl
    def report_sections(self, report):
        if os.getpid() != self.parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return None


def test_settings_have_defaults_and_jobs_are_periodic(database_factory):
    app = seeded_app(database_factory, PILOTE_REPORTS_RUNNING_TIMEOUT_MINUTES=7)
    try:
        with app.app_context():
            bounds = limits()
            assert bounds.retention == dt.timedelta(days=30) and bounds.queued == dt.timedelta(hours=1)
            assert bounds.running == dt.timedelta(minutes=7)  # the app setting wins over [reports]
        jobs = periodic_jobs(app)
        assert jobs[CHECK_JOB] == dt.timedelta(minutes=5) and jobs[PURGE_JOB] == dt.timedelta(hours=1)
    finally:
        app.extensions["pilote"].db.dispose()


def test_a_killed_worker_is_detected_through_the_real_rq_queue(database_factory, tmp_path):
    from rq import SimpleWorker, Worker
    from rq.job import Job

    url = redis_url().rsplit("/", 1)[0] + "/12"  # a database of its own
    app = seeded_app(database_factory, REDIS_URL=url, PILOTE_REPORTS_DIR=str(tmp_path),
                     PILOTE_REPORTS_QUEUE_ABOVE=1)
    app.extensions["pilote"].pm.register(KillTheHorse(), name="killtest")
    try:
        with app.app_context():
            queue = get_queue(app)
            queue.empty()
        client = client_as(app, "central_steering")
        response = client.post("/rapports/", data={"kind": "report", "policies": ["CH-101", "CH-201"],
                                                   "territories": ["region-84"]})
        assert response.status_code == 302
        killed = response.location.rstrip("/").rsplit("/", 1)[1]
        with app.app_context():
            job_id = row(killed).job_id
            assert job_id and row(killed).status is ReportStatus.QUEUED
        # a real forking worker: its work horse starts the report, then is killed
        set_worker_app(app)
        try:
            Worker([queue], connection=queue.connection).work(burst=True)
        finally:
            set_worker_app(None)
        assert Job.fetch(job_id, connection=queue.connection).get_status() == "failed"
        with app.app_context():
            dead = row(killed)
            assert dead.status is ReportStatus.RUNNING and dead.started_at is not None  # left running
            # the periodic check, through the queue: RQ says failed, long before the clock would
            enqueue(CHECK_JOB)
        set_worker_app(app)
        try:
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
        finally:
            set_worker_app(None)
        with app.app_context():
            dead = row(killed)
            assert dead.status is ReportStatus.FAILED and dead.failure == "interrupted"
            assert f"RQ job {job_id}: failed" in dead.error
            entry = housekeeping_audit("report_request")[-1]
            assert entry.entity_id == str(dead.id) and entry.channel == "job"
            assert entry.changes["status"] == ["running", "failed"]
            # two more: one whose RQ job vanished from Redis, one waiting normally in the queue
            owner = db_session().get(User, dead.user_id)
            from core.reports.model import Selection
            from core.reports.service import create_request

            selection = Selection(("CH-101", "CH-201"), ("region-84",))
            vanished = create_request(owner, selection, "Disparu", 2).code
            waiting = create_request(owner, selection, "En attente", 2).code
            Job.fetch(row(vanished).job_id, connection=queue.connection).delete()
        # opening the page checks the requester's productions at once
        page = client.get("/rapports/").get_data(as_text=True)
        assert page.count("Interrompu") == 2 and "Relancer" in page
        with app.app_context():
            assert row(vanished).status is ReportStatus.FAILED and "missing" in row(vanished).error
            assert row(waiting).status is ReportStatus.QUEUED  # its job is still queued: alive
            assert housekeeping_audit("report_request")[-1].channel == "page"
        status = client.get(f"/rapports/demandes/{killed}").get_data(as_text=True)
        assert "interrompue avant la fin" in status and "Relancer la production" in status
        state = client.get(f"/rapports/demandes/{killed}/etat").get_json()
        assert state["status"] == "failed" and "interrompue" in state["message"]
        # a stale job of an interrupted request never starts it again
        with app.app_context():
            assert generate_request(row(vanished).id) == "skipped"
            assert row(vanished).status is ReportStatus.FAILED
        # the requester retries: a new request of the same selection, queued again
        again = client.post(f"/rapports/demandes/{killed}/relancer")
        assert again.status_code == 302
        fresh = again.location.rstrip("/").rsplit("/", 1)[1]
        with app.app_context():
            assert fresh != killed and row(fresh).status is ReportStatus.QUEUED and row(fresh).job_id
            assert row(fresh).selection["policies"] == ["CH-101", "CH-201"]
        queue.empty()
    finally:
        app.extensions["pilote"].db.dispose()


def test_clock_fallback_without_redis(database_factory, tmp_path):
    app = seeded_app(database_factory, PILOTE_REPORTS_DIR=str(tmp_path))
    try:
        with app.app_context():
            now = utcnow()
            stuck = add_request("local_contributor", ReportStatus.RUNNING, progress=40,
                                created_at=now - dt.timedelta(minutes=25), started_at=now - dt.timedelta(minutes=20))
            busy = add_request("local_contributor", ReportStatus.RUNNING, progress=40,
                               created_at=now - dt.timedelta(hours=2), started_at=now - dt.timedelta(minutes=5))
            forgotten = add_request("local_contributor", ReportStatus.QUEUED, created_at=now - dt.timedelta(hours=2))
            patient = add_request("local_contributor", ReportStatus.QUEUED, created_at=now - dt.timedelta(minutes=30))
            finished = add_request("local_contributor", ReportStatus.DONE, created_at=now - dt.timedelta(days=2),
                                   finished_at=now - dt.timedelta(days=2))
            codes = {name: r.code for name, r in dict(stuck=stuck, busy=busy, forgotten=forgotten,
                                                        patient=patient, finished=finished).items()}
            result = enqueue(CHECK_JOB)  # no Redis: the periodic job runs inline
            assert result.inline and sorted(result.value) == sorted([codes["stuck"], codes["forgotten"]])
            assert row(codes["stuck"]).status is ReportStatus.FAILED
            assert row(codes["stuck"]).error == "interrupted: running for more than 15 min"
            assert row(codes["forgotten"]).error == "interrupted: queued for more than 60 min"
            assert row(codes["busy"]).status is ReportStatus.RUNNING  # started 5 min ago
            assert row(codes["patient"]).status is ReportStatus.QUEUED
            assert row(codes["finished"]).status is ReportStatus.DONE
            assert enqueue(CHECK_JOB).value == []  # nothing more to do
            # 11 minutes later the busy one is over its limit too
            assert enqueue(CHECK_JOB, now=(now + dt.timedelta(minutes=11)).isoformat()).value == [codes["busy"]]
            entries = housekeeping_audit("report_request")
            assert len(entries) == 3 and all(e.channel == "job" and e.actor_id is None for e in entries)
        client = client_as(app, "local_contributor")
        page = client.get(f"/rapports/demandes/{codes['stuck']}").get_data(as_text=True)
        assert "interrompue avant la fin" in page and "Relancer la production" in page
    finally:
        app.extensions["pilote"].db.dispose()


def test_retention_deletes_only_old_files_never_a_running_one(database_factory, tmp_path):
    app = seeded_app(database_factory, PILOTE_REPORTS_DIR=str(tmp_path))
    try:
        with app.app_context():
            now = utcnow()
            old = add_request("local_contributor", ReportStatus.DONE, title="Vieille fiche", pages=1,
                              created_at=now - dt.timedelta(days=41), finished_at=now - dt.timedelta(days=40))
            recent = add_request("local_contributor", ReportStatus.DONE, title="Fiche récente", pages=1,
                                 created_at=now - dt.timedelta(days=5), finished_at=now - dt.timedelta(days=5))
            running = add_request("local_contributor", ReportStatus.RUNNING,
                                  created_at=now - dt.timedelta(days=40), started_at=now - dt.timedelta(days=40))
            failed = add_request("local_contributor", ReportStatus.FAILED, failure="interrupted",
                                 created_at=now - dt.timedelta(days=1), finished_at=now - dt.timedelta(days=1))
            for request in (old, recent):
                request.file_name = f"{request.code}.pdf"
                (tmp_path / request.file_name).write_bytes(b"%PDF-1.7 test")
            db_session().commit()
            files = {
                "old": tmp_path / f"{old.code}.pdf", "recent": tmp_path / f"{recent.code}.pdf",
                "running": tmp_path / f"{running.code}.part",          # in production: never touched
                "leftover": tmp_path / f"{failed.code}.pdf",           # of a request that failed
                "orphan": tmp_path / "AAAAAAAAAAAAAAAAAAAAAA.pdf",     # no request at all
                "young_orphan": tmp_path / "BBBBBBBBBBBBBBBBBBBBBB.pdf",
                "other": tmp_path / "notes.txt",                       # not ours
            }
            for key, path in files.items():
                if not path.exists():
                    path.write_bytes(b"x" * 10)
                age(path, {"recent": 5, "leftover": 0.5, "young_orphan": 2}.get(key, 40))
            old_code, recent_code, running_code = old.code, recent.code, running.code
            result = enqueue(PURGE_JOB)
            assert result.value == {"expired": 1, "leftovers": 1, "orphans": 1}
            assert not files["old"].exists() and not files["leftover"].exists() and not files["orphan"].exists()
            for key in ("recent", "running", "young_orphan", "other"):
                assert files[key].exists(), key
            expired = row(old_code)
            assert expired.status is ReportStatus.DONE and expired.expired_at is not None and expired.file_name is None
            assert row(recent_code).expired_at is None and row(running_code).status is ReportStatus.RUNNING
            deleted = {e.entity_id: e for e in housekeeping_audit("report_file")}
            assert set(deleted) == {files["old"].name, files["leftover"].name, files["orphan"].name}
            assert deleted[files["old"].name].changes == {"reason": "expired", "request": old_code, "size_bytes": 13}
            assert deleted[files["orphan"].name].changes["reason"] == "orphan"
            assert all(e.action == "delete" and e.channel == "job" for e in deleted.values())
            update = housekeeping_audit("report_request")[-1]
            assert update.changes["file_name"] == [f"{old_code}.pdf", None]
            assert enqueue(PURGE_JOB).value == {"expired": 0, "leftovers": 0, "orphans": 0}
        client = client_as(app, "local_contributor")
        page = client.get("/rapports/").get_data(as_text=True)
        assert "Expiré" in page and f"/rapports/demandes/{old_code}/relancer" in page
        assert f"/rapports/demandes/{old_code}.pdf" not in page  # no broken link
        assert f"/rapports/demandes/{recent_code}.pdf" in page
        assert f"/rapports/demandes/{recent_code}/relancer" not in page
        status = client.get(f"/rapports/demandes/{old_code}").get_data(as_text=True)
        assert "Ce document a expiré" in status and "Relancer la production" in status
        state = client.get(f"/rapports/demandes/{old_code}/etat").get_json()
        assert state["expired"] is True and state["download"] is None and state["status"] == "done"
        assert client.get(f"/rapports/demandes/{old_code}.pdf").status_code == 404
        assert client.get(f"/rapports/demandes/{recent_code}.pdf").status_code == 200
    finally:
        app.extensions["pilote"].db.dispose()


@pytest.mark.parametrize("role, allowed", [("reader", False), ("local_contributor", True), ("admin", True)])
def test_only_the_requester_or_an_administrator_may_retry(database_factory, tmp_path, role, allowed):
    app = seeded_app(database_factory, PILOTE_REPORTS_DIR=str(tmp_path))
    try:
        with app.app_context():
            failed = add_request("local_contributor", ReportStatus.FAILED, failure="interrupted",
                                 error="interrupted: running for more than 15 min")
            running = add_request("local_contributor", ReportStatus.RUNNING, started_at=utcnow())
            failed_code, running_code, owner = failed.code, running.code, failed.user_id
            before = db_session().scalar(select(ReportRequest.id).order_by(ReportRequest.id.desc()))
        client = client_as(app, role)
        response = client.post(f"/rapports/demandes/{failed_code}/relancer")
        with app.app_context():
            made = db_session().scalars(select(ReportRequest).where(ReportRequest.id > before)).all()
            if not allowed:
                assert response.status_code == 404 and made == []
                return
            assert response.status_code == 302 and len(made) == 1
            fresh = made[0]
            # made inline (no Redis) for the requester, whoever clicked
            assert fresh.user_id == owner and fresh.status is ReportStatus.DONE, fresh.error
            assert (tmp_path / fresh.file_name).is_file() and response.location.endswith(fresh.code)
            assert row(failed_code).status is ReportStatus.FAILED  # the old one stays as it was
        # nothing to retry while it is still in production
        assert client.post(f"/rapports/demandes/{running_code}/relancer").status_code == 409
    finally:
        app.extensions["pilote"].db.dispose()
