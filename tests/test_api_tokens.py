"""API tokens: shown once, stored hashed, refused once revoked or expired, rate-limited use
tracking, read-only, session-only creation, the ``pilote tokens`` commands and the hook."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from core.api_v1 import init_app
from core.api_v1.cli import tokens_group
from core.api_v1.tokens import LAST_USED_EVERY, create_token, user_from_token
from core.db import session as db_session, utcnow
from core.models import (
    ApiToken,
    AuditEntry,
    Grant,
    Indicator,
    IndicatorValue,
    IndicatorWeight,
    Policy,
    PolicyStatus,
    Role,
    User,
)
from core.plugins import hookimpl
from core.testing.pytest_plugin import login, seed_reference

PASSWORD = "correct horse battery"
TOKEN_SHAPE = re.compile(r"^pil_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
PROBLEM = "application/problem+json"


def seed_people(app) -> None:
    """An administrator, a reader, a service account, and one policy with one indicator."""
    with app.app_context():
        session = db_session()
        for email, name, role, service in [
            ("admin@t.example", "Ada Admin", Role.ADMIN, False),
            ("reader@t.example", "Rémi Reader", Role.READER, False),
            ("robot@t.example", "Import robot", Role.READER, True),
        ]:
            user = User(email=email, name=name, password_hash=generate_password_hash(PASSWORD),
                        is_service_account=service)
            user.grants.append(Grant(role=role))
            session.add(user)
        policy = Policy(code="T-1", name="Test policy", status=PolicyStatus.PUBLISHED, is_public=True)
        indicator = Indicator(code="T-1-1", policy=policy, name="Test indicator", aggregation_method="sum")
        indicator.weights = [IndicatorWeight(level=level, weight=100) for level in ("nation", "region", "department")]
        session.add_all([policy, indicator])
        session.commit()


@pytest.fixture
def api(app):
    init_app(app)
    seed_people(app)
    return app


def new_token(app, email: str, **kwargs) -> tuple[int, str]:
    with app.app_context():
        session = db_session()
        user = session.scalar(select(User).where(User.email == email))
        token, plain = create_token(session, user, kwargs.pop("name", "test"), **kwargs)
        session.commit()
        return token.id, plain


def bearer(plain: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plain}"}


def token_row(app, token_id: int) -> ApiToken:
    with app.app_context():
        return db_session().get(ApiToken, token_id)


def value_item(**overrides):
    item = {"indicator": "T-1-1", "territory": "department-69", "kind": "actual",
            "date": "2026-10-01", "value": 12}
    item.update(overrides)
    return item


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["instance"] == response.request.path
    if slug:
        assert body["type"].endswith(f"#problem-{slug}"), body["type"]
    return body


# --------------------------------------------------------------------------- creation
def test_a_token_is_shown_once_and_stored_hashed(api):
    client = api.test_client()
    assert login(client, "reader@t.example", PASSWORD).status_code == 302
    response = client.post("/api/v1/tokens", json={"name": "my laptop", "expires_days": 30})
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    plain = created["token"]
    assert TOKEN_SHAPE.match(plain)
    assert created["status"] == "active" and created["read_only"] is False
    assert created["user"] == "reader@t.example" and plain.startswith(f"pil_{created['prefix']}_")
    assert "no-store" in response.headers["Cache-Control"]

    # never shown again: the list carries the prefix, not the token
    listed = client.get("/api/v1/tokens").get_json()
    assert [t["id"] for t in listed["items"]] == [created["id"]]
    assert "token" not in listed["items"][0]
    assert plain not in client.get("/api/v1/tokens").get_data(as_text=True)

    # the database holds the SHA-256 of the token, and nothing holds the token itself
    with api.app_context():
        session = db_session()
        row = session.get(ApiToken, created["id"])
        digest = hashlib.sha256(plain.encode()).hexdigest()
        assert row.token_hash == digest
        secret = plain.split("_", 2)[2]
        stored = " ".join(str(getattr(row, c.key)) for c in ApiToken.__table__.columns)
        assert plain not in stored and secret not in stored
        entries = session.scalars(select(AuditEntry).where(AuditEntry.entity == "api_token")).all()
        assert entries and entries[0].action == "insert" and entries[0].changes["name"] == "my laptop"
        logged = " ".join(str(e.changes) for e in session.scalars(select(AuditEntry)))
        assert secret not in logged and digest not in logged
        assert 29 <= (row.expires_at - row.created_at).days <= 30


def test_the_token_authenticates_its_user(api):
    token_id, plain = new_token(api, "reader@t.example")
    client = api.test_client()
    response = client.get("/api/v1/tokens", headers=bearer(plain))
    assert response.status_code == 200
    assert [t["id"] for t in response.get_json()["items"]] == [token_id]
    assert client.get("/api/v1/policies/T-1", headers=bearer(plain)).status_code == 200


def test_last_used_is_recorded_at_most_once_a_minute(api):
    token_id, plain = new_token(api, "reader@t.example")
    client = api.test_client()
    assert token_row(api, token_id).last_used_at is None
    before = utcnow()
    assert client.get("/api/v1/policies", headers=bearer(plain)).status_code == 200
    first = token_row(api, token_id).last_used_at
    assert first is not None and first >= before - dt.timedelta(seconds=1)
    assert client.get("/api/v1/policies", headers=bearer(plain)).status_code == 200
    assert token_row(api, token_id).last_used_at == first  # within the minute: no write
    with api.app_context():
        old = utcnow() - LAST_USED_EVERY - dt.timedelta(seconds=5)
        db_session().execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=old))
        db_session().commit()
    assert client.get("/api/v1/policies", headers=bearer(plain)).status_code == 200
    assert token_row(api, token_id).last_used_at > first


# --------------------------------------------------------------------------- refusals
def test_a_revoked_token_is_refused_at_once(api):
    token_id, plain = new_token(api, "reader@t.example")
    client = api.test_client()
    assert client.get("/api/v1/tokens", headers=bearer(plain)).status_code == 200
    response = client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(plain))
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"
    assert token_row(api, token_id).revoked_at is not None
    body = assert_problem(client.get("/api/v1/policies", headers=bearer(plain)), 401, "invalid-token")
    assert "revoked" in body["detail"]


def test_an_expired_token_is_refused(api):
    token_id, plain = new_token(api, "reader@t.example")
    with api.app_context():
        db_session().execute(update(ApiToken).where(ApiToken.id == token_id)
                             .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        db_session().commit()
    response = api.test_client().get("/api/v1/policies", headers=bearer(plain))
    assert_problem(response, 401, "invalid-token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_users_token_is_refused(api):
    _, plain = new_token(api, "reader@t.example")
    with api.app_context():
        db_session().execute(update(User).where(User.email == "reader@t.example").values(is_active=False))
        db_session().commit()
    assert_problem(api.test_client().get("/api/v1/policies", headers=bearer(plain)), 401, "invalid-token")


@pytest.mark.parametrize("header", [
    "Bearer pil_00000000_" + "A" * 43,  # well formed, unknown
    "Bearer not-a-token",
    "Bearer ",
    "Basic cmVhZGVyOnNlY3JldA==",
])
def test_unknown_or_malformed_credentials_are_refused_not_ignored(api, header):
    response = api.test_client().get("/api/v1/policies", headers={"Authorization": header})
    assert_problem(response, 401, "invalid-token")


def test_a_tampered_token_is_refused(api):
    _, plain = new_token(api, "reader@t.example")
    tampered = plain[:-1] + ("A" if plain[-1] != "A" else "B")
    assert_problem(api.test_client().get("/api/v1/policies", headers=bearer(tampered)), 401)


def test_a_read_only_token_reads_but_cannot_write(api):
    _, plain = new_token(api, "admin@t.example", read_only=True)
    client = api.test_client()
    assert client.get("/api/v1/policies/T-1", headers=bearer(plain)).status_code == 200
    assert_problem(client.post("/api/v1/values", json=value_item(), headers=bearer(plain)), 403,
                   "read-only-token")
    assert_problem(client.post("/api/v1/comments", json={
        "policy": "T-1", "territory": "department-69", "type": "obstacles", "body": "x"},
        headers=bearer(plain)), 403, "read-only-token")
    with api.app_context():
        assert db_session().scalar(select(IndicatorValue).limit(1)) is None
    # the same user's write token does write
    _, writer = new_token(api, "admin@t.example")
    response = client.post("/api/v1/values", json=value_item(), headers=bearer(writer))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["counts"]["created"] == 1


def test_a_read_only_token_may_revoke_itself_only(api):
    other_id, _ = new_token(api, "reader@t.example")
    own_id, plain = new_token(api, "reader@t.example", read_only=True)
    client = api.test_client()
    assert_problem(client.delete(f"/api/v1/tokens/{other_id}", headers=bearer(plain)), 403, "read-only-token")
    assert token_row(api, other_id).revoked_at is None
    assert client.delete(f"/api/v1/tokens/{own_id}", headers=bearer(plain)).status_code == 200
    assert token_row(api, own_id).revoked_at is not None


def test_someone_elses_token_is_not_found(api):
    admin_token_id, _ = new_token(api, "admin@t.example")
    _, plain = new_token(api, "reader@t.example")
    assert_problem(api.test_client().delete(f"/api/v1/tokens/{admin_token_id}", headers=bearer(plain)), 404)
    assert token_row(api, admin_token_id).revoked_at is None
    assert_problem(api.test_client().delete("/api/v1/tokens/999999", headers=bearer(plain)), 404)


def test_tokens_are_created_from_a_session_not_from_a_token(api):
    _, plain = new_token(api, "reader@t.example")
    client = api.test_client()
    assert_problem(client.post("/api/v1/tokens", json={"name": "child"}, headers=bearer(plain)), 403,
                   "session-required")
    assert_problem(client.post("/api/v1/tokens", json={"name": "anonymous"}), 401)
    assert_problem(client.get("/api/v1/tokens"), 401)


def test_token_input_is_validated(api):
    client = api.test_client()
    login(client, "reader@t.example", PASSWORD)
    body = assert_problem(client.post("/api/v1/tokens", json={"expires_days": 0}), 422, "validation")
    assert {e["field"] for e in body["errors"]} == {"name", "expires_days"}
    body = assert_problem(client.post("/api/v1/tokens", json={"name": "x", "expires_days": 10_000}), 422)
    assert body["errors"][0]["field"] == "expires_days"


def test_writes_need_a_token_not_a_session(api):
    client = api.test_client()
    login(client, "admin@t.example", PASSWORD)
    assert_problem(client.post("/api/v1/values", json=value_item()), 401, "token-required")
    with api.app_context():
        assert db_session().scalar(select(IndicatorValue).limit(1)) is None


# --------------------------------------------------------------------------- service accounts
def test_an_administrator_creates_a_token_for_a_service_account(api):
    client = api.test_client()
    login(client, "admin@t.example", PASSWORD)
    response = client.post("/api/v1/tokens", json={"name": "nightly import", "user": "robot@t.example"})
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["user"] == "robot@t.example"
    with api.app_context():
        row = db_session().get(ApiToken, created["id"])
        admin = db_session().scalar(select(User).where(User.email == "admin@t.example"))
        assert row.created_by_id == admin.id and row.user.email == "robot@t.example"
    listed = client.get("/api/v1/tokens?user=robot@t.example").get_json()
    assert [t["id"] for t in listed["items"]] == [created["id"]]
    # the token acts as the service account
    mine = api.test_client().get("/api/v1/tokens", headers=bearer(created["token"])).get_json()
    assert [t["user"] for t in mine["items"]] == ["robot@t.example"]
    # an administrator may revoke it
    assert client.delete(f"/api/v1/tokens/{created['id']}").status_code == 200
    # only service accounts
    assert_problem(client.post("/api/v1/tokens", json={"name": "x", "user": "reader@t.example"}), 422)


def test_only_administrators_act_for_service_accounts(api):
    client = api.test_client()
    login(client, "reader@t.example", PASSWORD)
    assert_problem(client.post("/api/v1/tokens", json={"name": "x", "user": "robot@t.example"}), 403)
    assert_problem(client.get("/api/v1/tokens?user=robot@t.example"), 403)


# --------------------------------------------------------------------------- CSRF
@pytest.mark.settings(WTF_CSRF_ENABLED=True)
def test_session_token_management_checks_csrf_and_token_writes_are_exempt(app):
    init_app(app)
    seed_people(app)
    client = app.test_client()
    assert login(client, "reader@t.example", PASSWORD).status_code == 302
    assert_problem(client.post("/api/v1/tokens", json={"name": "forged"}), 403, "csrf")
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/api/v1/tokens", json={"name": "laptop"}, headers={"X-CSRFToken": csrf})
    assert response.status_code == 201, response.get_data(as_text=True)
    # a token write needs no CSRF token (the blueprint is exempt)
    _, plain = new_token(app, "admin@t.example")
    anonymous = app.test_client()
    response = anonymous.post("/api/v1/values", json=value_item(), headers=bearer(plain))
    assert response.status_code == 200, response.get_data(as_text=True)
    reader_token_id, _ = new_token(app, "reader@t.example")  # an administrator's token revokes any
    assert anonymous.delete(f"/api/v1/tokens/{reader_token_id}", headers=bearer(plain)).status_code == 200


# --------------------------------------------------------------------------- territorial scope
class AllowWrites:
    """Stands for the roles' write rules the core does not have yet: votes for every write."""

    name = "allowwrites"

    @hookimpl
    def permission_check(self, user, action, resource):
        return True if action in ("value.write", "comment.write") else None


