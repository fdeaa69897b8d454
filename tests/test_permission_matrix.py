"""The permission matrix: every route of the URL map (core and enabled plugins, so routes added
later are covered without editing this file) × anonymous and each demo role, on the shared
seeded demo (one app, one database, reused).

* reads: never a server error; a protected page refuses the anonymous visitor (401 or login
  redirect) and a role its declared action denies (403), in and out of its territory;
* writes: each write a role may not do (anonymous on non-public routes, a role the route's
  action denies) is refused and writes nothing: the values checksum, the audit log and the
  row count of every table are unchanged. Writes a role may do are not sent (the demo is
  shared and read-only); their object-level checks are covered below and in their own tests;
* out of territorial scope, with real tokens and sessions: a local contributor writing in
  another department, a coordinator managing users or roadmaps outside their region → 403,
  nothing written.
"""

from __future__ import annotations

import functools
import itertools
import re

import pytest
from sqlalchemy import delete, func, select, text

from core.api_v1.tokens import create_token
from core.db import Model
from core.db import session as db_session
from core.models import (ApiToken, AuditEntry, Grant, Indicator, Policy, PolicyStatus, Role,
                         Territory, User)
from core.permissions import can
from core.testing.pytest_plugin import login, values_checksum

DOMAIN = "demo.pilote.example"
CLIENTS = ["anonymous", *(r.value for r in Role)]
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Public writes that record what they refuse (sign-in failures, reset requests, webhook deliveries):
# their refusals are audited on purpose, so only "no server error" is checked for them.
RECORDING = {"auth.login", "auth.forgot_password", "auth.reset_password", "auth.logout",
             "datapass_webhook.receive"}
IN_SCOPE, OUT_OF_SCOPE = ("department", "69"), ("department", "75")  # for the region-84 roles
NARROW = ("reader", "local_contributor")  # no draft policies, one department (local contributor)


def marker(view) -> str | None:
    for layer in (view, getattr(view, "view_class", None)):
        while layer is not None:
            found = getattr(layer, "pilote_permission", None)
            if found:
                return found
            layer = getattr(layer, "__wrapped__", None)
    return None


@pytest.fixture(scope="module")
def clients(demo_app):
    out = {}
    for name in CLIENTS:
        client = demo_app.test_client()
        if name != "anonymous":
            assert login(client, f"{name}@{DOMAIN}").status_code == 302, name
        page = client.get("/mon-compte/" if name != "anonymous" else "/connexion").get_data(as_text=True)
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        client.csrf = found.group(1) if found else ""
        out[name] = client
    return out


def row_counts(app) -> tuple[int, int]:
    """(audit entries, rows of every table), in one statement: cheap enough after each write."""
    with app.app_context():
        session = db_session()
        names = set(session.bind.dialect.get_table_names(session.connection()))
        tables = [t for t in Model.metadata.sorted_tables if t.name in names]
        total = " + ".join(f'(SELECT count(*) FROM "{t.name}")' for t in tables)
        return tuple(session.execute(text(f"SELECT (SELECT count(*) FROM audit_entry), {total}")).one())


def fingerprint(app) -> tuple:
    """Values checksum plus :func:`row_counts`."""
    with app.app_context():
        checksum = values_checksum(db_session())
    return checksum, *row_counts(app)


def demo_values(app) -> dict[str, list]:
    """Candidate values for URL variables, by variable name: real ones, then one that does not exist."""
    with app.app_context():
        session = db_session()
        published = session.scalar(select(Policy.code).where(Policy.status == PolicyStatus.PUBLISHED)
                                   .order_by(Policy.code))
        draft = session.scalar(select(Policy.code).where(Policy.status == PolicyStatus.DRAFT).order_by(Policy.code))
        indicator = session.scalar(select(Indicator.code).join(Policy).where(Policy.code == published)
                                   .order_by(Indicator.code))
        user_id = session.scalar(select(User.id).where(User.email == f"local_contributor@{DOMAIN}"))
    ints = [user_id or 1, 999999]
    return {
        "draft": draft,
        "code": [c for c in (published, indicator, draft) if c] + ["NOPE-0"],
        ("level", "code"): [IN_SCOPE, OUT_OF_SCOPE, ("region", "84"), ("nope", "0")],
        "level": ["department", "nope"],
        "token": ["not-a-real-token"],
        "provider_key": ["nope"],
        "kind": ["theme"],
        "filename": ["missing.css"],
        **{name: ints for name in ("user_id", "grant_id", "token_id", "message_id", "batch_id",
                                   "comment_id", "notification_id", "proposal_id", "territory_id")},
    }


