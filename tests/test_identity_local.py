"""Local accounts: scrypt hashes, throttled sign-in (per account and per address, in the
database), password reset by e-mail (single use, expiring, no account enumeration), password
change, tampered session cookies, deactivated accounts."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from sqlalchemy import func, select, update

from core.db import session as db_session
from core.identity import throttle
from core.identity.passwords import hash_password
from core.models import AuditEntry, Grant, LoginFailure, MailMessage, PasswordReset, Role, User
from core.testing.pytest_plugin import login, seed_reference

PASSWORD = "a long enough password"


@pytest.fixture
def app(make_app):
    application = make_app(plugins=[])
    with application.app_context():
        seed_reference(application)
        for email, role in (("ada@t.example", Role.READER), ("bob@t.example", Role.READER),
                            ("admin@t.example", Role.ADMIN)):
            user = User(email=email, name=email.split("@")[0], password_hash=hash_password(PASSWORD))
            user.grants.append(Grant(role=role))
            db_session().add(user)
        db_session().commit()
    return application


def audit(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db_session().scalars(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.id)).all()


def test_passwords_are_hashed_with_scrypt(app):
    with app.app_context():
        stored = db_session().scalar(select(User.password_hash).where(User.email == "ada@t.example"))
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_sign_in_is_audited_with_where_from(app):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = "Firefox/test"
    assert login(client, "ada@t.example", PASSWORD).status_code == 302
    [entry] = audit(app, "login")
    assert (entry.actor_label, entry.ip, entry.user_agent, entry.channel) == (
        "ada@t.example", "127.0.0.1", "Firefox/test", "form")
    assert login(app.test_client(), "ada@t.example", "wrong password").status_code == 401
    [failed] = audit(app, "login_failed")
    assert failed.actor_id is None and failed.actor_label == "ada@t.example"
    assert failed.changes == {"reason": "password"}


def test_an_account_is_throttled_after_five_failures_with_a_clear_delay(app):
    client = app.test_client()
    for _ in range(throttle.MAX_PER_ACCOUNT):
        assert login(client, "ADA@t.example", "wrong password").status_code == 401
    blocked = login(client, "ada@t.example", PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 15 * 60 + 1
    assert "Réessayez dans 15 minute" in blocked.get_data(as_text=True)
    assert login(app.test_client(), "bob@t.example", PASSWORD).status_code == 302  # others are not
    assert [e.changes["reason"] for e in audit(app, "login_failed")][-1] == "throttled"
    with app.app_context():  # an hour later the window has passed
        for failure in db_session().scalars(select(LoginFailure)):
            failure.at -= dt.timedelta(hours=1)
        db_session().commit()
    assert login(client, "ada@t.example", PASSWORD).status_code == 302


def test_an_address_is_throttled_across_accounts(app, monkeypatch):
    monkeypatch.setattr(throttle, "MAX_PER_IP", 3)
    client = app.test_client()
    for n in range(3):
        assert login(client, f"nobody{n}@t.example", "wrong password").status_code == 401
    assert login(client, "bob@t.example", PASSWORD).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert login(other, "bob@t.example", PASSWORD).status_code == 302


def test_failures_are_counted_in_the_database_so_every_worker_sees_them(app, make_app):
    for _ in range(throttle.MAX_PER_ACCOUNT):
        login(app.test_client(), "ada@t.example", "wrong password")
    other_worker = make_app(plugins=[], settings={"DATABASE_URL": str(app.extensions["pilote"].db.engine.url),
                                                  "SECRET_KEY": app.config["SECRET_KEY"]})
    assert login(other_worker.test_client(), "ada@t.example", PASSWORD).status_code == 429


def test_a_success_clears_the_accounts_failures(app):
    client = app.test_client()
    for _ in range(throttle.MAX_PER_ACCOUNT - 1):
        login(client, "ada@t.example", "wrong password")
    assert login(client, "ada@t.example", PASSWORD).status_code == 302
    with app.app_context():
        assert throttle.failures(db_session(), "ada@t.example") == 0


def reset_link(app, email: str) -> str | None:
    with app.app_context():
        bodies = [m.text for m in db_session().scalars(select(MailMessage).order_by(MailMessage.id.desc()))
                  if email in m.recipients]
    for body in bodies:
        found = re.search(r"http://localhost(/mot-de-passe/reinitialiser/\S+)", body)
        if found:
            return found.group(1)
    return None


def test_password_reset_by_email_is_single_use(app):
    client = app.test_client()
    known = client.post("/mot-de-passe/oubli", data={"email": "ada@t.example"})
    unknown = client.post("/mot-de-passe/oubli", data={"email": "nobody@t.example"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)  # no enumeration
    link = reset_link(app, "ada@t.example")
    assert link is not None
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(MailMessage)) == 1
        stored = db_session().scalar(select(PasswordReset.token_hash))
        assert link.rsplit("/", 1)[1] not in stored  # only the hash is kept
    assert client.get(link).status_code == 200
    weak = client.post(link, data={"password": "short", "confirm": "short"})
    assert weak.status_code == 400 and "au moins 12" in weak.get_data(as_text=True)
    done = client.post(link, data={"password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert done.status_code == 302 and done.location.endswith("/connexion")
    assert audit(app, "password_reset")
    replay = client.post(link, data={"password": "another passphrase!", "confirm": "another passphrase!"})
    assert replay.status_code == 400 and "déjà servi" in replay.get_data(as_text=True)
    assert audit(app, "reset_refused")
    assert login(app.test_client(), "ada@t.example", PASSWORD).status_code == 401
    assert login(app.test_client(), "ada@t.example", "a brand new passphrase").status_code == 302


def test_an_expired_or_forged_reset_link_is_refused(app):
    client = app.test_client()
    client.post("/mot-de-passe/oubli", data={"email": "bob@t.example"})
    link = reset_link(app, "bob@t.example")
    with app.app_context():
        for reset in db_session().scalars(select(PasswordReset)):
            reset.expires_at = reset.created_at
        db_session().commit()
    assert client.get(link).status_code == 400
    assert client.post(link, data={"password": "a brand new passphrase",
                                   "confirm": "a brand new passphrase"}).status_code == 400
    assert client.get("/mot-de-passe/reinitialiser/forged-token").status_code == 400
    assert login(app.test_client(), "bob@t.example", PASSWORD).status_code == 302  # unchanged


def test_password_change_checks_the_current_one(app):
    client = app.test_client()
    login(client, "ada@t.example", PASSWORD)
    assert client.get("/mon-compte/").status_code == 200
    wrong = client.post("/mon-compte/mot-de-passe", data={
        "pw-current": "not it at all", "pw-password": "a brand new passphrase", "pw-confirm": "a brand new passphrase"})
    assert wrong.status_code == 400 and "actuel est incorrect" in wrong.get_data(as_text=True)
    mismatch = client.post("/mon-compte/mot-de-passe", data={
        "pw-current": PASSWORD, "pw-password": "a brand new passphrase", "pw-confirm": "something else"})
    assert mismatch.status_code == 400
    ok = client.post("/mon-compte/mot-de-passe", data={
        "pw-current": PASSWORD, "pw-password": "a brand new passphrase", "pw-confirm": "a brand new passphrase"})
    assert ok.status_code == 302
    assert audit(app, "password_change")
    assert login(app.test_client(), "ada@t.example", "a brand new passphrase").status_code == 302


def test_a_tampered_session_cookie_is_refused_and_logged(app, caplog):
    client = app.test_client()
    login(client, "ada@t.example", PASSWORD)
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    assert client.get("/mon-compte/").status_code == 200
    payload, _, signature = cookie.value.rpartition(".")
    forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    client.set_cookie(name, forged)
    with caplog.at_level(logging.WARNING, logger="pilote.auth"):
        response = client.get("/mon-compte/")
    assert response.status_code in (302, 401)
    assert "bad signature" in caplog.text


def test_a_deactivated_account_loses_its_session_at_once(app):
    client = app.test_client()
    login(client, "ada@t.example", PASSWORD)
    assert client.get("/mon-compte/").status_code == 200
    with app.app_context():
        db_session().execute(update(User).where(User.email == "ada@t.example").values(is_active=False))
        db_session().commit()
    assert client.get("/mon-compte/").status_code in (302, 401)
    assert login(app.test_client(), "ada@t.example", PASSWORD).status_code == 401


def test_login_page_is_accessible_and_offers_reset(app):
    page = app.test_client().get("/connexion").get_data(as_text=True)
    assert 'for="email"' in page and 'for="password"' in page
    assert "/mot-de-passe/oubli" in page