def test_a_write_needs_one_grant_covering_the_policy_and_the_territory(make_app):
    from core.models import Territory

    app = make_app(extra_plugins=[AllowWrites()])
    init_app(app)
    with app.app_context():
        seed_reference(app)
    seed_people(app)
    with app.app_context():
        session = db_session()
        policy = session.scalar(select(Policy).where(Policy.code == "T-1"))
        other = Policy(code="T-2", name="Other policy", status=PolicyStatus.PUBLISHED, is_public=True)
        session.add_all([other, Indicator(code="T-2-1", policy=other, name="Other indicator")])
        d69 = session.scalar(select(Territory).where(Territory.level == "department", Territory.code == "69"))
        user = User(email="mixed@t.example", name="Mixed grants")
        user.grants.append(Grant(role=Role.READER))  # reads everything, everywhere
        contributor = Grant(role=Role.LOCAL_CONTRIBUTOR, territory_id=d69.id)
        contributor.policies.append(policy)  # writes T-1 in the Rhône only
        user.grants.append(contributor)
        session.add(user)
        session.commit()
    _, plain = new_token(app, "mixed@t.example")
    client = app.test_client()
    assert client.post("/api/v1/values", json=value_item(), headers=bearer(plain)).status_code == 200
    for item in (value_item(territory="department-13"), value_item(territory="region-84"),
                 value_item(indicator="T-2-1")):
        assert_problem(client.post("/api/v1/values", json=item, headers=bearer(plain)), 403, "forbidden")
    comment = {"policy": "T-1", "territory": "department-69", "type": "obstacles", "body": "Late."}
    assert client.post("/api/v1/comments", json=comment, headers=bearer(plain)).status_code == 201
    assert_problem(client.post("/api/v1/comments", json={**comment, "territory": "department-13"},
                               headers=bearer(plain)), 403, "forbidden")
    _, reader = new_token(app, "reader@t.example")  # a reader writes nothing, whatever the votes
    assert_problem(client.post("/api/v1/values", json=value_item(), headers=bearer(reader)), 403)


