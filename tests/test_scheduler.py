"""``pilote scheduler``: due periodic jobs are enqueued once (not twice, not by a second
scheduler, not after a restart), inline without Redis and on a real RQ queue with Redis."""

from __future__ import annotations

import datetime as dt
import uuid

from click.testing import CliRunner
from sqlalchemy import func, select

import core.cli_context
from core.api import JobSpec, Organisation, db_session, hookimpl
from core.cli import cli
from core.models import ScheduledJobRun
from core.scheduler import claim, periodic_jobs, tick
from core.testing.support import redis_url

JOB = "schedtest.tick"


def add_organisation(code: str | None = None):
    code = code or uuid.uuid4().hex[:10]
    db_session().add(Organisation(code=code, acronym=code, name=f"Organisation {code}"))
    db_session().commit()
    return code


class PeriodicPlugin:
    name = "schedtest"

    @hookimpl
    def register_jobs(self):
        return [JobSpec(JOB, add_organisation, "test periodic job", every=dt.timedelta(hours=6)),
                JobSpec("schedtest.once", add_organisation, "not periodic")]


def organisations() -> int:
    return db_session().scalar(select(func.count(Organisation.id)).where(Organisation.name.like("Organisation %")))


def test_periodic_jobs_are_those_with_every(make_app):
    app = make_app(plugins=[], extra_plugins=[PeriodicPlugin()])
    jobs = periodic_jobs(app)
    assert jobs[JOB] == dt.timedelta(hours=6) and "schedtest.once" not in jobs
    assert jobs["mail.weekly_digest"] == dt.timedelta(hours=1)  # the digest job is registered


def test_inline_tick_runs_due_jobs_once_then_again_when_due(make_app):
    app = make_app(plugins=[], extra_plugins=[PeriodicPlugin()])
    now = dt.datetime(2030, 3, 4, 8, 0, tzinfo=dt.timezone.utc)
    with app.app_context():
        assert JOB in tick(app, now)
        assert organisations() == 1  # inline: already run
        assert JOB not in tick(app, now)  # the same tick again: not due
        assert JOB not in tick(app, now + dt.timedelta(hours=5, minutes=59))
        assert organisations() == 1
        assert JOB in tick(app, now + dt.timedelta(hours=6))
        assert organisations() == 2
        row = db_session().get(ScheduledJobRun, JOB)
        assert row.runs == 2 and row.last_run_at == now + dt.timedelta(hours=6)


def test_a_second_scheduler_or_a_restart_does_not_run_it_again(make_app, database_factory):
    from core.app import create_app

    app = make_app(plugins=[], extra_plugins=[PeriodicPlugin()])
    now = dt.datetime(2030, 3, 4, 8, 0, tzinfo=dt.timezone.utc)
    with app.app_context():
        assert claim(JOB, dt.timedelta(hours=6), now) is True
    # another process on the same database (a second scheduler, or this one restarted)
    other = create_app(app.extensions["pilote"].config.path, settings={
        "DATABASE_URL": app.extensions["pilote"].config.database_url, "SECRET_KEY": "x", "TESTING": True,
    }, extra_plugins=[PeriodicPlugin()])
    try:
        with other.app_context():
            assert claim(JOB, dt.timedelta(hours=6), now + dt.timedelta(minutes=1)) is False
            assert JOB not in tick(other, now + dt.timedelta(hours=1))
            assert organisations() == 0
    finally:
        other.extensions["pilote"].db.dispose()


def test_pilote_scheduler_once_enqueues_due_jobs_once_not_twice(make_app, monkeypatch):
    app = make_app(plugins=[], extra_plugins=[PeriodicPlugin()])
    monkeypatch.setattr(core.cli_context, "make_app", lambda ctx: app)
    runner = CliRunner()
    first = runner.invoke(cli, ["scheduler", "--once"])
    assert first.exit_code == 0, first.output
    assert f"enqueued {JOB}" in first.output and "enqueued mail.weekly_digest" in first.output
    second = runner.invoke(cli, ["scheduler", "--once"])
    assert second.exit_code == 0, second.output
    assert JOB not in second.output
    with app.app_context():
        assert organisations() == 1
        assert db_session().get(ScheduledJobRun, JOB).runs == 1


def test_through_a_real_redis_queue_and_a_worker(make_app):
    from rq import SimpleWorker

    from core.jobs import get_queue, set_worker_app

    app = make_app(plugins=[], extra_plugins=[PeriodicPlugin()], settings={"REDIS_URL": redis_url()})
    now = dt.datetime(2030, 3, 4, 8, 0, tzinfo=dt.timezone.utc)
    with app.app_context():
        queue = get_queue(app)
        queue.empty()
        started = tick(app, now)
        assert JOB in started
        assert organisations() == 0  # queued, not run
        queued = [job.description for job in queue.get_jobs()]
        assert queued.count(JOB) == 1 and "mail.weekly_digest" in queued
        assert tick(app, now + dt.timedelta(minutes=1)) == []  # nothing queued twice
        assert len(queue.get_jobs()) == len(queued)
    set_worker_app(app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        set_worker_app(None)
    with app.app_context():
        db_session().expire_all()
        assert organisations() == 1
    assert queue.count == 0
