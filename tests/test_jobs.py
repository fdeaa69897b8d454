"""Jobs run inline without Redis and through a real RQ queue on Redis when configured."""

import uuid

import pytest
from sqlalchemy import select

from core.api import JobSpec, Organisation, db_session, hookimpl
from core.jobs import enqueue, get_queue, set_worker_app
from core.testing.support import redis_url


def create_organisation(code):
    db_session().add(Organisation(code=code, acronym=code, name=f"Organisation {code}"))
    db_session().commit()
    return code


class JobsPlugin:
    name = "jobtest"

    @hookimpl
    def register_jobs(self):
        return [JobSpec("jobtest.create", create_organisation, "test job")]


def test_inline_without_redis(make_app):
    app = make_app(extra_plugins=[JobsPlugin()])
    with app.app_context():
        result = enqueue("jobtest.create", code="INLINE")
        assert result.inline and result.value == "INLINE"
        assert db_session().scalar(select(Organisation.code)) == "INLINE"


def test_unknown_job_is_refused(make_app):
    app = make_app()
    with app.app_context(), pytest.raises(KeyError):
        enqueue("nothing.here")


def test_through_redis_and_a_worker(make_app):
    from rq import SimpleWorker

    app = make_app(extra_plugins=[JobsPlugin()], settings={"REDIS_URL": redis_url()})
    code = uuid.uuid4().hex[:8]
    with app.app_context():
        queue = get_queue(app)
        queue.empty()
        result = enqueue("jobtest.create", code=code)
        assert not result.inline and result.id
        assert db_session().scalar(select(Organisation.code)) is None  # not run yet
    set_worker_app(app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        set_worker_app(None)
    assert queue.fetch_job(result.id).get_status() == "finished"
    with app.app_context():
        assert db_session().scalar(select(Organisation.code)) == code
