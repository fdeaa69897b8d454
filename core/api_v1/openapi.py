"""The OpenAPI 3.1 document of the API, generated from the routes and the marshmallow schemas
(with apispec's marshmallow plugin), and its reference page rendered on the server.

Each view declares what it takes and answers with :func:`documented`; the document lists every
route of the ``api_v1`` blueprint, so an undocumented route still appears (with its path
parameters and the problem responses) rather than silently missing.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from flask import current_app, render_template_string
from markupsafe import Markup, escape

from core import __version__
from core.api_v1 import bp
from core.api_v1 import schemas as s
from core.api_v1.errors import PROBLEM_MIMETYPE, PROBLEM_TYPES
from core.permissions import public

OPENAPI_VERSION = "3.1.0"
_STATE = "pilote_api_v1"
AUTH_LABELS = {
    "none": "None.",
    "optional": "Optional: anonymous callers see public data; a session or a token widens it to "
                "the caller's grants.",
    "authenticated": "A browser session or an API token.",
    "token": "An API token with write rights (`Authorization: Bearer pil_…`).",
    "session": "A browser session with its CSRF token (`X-CSRFToken`).",
}
_RULE_ARG = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\([^)]*\))?:)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")


def documented(summary: str, *, description: str = "", query=None, body=None, body_many: bool = False,
               response=None, paginated: bool = False, status: int = 200, auth: str = "optional",
               errors: tuple[int, ...] = (), tags: list[str] | None = None):
    """Attach what the OpenAPI document says of a view (the view itself is unchanged)."""
    if auth not in AUTH_LABELS:
        raise ValueError(f"auth must be one of {sorted(AUTH_LABELS)}")

    def decorator(view):
        view.pilote_openapi = dict(
            summary=summary, description=description, query=query, body=body, body_many=body_many,
            response=response, paginated=paginated, status=status, auth=auth, errors=errors,
            tags=tags or [],
        )
        return view

    return decorator


# --------------------------------------------------------------------------- the document
def openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    """``/territories/<level>-<code>`` → ``/territories/{level}-{code}`` and its parameters."""
    params = []

    def repl(match):
        converter = match.group("converter") or "string"
        schema = {"type": "integer"} if converter == "int" else {"type": "string"}
        params.append({"in": "path", "name": match.group("name"), "required": True, "schema": schema})
        return "{" + match.group("name") + "}"

    return _RULE_ARG.sub(repl, rule), params


def _page_envelope(item) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total"],
        "properties": {
            "items": {"type": "array", "items": item},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": s.MAX_PER_PAGE},
            "total": {"type": "integer", "minimum": 0},
        },
    }


def _operation(endpoint: str, method: str, meta: dict[str, Any], path_params: list[dict]) -> dict:
    problem = {"$ref": "#/components/responses/Problem"}
    op: dict[str, Any] = {
        "operationId": endpoint.partition(".")[2] or endpoint,
        "summary": meta.get("summary") or endpoint,
        "tags": meta.get("tags") or [],
        "parameters": copy.deepcopy(path_params),
        "responses": {},
    }
    if meta.get("description"):
        op["description"] = meta["description"]
    if meta.get("query") is not None:
        op["parameters"].append({"in": "query", "schema": meta["query"]})
    if meta.get("body") is not None:
        schema: Any = meta["body"]
        if meta.get("body_many"):
            schema = {"oneOf": [meta["body"], {"type": "array", "items": meta["body"], "minItems": 1}]}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    status = str(meta.get("status", 200))
    response: dict[str, Any] = {"description": "Success"}
    if meta.get("response") is not None:
        content = _page_envelope(meta["response"]) if meta.get("paginated") else meta["response"]
        response["content"] = {"application/json": {"schema": content}}
    if meta.get("paginated"):
        response["headers"] = {
            "Link": {"description": "first, prev, next and last pages (RFC 8288)",
                     "schema": {"type": "string"}},
            "X-Total-Count": {"description": "Total number of items", "schema": {"type": "integer"}},
        }
    op["responses"][status] = response
    auth = meta.get("auth", "optional")
    codes = set(meta.get("errors") or ())
    if path_params:
        codes.add(404)
    if meta.get("query") is not None or meta.get("body") is not None:
        codes.add(422)
    if auth != "none":
        codes.add(401)
    if auth in ("token", "session", "authenticated") and method != "get":
        codes.add(403)
    if meta.get("body") is not None:
        codes.update({400, 415})
    for code in sorted(codes):
        op["responses"][str(code)] = problem
    op["responses"]["default"] = problem
    if auth == "optional":
        op["security"] = [{}, {"bearerAuth": []}, {"sessionCookie": []}]
    elif auth == "authenticated":
        op["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    elif auth == "token":
        op["security"] = [{"bearerAuth": []}]
    elif auth == "session":
        op["security"] = [{"sessionCookie": []}]
    else:
        op["security"] = [{}]
    op["x-pilote-auth"] = auth
    return op


def build_spec(app) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s ``/api/v1`` routes."""
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    config = app.extensions["pilote"].config
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title=f"{config.name} API", version=f"v1 (Pilote {__version__})", openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": (
            "Read policies, indicators, territories, entered values and computed figures; write "
            "values and comments. Lists are paginated (`page`, `per_page` ≤ "
            f"{s.MAX_PER_PAGE}) and answer `{{items, page, per_page, total}}` with `Link` headers. "
            "Errors are `application/problem+json`. What you may not read answers 404."),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"}},
    )
    plugin.map_to_openapi_type(s.Exact, "string", "decimal")
    for name, schema in s.COMPONENTS.items():
        spec.components.schema(name, schema=schema)
    spec.components.response("Problem", {
        "description": "An error (RFC 9457)",
        "content": {PROBLEM_MIMETYPE: {"schema": s.ProblemSchema}},
    })
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer", "bearerFormat": "pil_<prefix>_<secret>",
        "description": "An API token (`pilote tokens create` or `POST /api/v1/tokens`).",
    })
    spec.components.security_scheme("sessionCookie", {
        "type": "apiKey", "in": "cookie", "name": app.config.get("SESSION_COOKIE_NAME") or "session",
        "description": "The browser session of a signed-in user (reads; writes need a token).",
    })
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if not rule.endpoint.startswith(bp.name + "."):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "pilote_openapi", None) or {"summary": rule.endpoint}
        path, params = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, method.lower(), meta, params)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    document["tags"] = [{"name": t} for t in sorted({t for ops in paths.values()
                                                      for op in ops.values() for t in op["tags"]})]
    return document