# --------------------------------------------------------------------------- the hook
class TokenLoader:
    """What the core's ``user_from_request`` implementation does (core/defaults.py)."""

    name = "tokenloader"

    @hookimpl(trylast=True)
    def user_from_request(self, request):
        return user_from_token(request)


def test_user_from_token_signs_in_on_every_page(make_app):
    app = make_app(extra_plugins=[TokenLoader()])
    init_app(app)
    with app.app_context():
        seed_reference(app)
    seed_people(app)
    token_id, plain = new_token(app, "reader@t.example")
    page = app.test_client().get("/", headers=bearer(plain)).get_data(as_text=True)
    assert "Rémi Reader" in page
    assert "Rémi Reader" not in app.test_client().get("/").get_data(as_text=True)
    with app.app_context():
        db_session().execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow()))
        db_session().commit()
    assert "Rémi Reader" not in app.test_client().get("/", headers=bearer(plain)).get_data(as_text=True)
    with app.test_request_context(headers={"Authorization": "Basic eDp5"}):
        from flask import request

        assert user_from_token(request) is None
    assert user_from_token(None) is None


# --------------------------------------------------------------------------- CLI
@pytest.fixture
def run(api, monkeypatch):
    import core.cli_context

    monkeypatch.setattr(core.cli_context, "make_app", lambda ctx: api)
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(tokens_group, list(args))

    return invoke