def route_urls(app, rule, values) -> tuple[list[str], str | None]:
    """URLs of ``rule`` for every candidate combination, or a problem to report."""
    variables = sorted(rule.arguments - set(rule.defaults or {}))
    groups, names = [], []
    if {"level", "code"} <= set(variables):
        groups.append([dict(zip(("level", "code"), pair)) for pair in values[("level", "code")]])
        names += ["level", "code"]
    for name in variables:
        if name in names:
            continue
        if name not in values:
            return [], f"{rule.rule}: no demo value for <{name}> (add one to demo_values)"
        groups.append([{name: v} for v in values[name]])
    adapter = app.url_map.bind("localhost")
    urls = []
    for combo in itertools.product(*groups) if groups else [()]:
        args = {k: v for part in combo for k, v in part.items()}
        try:
            urls.append(adapter.build(rule.endpoint, args))
        except Exception:  # noqa: BLE001 - a value the converter refuses
            continue
    return urls, None


@functools.cache
def allowed(app, who: str, action: str) -> bool:
    if who == "anonymous":
        return action == "public"
    if action in ("public", "authenticated"):
        return True
    with app.test_request_context():
        user = db_session().scalar(select(User).where(User.email == f"{who}@{DOMAIN}"))
        return can(action, user=user)


def refused(status: int, who: str, response) -> bool:
    if who == "anonymous":
        return status == 401 or (status in (302, 303) and "/connexion" in response.headers.get("Location", ""))
    return status == 403


def routes(app):
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, sorted(r.methods))):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint == "static" or rule.endpoint.endswith(".static"):
            continue
        yield rule, marker(view)


def test_every_route_declares_a_known_permission(demo_app):
    actions = demo_app.extensions["pilote"].actions
    problems = [f"{rule.endpoint}: {m!r}" for rule, m in routes(demo_app)
                if m is None or (m not in ("public", "authenticated") and m not in actions)]
    assert problems == []


def test_reads_are_refused_to_whoever_may_not(demo_app, clients):
    values = demo_values(demo_app)
    draft = values["draft"]
    problems, checked = [], 0
    for rule, action in routes(demo_app):
        if "GET" not in rule.methods:
            continue
        urls, problem = route_urls(demo_app, rule, values)
        if problem:
            problems.append(problem)
            continue
        for who in CLIENTS:
            may = allowed(demo_app, who, action)
            if not may:
                targets = urls  # refusals are cheap: every URL
            elif action in ("public", "authenticated") and who not in ("anonymous", *NARROW):
                continue  # object-level probes of open routes: with the narrowest callers
            else:
                targets = _probes(urls, draft)
            for url in targets:
                response = clients[who].get(url)
                checked += 1
                status = response.status_code
                if status >= 500:
                    problems.append(f"{who} GET {url}: {status}")
                elif not may and not refused(status, who, response):
                    problems.append(f"{who} GET {url}: {status}, expected a refusal ({action})")
                elif draft and who in ("anonymous", *NARROW) and _has_segment(url, draft) and status == 200:
                    problems.append(f"{who} GET {url}: 200 on a draft policy it may not read")
    assert problems == []
    assert checked > 300


def _has_segment(url: str, value: str) -> bool:
    return re.search(rf"/{re.escape(value)}(?:[/.?]|$)", url) is not None


def _probes(urls: list[str], draft: str | None) -> list[str]:
    """The first URL, the in- and out-of-scope territory ones, and the draft policy's."""
    picked = urls[:1]
    for level, code in (IN_SCOPE, OUT_OF_SCOPE):
        picked += [u for u in urls if f"/{level}/{code}" in u or f"/{level}-{code}" in u][:1]
    if draft:
        picked += [u for u in urls if _has_segment(u, draft)][:1]
    return list(dict.fromkeys(picked))