def get_spec(app=None) -> dict[str, Any]:
    """The document, built once per app (routes do not change after start-up)."""
    app = app or current_app._get_current_object()
    state = app.extensions.setdefault(_STATE, {})
    if state.get("spec") is None:
        state["spec"] = build_spec(app)
    return state["spec"]


@bp.get("/openapi.json")
@public
@documented("This OpenAPI document", auth="none", tags=["meta"])
def openapi_json():
    response = current_app.json.response(get_spec())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --------------------------------------------------------------------------- the reference page
_CODE_SPAN = re.compile(r"`([^`]+)`")


def inline(text: Any) -> Markup:
    """Escaped text with its Markdown code spans (`like this`) as ``<code>``."""
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text or ""))))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_html(schema: Any) -> Markup:
    """A short, linked description of a JSON schema (``array of <a>Policy</a>``)."""
    if not isinstance(schema, dict):
        return Markup("any")
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return Markup(" or ").join(type_html(sub) for sub in schema[key])
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    parts = []
    for k in kinds:
        if k == "array":
            parts.append(Markup("array of ") + type_html(schema.get("items", {})))
        elif k == "null":
            parts.append(Markup("null"))
        elif k:
            label = escape(k)
            if schema.get("format"):
                label += Markup(" (") + escape(schema["format"]) + Markup(")")
            parts.append(label)
    if not parts:
        parts.append(Markup("any"))
    text = Markup(" or ").join(parts)
    if schema.get("enum"):
        text += Markup(": ") + Markup(", ").join(
            Markup("<code>{}</code>").format(v) for v in schema["enum"] if v is not None)
    return text


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, operations in document.get("paths", {}).items():
        for method, op in operations.items():
            params = []
            for p in op.get("parameters", []):
                params.append({"name": p.get("name"), "in": p.get("in"), "required": p.get("required", False),
                               "type": type_html(p.get("schema", {})),
                               "description": inline(p.get("description") or p.get("schema", {}).get("description", "")),
                               "default": p.get("schema", {}).get("default")})
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for code, resp in op.get("responses", {}).items():
                if "$ref" in resp:
                    responses.append({"code": code, "description": "Problem (application/problem+json)",
                                      "type": Markup('<a href="#schema-Problem">Problem</a>')})
                    continue
                schema = resp.get("content", {}).get("application/json", {}).get("schema")
                responses.append({"code": code, "description": resp.get("description", ""),
                                  "type": type_html(schema) if schema else Markup("—")})
            out.append({
                "anchor": f"op-{op['operationId']}-{method}",
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": inline(op.get("description", "")), "parameters": params,
                "body": type_html(body) if body else None, "responses": responses,
                "auth": inline(AUTH_LABELS.get(op.get("x-pilote-auth", "optional"), "")),
                "tags": op.get("tags", []),
            })
    return out


