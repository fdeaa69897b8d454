"""Background jobs: RQ on Redis when ``PILOTE_REDIS_URL`` is set, inline otherwise.

Jobs are registered by the ``register_jobs`` hook (core and plugins) and called by name, so
that a worker process (``pilote worker``) runs them inside its own app of the same instance.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app

from core.audit import acting_as, current_actor


class JobResult:
    """What :func:`enqueue` returns: an RQ job id, or the value of an inline run."""

    def __init__(self, job_id: str | None = None, value: Any = None, inline: bool = False):
        self.id = job_id
        self.value = value
        self.inline = inline


def queue_name(app: Flask) -> str:
    return f"pilote-{app.extensions['pilote'].config.slug}"


def get_queue(app: Flask):
    """The RQ queue of the instance, or None when no Redis is configured."""
    url = app.config.get("PILOTE_REDIS_URL")
    if not url:
        return None
    from redis import Redis
    from rq import Queue

    return Queue(queue_name(app), connection=Redis.from_url(url))


def enqueue(name: str, **kwargs: Any) -> JobResult:
    """Run job ``name`` in the background (or now, inline, without Redis)."""
    app = current_app._get_current_object()
    if name not in app.extensions["pilote"].jobs:
        raise KeyError(f"unknown job {name!r}")
    actor = current_actor()
    queue = get_queue(app)
    if queue is None:
        return JobResult(value=run_job(name, kwargs, actor), inline=True)
    job = queue.enqueue(run_job, name, kwargs, actor, description=name)
    return JobResult(job_id=job.id)


_worker_app: Flask | None = None


def set_worker_app(app: Flask | None) -> None:
    """The app a worker process runs jobs in (``pilote worker`` sets it)."""
    global _worker_app
    _worker_app = app
    if app is not None:
        import os

        # RQ forks a child per job: it must not reuse the parent's pooled connections.
        engine = app.extensions["pilote"].db.engine
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


def run_job(name: str, kwargs: dict[str, Any], actor: tuple[int | None, str, str]) -> Any:
    """Entry point of every job, inline or in a worker; writes are attributed to ``actor``."""
    from flask import has_app_context

    app = current_app._get_current_object() if has_app_context() else _worker_app
    if app is None:
        raise RuntimeError("no Pilote app: start workers with `pilote worker`")
    with app.app_context(), acting_as(actor[0], actor[1], "job"):
        return app.extensions["pilote"].jobs[name].func(**kwargs)
