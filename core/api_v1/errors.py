"""Errors of the REST API as ``application/problem+json`` (RFC 9457).

Every error answered under ``/api/v1`` — raised by a view (:class:`ApiError`, an HTTP exception,
a marshmallow :class:`~marshmallow.ValidationError`) or by routing (unknown URL, wrong method) —
is a JSON object with ``type``, ``title``, ``status``, ``detail`` and ``instance``; validation
problems add ``errors``, one entry per invalid field with its location (``field``, ``pointer``
into the body, ``index`` of the item in a bulk request) and a ``detail``.

Problem types specific to Pilote are documented on the API reference page
(``/api/v1/docs#problem-<slug>``); generic HTTP errors use ``about:blank``.
"""

from __future__ import annotations

from typing import Any, Iterable

from flask import Blueprint, Response, current_app, request, url_for
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import RequestRedirect

PROBLEM_MIMETYPE = "application/problem+json"

# slug: (title, when it happens). Rendered on the docs page with an anchor per slug.
PROBLEM_TYPES: dict[str, tuple[str, str]] = {
    "validation": (
        "Invalid request",
        "The query string or the body does not validate. `errors` lists every problem: `field` "
        "(dotted path), `pointer` (JSON pointer into the body), `index` (item of a bulk request) "
        "and `detail`. Nothing was written.",
    ),
    "version-conflict": (
        "Version conflict",
        "A value was changed since the version you sent (`version`). The answer carries "
        "`expected_version`, `current_version` and the current value; nothing was written.",
    ),
    "concurrent-write": (
        "Concurrent write",
        "Another request wrote the same rows at the same time; nothing was written. Retry.",
    ),
    "invalid-token": (
        "Invalid token",
        "The `Authorization` header does not carry a valid API token (unknown, revoked, expired, "
        "malformed, or its user is deactivated).",
    ),
    "token-required": (
        "API token required",
        "Writes of values and comments are accepted with an API token only "
        "(`Authorization: Bearer pil_…`), never with a browser session.",
    ),
    "session-required": (
        "Browser session required",
        "Tokens are created from a signed-in browser session (or with `pilote tokens create`), "
        "never with another token.",
    ),
    "read-only-token": (
        "Read-only token",
        "The token was created read-only: it cannot write.",
    ),
    "csrf": (
        "CSRF token missing or invalid",
        "A write made with a browser session must send the page's CSRF token in the "
        "`X-CSRFToken` header.",
    ),
    "forbidden": (
        "Not allowed",
        "Your grants do not allow this write (action, policy or territory). With a bulk request, "
        "`errors` lists the refused items; nothing was written.",
    ),
}


def problem_type_uri(slug: str | None) -> str:
    """The documentation URL of a problem type (``about:blank`` for plain HTTP errors)."""
    if not slug:
        return "about:blank"
    try:
        return url_for("api_v1.docs", _external=True) + f"#problem-{slug}"
    except Exception:  # noqa: BLE001 - blueprint not registered: still a valid answer
        return f"about:blank#{slug}"


class ApiError(Exception):
    """Raise from a view to answer a problem document."""

    def __init__(self, status: int, detail: str | None = None, *, type: str | None = None,
                 title: str | None = None, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or HTTP_STATUS_CODES.get(status, ""))
        self.status = status
        self.detail = detail
        self.type = type
        self.title = title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem(status: int, detail: str | None = None, *, type: str | None = None,
            title: str | None = None, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> Response:
    """A ``application/problem+json`` response."""
    if title is None:
        title = PROBLEM_TYPES[type][0] if type in PROBLEM_TYPES else HTTP_STATUS_CODES.get(status, "Error")
    body: dict[str, Any] = {
        "type": problem_type_uri(type),
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": request.path,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    response = Response(current_app.json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    if status == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Bearer realm="pilote"'
    return response


def validation_errors(messages: Any, *, prefix: tuple = (), indexed: bool = False) -> list[dict[str, Any]]:
    """Flatten marshmallow's nested messages into ``{field, pointer, index?, detail}`` entries.

    ``indexed``: the top level is a list (bulk body), so its keys are item indexes.
    """
    out: list[dict[str, Any]] = []

    def walk(node: Any, path: tuple) -> None:
        if isinstance(node, dict):
            for key, sub in node.items():
                walk(sub, (*path, key))
        elif isinstance(node, (list, tuple)) and node and all(isinstance(m, str) for m in node):
            for message in node:
                out.append(error_entry(path, message, indexed=indexed))
        elif isinstance(node, (list, tuple)):
            for sub in node:
                walk(sub, path)
        else:
            out.append(error_entry(path, str(node), indexed=indexed))

    walk(messages, prefix)
    return out


def error_entry(path: Iterable, detail: str, *, indexed: bool = False) -> dict[str, Any]:
    """One entry of ``errors``: ``path`` is the location in the body (index first if bulk)."""
    parts = list(path)
    entry: dict[str, Any] = {}
    if indexed and parts and isinstance(parts[0], int):
        entry["index"] = parts[0]
        fields = parts[1:]
    else:
        fields = parts
    entry["field"] = ".".join(str(p) for p in fields if p != "_schema") or None
    entry["pointer"] = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1")
                                      for p in parts if p != "_schema")
    entry["detail"] = detail
    return entry


def query_errors(messages: Any) -> list[dict[str, Any]]:
    """Validation entries of query-string parameters (``field`` is the parameter name)."""
    out = []
    for entry in validation_errors(messages):
        out.append({"field": entry["field"], "in": "query", "detail": entry["detail"]})
    return out


# --------------------------------------------------------------------------- handlers
HANDLED_CODES = (400, 401, 403, 404, 405, 406, 409, 410, 412, 413, 415, 422, 428, 429, 500, 501, 503)


def _http_error(error: HTTPException):
    code = error.code or 500
    detail = error.description if code < 500 else None
    headers = {}
    if code == 405 and getattr(error, "valid_methods", None):
        headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return problem(code, str(detail) if detail else None, headers=headers)


def _api_error(error: ApiError):
    return problem(error.status, error.detail, type=error.type, title=error.title,
                   errors=error.errors, headers=error.headers, **error.extra)


def _validation_error(error: ValidationError):
    return problem(422, "The request does not validate.", type="validation",
                   errors=validation_errors(error.messages))


def register(bp: Blueprint) -> None:
    """Problem documents for every error raised inside the blueprint's views.

    Code-specific handlers are needed: Flask prefers the application's handler for a code
    (the HTML error pages) over a blueprint's handler for the generic exception class.
    """
    for code in HANDLED_CODES:
        bp.register_error_handler(code, _http_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(ApiError, _api_error)
    bp.register_error_handler(ValidationError, _validation_error)


def routing_problem(prefix: str):
    """An app ``before_request`` answering routing errors under ``prefix`` (unknown URL, wrong
    method) with a problem document: those happen before any blueprint is selected."""

    def handler():
        exc = request.routing_exception
        if exc is None or isinstance(exc, RequestRedirect):
            return None
        if not (request.path == prefix or request.path.startswith(prefix + "/")):
            return None
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        return None

    return handler