def test_cli_creates_lists_and_revokes(api, run):
    result = run("create", "--user", "ROBOT@t.example", "--name", "ci", "--expires-days", "7", "--read-only")
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip().splitlines()[-1]
    assert TOKEN_SHAPE.match(plain)
    assert "cannot be shown again" in result.stderr
    with api.app_context():
        row = db_session().scalar(select(ApiToken).where(ApiToken.token_hash == hashlib.sha256(plain.encode()).hexdigest()))
        assert row.read_only and row.user.email == "robot@t.example" and row.name == "ci"
        assert 6 <= (row.expires_at - row.created_at).days <= 7
        entry = db_session().scalar(select(AuditEntry).where(AuditEntry.entity == "api_token"))
        assert entry.channel == "cli" and "token_hash" not in entry.changes
        token_id = row.id
    client = api.test_client()
    assert client.get("/api/v1/tokens", headers=bearer(plain)).status_code == 200

    listing = run("list")
    assert listing.exit_code == 0 and f"pil_{row.prefix}_…" in listing.output and "active" in listing.output
    assert plain not in listing.output and plain.split("_", 2)[2] not in listing.output
    assert "robot@t.example" in run("list", "--user", "robot@t.example").output
    assert "No API tokens." in run("list", "--user", "admin@t.example").output

    revoked = run("revoke", str(token_id))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert_problem(client.get("/api/v1/tokens", headers=bearer(plain)), 401)
    assert "revoked" in run("list").output
    assert "already revoked" in run("revoke", str(token_id)).output


def test_cli_refuses_unknown_users_and_tokens(run):
    result = run("create", "--user", "nobody@t.example", "--name", "x")
    assert result.exit_code == 1 and "no user" in result.output
    result = run("revoke", "424242")
    assert result.exit_code == 1 and "no token" in result.output
    result = run("create", "--user", "reader@t.example", "--name", "x", "--expires-days", "0")
    assert result.exit_code == 2
