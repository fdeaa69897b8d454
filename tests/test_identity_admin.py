"""Users and grants administration: global managers and territorial coordinators, checked on
the server for every object; every grant change audited; service-account tokens from the UI
(shown once, refused at once when revoked); the audit page and its filters."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from core.db import session as db_session, utcnow
from core.identity.delegation import GrantDraft, may_grant
from core.identity.passwords import hash_password
from core.models import ApiToken, AuditEntry, Grant, Policy, PolicyStatus, Role, Territory, User
from core.permissions import effective_grants
from core.testing.pytest_plugin import login, seed_reference

PASSWORD = "a long enough password"


def territory_id(key: str) -> int:
    level, _, code = key.partition("-")
    return db_session().scalar(select(Territory.id).where(Territory.level == level, Territory.code == code))


def add_user(email: str, *grants: tuple, **kwargs) -> int:
    user = User(email=email, name=email.split("@")[0].title(), password_hash=hash_password(PASSWORD), **kwargs)
    for role, where, *rest in grants:
        grant = Grant(role=role, territory_id=territory_id(where) if where else None)
        if rest:
            grant.expires_at = rest[0]
        user.grants.append(grant)
    db_session().add(user)
    db_session().commit()
    return user.id


@pytest.fixture
def app(make_app):
    application = make_app(plugins=[])
    with application.app_context():
        seed_reference(application)
        ids = {
            "admin": add_user("admin@t.example", (Role.ADMIN, None)),
            "central": add_user("central@t.example", (Role.CENTRAL_STEERING, None)),
            "coord": add_user("coord@t.example", (Role.TERRITORIAL_COORDINATOR, "region-84")),
            "lyon": add_user("lyon@t.example", (Role.LOCAL_CONTRIBUTOR, "department-69")),
            "paris": add_user("paris@t.example", (Role.LOCAL_CONTRIBUTOR, "department-75")),
            "both": add_user("both@t.example", (Role.READER, "department-69"), (Role.READER, "department-75")),
            "new": add_user("new@t.example"),
            "robot": add_user("robot@t.example", (Role.READER, None), is_service_account=True),
        }
        policy = Policy(code="P-1", name="Politique test", status=PolicyStatus.PUBLISHED, is_public=True)
        db_session().add(policy)
        db_session().commit()
    application.ids = ids
    return application


def client_for(app, who: str):
    client = app.test_client()
    assert login(client, f"{who}@t.example", PASSWORD).status_code == 302
    return client


def grants_of(app, who: str) -> list[tuple[str, str | None]]:
    with app.app_context():
        user = db_session().get(User, app.ids[who])
        return sorted((g.role.value, g.territory.key if g.territory else None) for g in user.grants)


def audit_count(app) -> int:
    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(AuditEntry))


def events(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db_session().scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_a_coordinator_lists_only_users_of_their_subtree_and_those_without_grants(app):
    page = client_for(app, "coord").get("/admin/utilisateurs/").get_data(as_text=True)
    for shown in ("lyon@t.example", "both@t.example", "new@t.example", "coord@t.example"):
        assert shown in page
    for hidden in ("paris@t.example", "admin@t.example", "central@t.example", "robot@t.example"):
        assert hidden not in page
    everyone = client_for(app, "central").get("/admin/utilisateurs/").get_data(as_text=True)
    assert "paris@t.example" in everyone and "admin@t.example" in everyone


def test_a_coordinator_cannot_open_a_user_outside_their_subtree(app):
    client = client_for(app, "coord")
    assert client.get(f"/admin/utilisateurs/{app.ids['lyon']}").status_code == 200
    assert client.get(f"/admin/utilisateurs/{app.ids['paris']}").status_code == 403
    assert client.get(f"/admin/utilisateurs/{app.ids['admin']}").status_code == 403
    assert client.get("/admin/utilisateurs/99999").status_code == 404


def test_readers_and_contributors_cannot_administer(app):
    client = client_for(app, "lyon")
    assert client.get("/admin/utilisateurs/").status_code == 403
    before = audit_count(app)
    response = client.post(f"/admin/utilisateurs/{app.ids['new']}/habilitations",
                           data={"grant-role": "reader", "grant-territory": "department-69"})
    assert response.status_code == 403
    assert audit_count(app) == before and grants_of(app, "new") == []
    assert app.test_client().get("/admin/utilisateurs/").status_code in (302, 401)


def test_a_coordinator_grants_within_their_subtree_and_it_is_audited(app):
    client = client_for(app, "coord")
    response = client.post(f"/admin/utilisateurs/{app.ids['new']}/habilitations", data={
        "grant-role": "local_contributor", "grant-territory": "department-69",
        "grant-expires_on": (utcnow().date() + dt.timedelta(days=30)).isoformat()})
    assert response.status_code == 302
    assert grants_of(app, "new") == [("local_contributor", "department-69")]
    [event] = events(app, "grant_add")
    assert event.actor_label == "coord@t.example" and event.ip == "127.0.0.1"
    assert event.changes["territory"] == "department-69" and event.changes["user"] == "new@t.example"
    with app.app_context():
        inserts = db_session().scalars(select(AuditEntry).where(AuditEntry.entity == "user_grant",
                                                                AuditEntry.action == "insert",
                                                                AuditEntry.actor_label == "coord@t.example")).all()
        assert len(inserts) == 1 and inserts[0].changes["role"] == "local_contributor"


@pytest.mark.parametrize("data, status", [
    ({"grant-role": "reader", "grant-territory": "department-75"}, 403),   # outside the subtree
    ({"grant-role": "reader", "grant-territory": ""}, 403),                # everywhere
    ({"grant-role": "prefect", "grant-territory": "department-69"}, 400),  # a wider role
    ({"grant-role": "admin", "grant-territory": "department-69"}, 400),
    ({"grant-role": "central_steering", "grant-territory": "region-84"}, 400),
    ({"grant-role": "reader", "grant-territory": "department-999"}, 400),  # unknown territory
])
def test_a_coordinator_never_grants_wider_than_their_own(app, data, status):
    client = client_for(app, "coord")
    before = audit_count(app)
    response = client.post(f"/admin/utilisateurs/{app.ids['new']}/habilitations", data=data)
    assert response.status_code == status
    assert grants_of(app, "new") == [] and audit_count(app) == before


def test_delegation_rules_for_roles_expiry_and_central_steering(app):
    with app.app_context():
        coord = db_session().get(User, app.ids["coord"])
        grants = effective_grants(coord)
        dep69, dep75 = territory_id("department-69"), territory_id("department-75")
        assert may_grant(grants, GrantDraft(Role.READER, dep69))
        assert may_grant(grants, GrantDraft(Role.TERRITORIAL_COORDINATOR, dep69))
        assert not may_grant(grants, GrantDraft(Role.PREFECT, dep69))
        assert not may_grant(grants, GrantDraft(Role.READER, dep75))
        # a coordinator whose own grant expires cannot give a longer one
        soon = utcnow() + dt.timedelta(days=10)
        coord.grants[0].expires_at = soon
        grants = effective_grants(coord)
        assert not may_grant(grants, GrantDraft(Role.READER, dep69))
        assert may_grant(grants, GrantDraft(Role.READER, dep69, expires_at=soon - dt.timedelta(days=1)))
        db_session().rollback()
        central = effective_grants(db_session().get(User, app.ids["central"]))
        assert may_grant(central, GrantDraft(Role.CENTRAL_STEERING, None))
        assert not may_grant(central, GrantDraft(Role.ADMIN, None))


def test_central_steering_cannot_make_administrators(app):
    client = client_for(app, "central")
    response = client.post(f"/admin/utilisateurs/{app.ids['new']}/habilitations",
                           data={"grant-role": "admin", "grant-territory": ""})
    assert response.status_code == 400 and grants_of(app, "new") == []
    ok = client.post(f"/admin/utilisateurs/{app.ids['new']}/habilitations",
                     data={"grant-role": "reader", "grant-territory": "department-75"})
    assert ok.status_code == 302 and grants_of(app, "new") == [("reader", "department-75")]


def test_removing_and_expiring_grants_is_scoped_and_audited(app):
    client = client_for(app, "coord")
    with app.app_context():
        both = db_session().get(User, app.ids["both"])
        in_scope = next(g.id for g in both.grants if g.territory.code == "69")
        out_scope = next(g.id for g in both.grants if g.territory.code == "75")
    base = f"/admin/utilisateurs/{app.ids['both']}/habilitations"
    before = audit_count(app)
    assert client.post(f"{base}/{out_scope}/supprimer").status_code == 403
    tomorrow = (utcnow().date() + dt.timedelta(days=1)).isoformat()
    assert client.post(f"{base}/{out_scope}/echeance", data={"exp-expires_on": tomorrow}).status_code == 403
    assert audit_count(app) == before
    assert client.post(f"{base}/{in_scope}/echeance", data={"exp-expires_on": tomorrow}).status_code == 302
    assert client.post(f"{base}/{in_scope}/supprimer").status_code == 302
    assert grants_of(app, "both") == [("reader", "department-75")]
    assert [e.changes["territory"] for e in events(app, "grant_expiry")] == ["department-69"]
    assert [e.changes["territory"] for e in events(app, "grant_remove")] == ["department-69"]
    with app.app_context():
        deletes = db_session().scalars(select(AuditEntry).where(AuditEntry.entity == "user_grant",
                                                                AuditEntry.action == "delete")).all()
        assert len(deletes) == 1


def test_deactivation_only_of_users_entirely_in_scope(app):
    client = client_for(app, "coord")
    assert client.post(f"/admin/utilisateurs/{app.ids['both']}/activation", data={"active": "0"}).status_code == 403
    assert client.post(f"/admin/utilisateurs/{app.ids['coord']}/activation", data={"active": "0"}).status_code == 403
    assert client.post(f"/admin/utilisateurs/{app.ids['lyon']}/activation", data={"active": "0"}).status_code == 302
    with app.app_context():
        assert db_session().get(User, app.ids["lyon"]).is_active is False
        assert db_session().get(User, app.ids["both"]).is_active is True
    assert [e.changes["email"] for e in events(app, "user_deactivate")] == ["lyon@t.example"]
    assert login(app.test_client(), "lyon@t.example", PASSWORD).status_code == 401


def test_a_coordinator_creates_an_account_with_a_grant_in_scope(app):
    client = client_for(app, "coord")
    missing = client.post("/admin/utilisateurs/nouveau", data={"email": "x@t.example", "name": "X",
                                                               "role": "reader", "territory": ""})
    assert missing.status_code == 403
    response = client.post("/admin/utilisateurs/nouveau", data={
        "email": "Claire@T.example", "name": "Claire", "role": "reader", "territory": "department-69",
        "send_link": "y"})
    assert response.status_code == 302
    with app.app_context():
        user = db_session().scalar(select(User).where(User.email == "claire@t.example"))
        assert [(g.role, g.territory.key) for g in user.grants] == [(Role.READER, "department-69")]
        assert user.password_hash is None  # she chooses it through the mailed link
        from core.models import MailMessage

        assert db_session().scalar(select(MailMessage.recipients)) == ["claire@t.example"]
    duplicate = client.post("/admin/utilisateurs/nouveau", data={
        "email": "claire@t.example", "name": "Claire", "role": "reader", "territory": "department-69"})
    assert duplicate.status_code == 400 and "existe déjà" in duplicate.get_data(as_text=True)


def test_service_account_tokens_from_the_ui_are_shown_once_and_revocable_at_once(app):
    admin = client_for(app, "admin")
    robot = app.ids["robot"]
    response = admin.post(f"/admin/utilisateurs/{robot}/jetons", data={
        "tk-name": "import nightly", "tk-expires_days": "30", "tk-read_only": "y"})
    assert response.status_code == 201
    plain = re.search(r'value="(pil_[0-9a-f]{8}_[A-Za-z0-9_-]+)"', response.get_data(as_text=True)).group(1)
    assert plain not in admin.get(f"/admin/utilisateurs/{robot}").get_data(as_text=True)
    with app.app_context():
        token = db_session().scalar(select(ApiToken).where(ApiToken.user_id == robot))
        assert plain not in token.token_hash and token.created_by_id == app.ids["admin"]
        assert db_session().scalar(select(AuditEntry).where(AuditEntry.entity == "api_token",
                                                            AuditEntry.action == "insert")) is not None
    api = app.test_client()
    assert api.get("/api/v1/policies", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    with app.app_context():
        assert db_session().get(ApiToken, token.id).last_used_at is not None
    assert "dernière" in admin.get(f"/admin/utilisateurs/{robot}").get_data(as_text=True).lower()
    assert admin.post(f"/admin/utilisateurs/{robot}/jetons/{token.id}/revoquer").status_code == 302
    refused = api.get("/api/v1/policies", headers={"Authorization": f"Bearer {plain}"})
    assert refused.status_code == 401
    # central steering and coordinators cannot mint tokens for service accounts
    for who in ("central", "coord"):
        assert client_for(app, who).post(f"/admin/utilisateurs/{robot}/jetons", data={
            "tk-name": "x", "tk-expires_days": "30"}).status_code == 403


def test_my_tokens_from_my_account_page(app):
    client = client_for(app, "lyon")
    created = client.post("/mon-compte/jetons", data={"tk-name": "tableur", "tk-expires_days": "7"})
    assert created.status_code == 201
    plain = re.search(r'value="(pil_[^"]+)"', created.get_data(as_text=True)).group(1)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    assert api.get("/api/v1/policies", headers=headers).status_code == 200
    with app.app_context():
        token = db_session().scalar(select(ApiToken).where(ApiToken.name == "tableur"))
        assert token.read_only is False and token.expires_at <= utcnow() + dt.timedelta(days=7)
    other = client_for(app, "paris")
    assert other.post(f"/mon-compte/jetons/{token.id}/revoquer").status_code == 404
    assert api.get("/api/v1/policies", headers=headers).status_code == 200
    assert client.post(f"/mon-compte/jetons/{token.id}/revoquer").status_code == 302
    assert api.get("/api/v1/policies", headers=headers).status_code == 401
    bad = client.post("/mon-compte/jetons", data={"tk-name": "", "tk-expires_days": "9999"})
    assert bad.status_code == 400


def test_the_audit_page_filters_and_paginates_for_administrators_only(app):
    login(app.test_client(), "lyon@t.example", "wrong password")
    admin = client_for(app, "admin")
    page = admin.get("/admin/journal?action=login_failed").get_data(as_text=True)
    assert "lyon@t.example" in page and "127.0.0.1" in page and "1 entrée(s)" in page
    assert "admin@t.example" not in page.split("<tbody>")[1]
    today = utcnow().date()
    assert "1 entrée(s)" in admin.get(f"/admin/journal?action=login_failed&start={today}&end={today}").get_data(as_text=True)
    assert "0 entrée(s)" in admin.get(f"/admin/journal?action=login_failed&end={today - dt.timedelta(days=1)}").get_data(as_text=True)
    assert "0 entrée(s)" in admin.get("/admin/journal?actor=nobody").get_data(as_text=True)
    assert admin.get("/admin/journal?start=31/12/2026").status_code == 400
    full = admin.get("/admin/journal").get_data(as_text=True)
    total = int(re.search(r"(\d+) entrée\(s\)", full).group(1))
    assert total > 50 or "Page 1 sur 1" not in full
    second = admin.get("/admin/journal?page=2")
    assert second.status_code == 200
    for who in ("central", "coord", "lyon"):
        assert client_for(app, who).get("/admin/journal").status_code == 403


def test_central_steering_creates_an_account_without_a_grant(app):
    client = client_for(app, "central")
    assert "Aucune habilitation pour l" in client.get("/admin/utilisateurs/nouveau").get_data(as_text=True)
    response = client.post("/admin/utilisateurs/nouveau", data={
        "email": "svc@t.example", "name": "Robot", "role": "", "is_service_account": "y"})
    assert response.status_code == 302
    with app.app_context():
        user = db_session().scalar(select(User).where(User.email == "svc@t.example"))
        assert user.is_service_account and user.grants == []
        from core.models import MailMessage

        assert db_session().scalar(select(func.count()).select_from(MailMessage)) == 0  # no link for robots