def test_refused_writes_write_nothing(demo_app, clients):
    values = demo_values(demo_app)
    before = fingerprint(demo_app)
    counts = before[1:]
    problems, checked = [], 0
    for rule, action in routes(demo_app):
        methods = [m for m in WRITE_METHODS if m in rule.methods]
        if not methods:
            continue
        urls, problem = route_urls(demo_app, rule, values)
        if problem:
            problems.append(problem)
            continue
        for who, method, url in itertools.product(CLIENTS, methods, urls[:2]):
            may = allowed(demo_app, who, action)
            if may and not (who == "anonymous" and rule.endpoint not in RECORDING):
                continue  # allowed writes are not sent to the shared demo
            client = clients[who]
            response = client.open(url, method=method, data={"csrf_token": client.csrf},
                                   headers={"X-CSRFToken": client.csrf})
            checked += 1
            if response.status_code >= 500:
                problems.append(f"{who} {method} {url}: {response.status_code}")
            elif not may and not refused(response.status_code, who, response):
                problems.append(f"{who} {method} {url}: {response.status_code}, expected a refusal ({action})")
            after = row_counts(demo_app)
            if after != counts:
                problems.append(f"{who} {method} {url}: wrote something ({response.status_code})")
                counts = after
    assert problems == []
    assert checked > 50
    assert fingerprint(demo_app)[0] == before[0]  # no stored value changed either


# --------------------------------------------------------------------------- territorial scope
@pytest.fixture(scope="module")
def tokens(demo_app):
    """Read-write API tokens of two demo roles, removed afterwards (with their audit rows)."""
    made = {}
    with demo_app.app_context():
        session = db_session()
        for role in ("local_contributor", "reader"):
            user = session.scalar(select(User).where(User.email == f"{role}@{DOMAIN}"))
            token, plain = create_token(session, user, "matrix", expires_days=1)
            made[role] = (token.id, plain)
        session.commit()
    yield {role: plain for role, (_id, plain) in made.items()}
    with demo_app.app_context():
        session = db_session()
        ids = [token_id for token_id, _plain in made.values()]
        session.execute(delete(ApiToken).where(ApiToken.id.in_(ids)))
        session.execute(delete(AuditEntry).where(AuditEntry.entity == "api_token",
                                                 AuditEntry.entity_id.in_([str(i) for i in ids])))
        session.commit()


def _covered_indicator(app, role: str) -> str:
    """An indicator of a published policy the role's grant covers."""
    with app.test_request_context():
        user = db_session().scalar(select(User).where(User.email == f"{role}@{DOMAIN}"))
        for indicator in db_session().scalars(select(Indicator).join(Policy)
                                              .where(Policy.status == PolicyStatus.PUBLISHED)
                                              .order_by(Indicator.code)):
            if can("value.write", indicator.policy, user=user):
                return indicator.code
    pytest.skip(f"no indicator writable by {role}")


@pytest.mark.parametrize("role, territory, status", [
    ("local_contributor", "department-75", 403),  # out of the contributor's department
    ("reader", "department-69", 403),             # a reader writes nowhere
])
def test_api_writes_out_of_scope_are_refused_and_write_nothing(demo_app, tokens, role, territory, status):
    code = _covered_indicator(demo_app, "local_contributor")
    before = row_counts(demo_app)
    response = demo_app.test_client().post(
        "/api/v1/values", headers={"Authorization": f"Bearer {tokens[role]}"},
        json={"indicator": code, "territory": territory, "kind": "actual", "date": "2026-10-01", "value": 1})
    assert response.status_code == status, response.get_data(as_text=True)
    assert row_counts(demo_app) == before  # every value write is audited: no new audit entry


def test_a_coordinator_manages_users_of_their_region_only(demo_app, clients):
    client = clients["territorial_coordinator"]
    with demo_app.app_context():
        ids = dict(db_session().execute(select(User.email, User.id)).all())
        paris = db_session().scalar(select(Territory.id).where(Territory.level == "department", Territory.code == "75"))
    assert paris is not None
    assert client.get(f"/admin/utilisateurs/{ids[f'local_contributor@{DOMAIN}']}").status_code == 200
    for outside in ("admin", "central_steering", "ministry_referent"):
        assert client.get(f"/admin/utilisateurs/{ids[f'{outside}@{DOMAIN}']}").status_code == 403, outside
    before = row_counts(demo_app)
    response = client.post(f"/admin/utilisateurs/{ids[f'local_contributor@{DOMAIN}']}/habilitations",
                           data={"csrf_token": client.csrf, "grant-csrf_token": client.csrf,
                                 "grant-role": "reader", "grant-territory": "department-75"})
    assert response.status_code == 403
    assert row_counts(demo_app) == before


def test_roadmaps_out_of_the_coordinators_region_are_refused(demo_app, clients):
    client = clients["territorial_coordinator"]
    assert client.get("/territoires/department/69/feuille-de-route").status_code == 200
    assert client.get("/territoires/department/75/feuille-de-route").status_code == 403
    assert clients["reader"].get("/territoires/department/69/feuille-de-route").status_code == 403