def _schemas(document: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        props = [{"name": key, "type": type_html(prop), "required": key in required,
                  "description": inline(prop.get("description", "")),
                  "read_only": prop.get("readOnly", False)}
                 for key, prop in schema.get("properties", {}).items()]
        out.append({"name": name, "description": inline(schema.get("description", "")), "properties": props})
    return out


DOCS_TEMPLATE = """{% extends "layout/base.html" %}
{% block title %}API v1 reference{% endblock %}
{% block main %}
<div lang="en" class="api-docs">
<h1>{{ document.info.title }} — reference (v1)</h1>
<p>{{ inline(document.info.description) }}</p>
<p>Machine-readable document: <a href="{{ url_for('api_v1.openapi_json') }}">OpenAPI {{ document.openapi }} (JSON)</a>.</p>

<nav aria-labelledby="api-toc">
  <h2 id="api-toc">Contents</h2>
  <ul>
    <li><a href="#authentication">Authentication</a></li>
    <li><a href="#endpoints">Endpoints</a>
      <ul>{% for op in operations %}<li><a href="#{{ op.anchor }}"><code>{{ op.method }} {{ op.path }}</code></a> — {{ op.summary }}</li>{% endfor %}</ul>
    </li>
    <li><a href="#problems">Problem types</a></li>
    <li><a href="#schemas">Schemas</a></li>
  </ul>
</nav>

<section aria-labelledby="authentication">
  <h2 id="authentication">Authentication</h2>
  <p>Send an API token: <code>Authorization: Bearer pil_…</code>. Create one with
  <code>pilote tokens create --user EMAIL --name NAME</code>, or from a signed-in browser session
  with <code>POST {{ url_for('api_v1.create_api_token') }}</code>. A token acts as its user, with that
  user's grants; a read-only token cannot write; tokens expire and can be revoked
  (<code>DELETE {{ url_for('api_v1.list_tokens') }}/&lt;id&gt;</code>).
  Reads also work anonymously (public data only) or with a browser session; writes of values and
  comments need a token. What you may not read answers 404, like what does not exist.</p>
</section>

<section aria-labelledby="endpoints">
  <h2 id="endpoints">Endpoints</h2>
  {% for op in operations %}
  <article id="{{ op.anchor }}" aria-labelledby="{{ op.anchor }}-title">
    <h3 id="{{ op.anchor }}-title"><code>{{ op.method }} {{ op.path }}</code> — {{ op.summary }}</h3>
    {% if op.description %}<p>{{ op.description }}</p>{% endif %}
    <p><strong>Authentication:</strong> {{ op.auth }}</p>
    {% if op.parameters %}
    <table>
      <caption>Parameters of <code>{{ op.method }} {{ op.path }}</code></caption>
      <thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Description</th></tr></thead>
      <tbody>
      {% for p in op.parameters %}
        <tr><th scope="row"><code>{{ p.name }}</code></th><td>{{ p.in }}</td><td>{{ p.type }}</td>
            <td>{{ "yes" if p.required else "no" }}</td>
            <td>{{ p.description }}{% if p.default is not none %} (default: <code>{{ p.default }}</code>){% endif %}</td></tr>
      {% endfor %}
      </tbody>
    </table>
    {% endif %}
    {% if op.body %}<p><strong>Request body</strong> (<code>application/json</code>): {{ op.body }}</p>{% endif %}
    <table>
      <caption>Responses of <code>{{ op.method }} {{ op.path }}</code></caption>
      <thead><tr><th scope="col">Status</th><th scope="col">Meaning</th><th scope="col">Body</th></tr></thead>
      <tbody>
      {% for r in op.responses %}<tr><th scope="row">{{ r.code }}</th><td>{{ r.description }}</td><td>{{ r.type }}</td></tr>{% endfor %}
      </tbody>
    </table>
  </article>
  {% endfor %}
</section>

<section aria-labelledby="problems">
  <h2 id="problems">Problem types</h2>
  <p>Errors are <code>application/problem+json</code> objects: <code>type</code>, <code>title</code>,
  <code>status</code>, <code>detail</code>, <code>instance</code>, and <code>errors</code> for
  validation problems. Plain HTTP errors have the type <code>about:blank</code>.</p>
  <dl>
  {% for slug, (title, text) in problem_types.items() %}
    <dt id="problem-{{ slug }}"><code>{{ slug }}</code> — {{ title }}</dt><dd>{{ inline(text) }}</dd>
  {% endfor %}
  </dl>
</section>

<section aria-labelledby="schemas">
  <h2 id="schemas">Schemas</h2>
  {% for schema in schemas %}
  <article id="schema-{{ schema.name }}" aria-labelledby="schema-{{ schema.name }}-title">
    <h3 id="schema-{{ schema.name }}-title">{{ schema.name }}</h3>
    {% if schema.description %}<p>{{ schema.description }}</p>{% endif %}
    <table>
      <caption>Fields of {{ schema.name }}</caption>
      <thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Description</th></tr></thead>
      <tbody>
      {% for p in schema.properties %}
        <tr><th scope="row"><code>{{ p.name }}</code></th><td>{{ p.type }}</td><td>{{ "yes" if p.required else "no" }}</td><td>{{ p.description }}</td></tr>
      {% endfor %}
      </tbody>
    </table>
  </article>
  {% endfor %}
</section>
</div>
{% endblock %}
"""


@bp.get("/docs")
@public
@documented("This reference page (HTML)", auth="none", tags=["meta"])
def docs():
    document = get_spec()
    return render_template_string(DOCS_TEMPLATE, document=document, operations=_operations(document),
                                  schemas=_schemas(document), problem_types=PROBLEM_TYPES, inline=inline)


__all__ = ["build_spec", "documented", "get_spec", "openapi_path"]
