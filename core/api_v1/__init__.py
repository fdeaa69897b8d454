"""The REST API, ``/api/v1``: reads, writes of values and comments, API tokens, OpenAPI.

:func:`init_app` is the one wiring point (blueprint, CSRF exemption, problem documents for
routing errors); it is idempotent. Token authentication for the rest of the app goes through
the ``user_from_request`` hook, whose core implementation calls
:func:`core.api_v1.tokens.user_from_token`; the API's own views authenticate tokens themselves
(:func:`core.api_v1.tokens.current_caller`), so they work whichever hook answers first.

CSRF: the blueprint is exempt from Flask-WTF's automatic check because its writes are
authenticated by a token (``Authorization`` is never sent by a browser on its own). Writes of
data refuse browser sessions outright; token management from a session checks the CSRF token
explicitly (:func:`core.api_v1.tokens.require_session_write`).
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

from core.api_v1 import errors  # noqa: E402

errors.register(bp)

from core.api_v1 import openapi, views  # noqa: E402,F401  (register the routes)

_STATE = "pilote_api_v1"


def init_app(app: Flask) -> None:
    """Register the API on ``app``: idempotent, call it before the first request."""
    state = app.extensions.setdefault(_STATE, {})
    if state.get("ready"):
        return
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)
    app.before_request(errors.routing_problem(bp.url_prefix))
    state["ready"] = True


__all__ = ["bp", "init_app"]
