"""Outgoing e-mail: a real local SMTP server (aiosmtpd), the capture backend of the embedded
default, deduplication, failures recorded, and the administrators' page."""

from __future__ import annotations

import shutil
import tomllib
from email import message_from_bytes
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy import func, select

from core.api import send_mail
from core.db import session as db_session
from core.models import AuditEntry, MailMessage, MailStatus
from core.testing.pytest_plugin import login


def instance_with_mail(tmp_path: Path, mail: dict) -> Path:
    source = Path(__file__).resolve().parents[1] / "instances" / "ditp"
    target = tmp_path / "inst" / "ditp"
    shutil.copytree(source, target)
    data = tomllib.loads((target / "instance.toml").read_text(encoding="utf-8"))
    data["plugins"] = {"enabled": []}
    data["mail"] = mail
    (target / "instance.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    return target / "instance.toml"


def test_messages_go_through_a_real_smtp_server(make_app, tmp_path, smtp_server, monkeypatch):
    controller, inbox = smtp_server
    monkeypatch.setenv("PILOTE_TEST_SMTP_PASSWORD", "smtp-pass")
    app = make_app(instance_with_mail(tmp_path, {
        "host": "127.0.0.1", "port": controller.port, "security": "none", "user": "pilote",
        "password": {"env": "PILOTE_TEST_SMTP_PASSWORD"}, "sender": "pilote@ditp.example"}))
    with app.app_context():
        assert send_mail(["a@example.org", "b@example.org"], "Sujet é", "Texte brut",
                         "<p>Texte <b>riche</b></p>") is True
        message = db_session().scalar(select(MailMessage))
        assert message.status is MailStatus.SENT and message.sent_at is not None
    assert len(inbox.messages) == 1
    sender, recipients, content, _auth = inbox.messages[0]
    assert sender == "pilote@ditp.example" and recipients == ["a@example.org", "b@example.org"]
    parsed = message_from_bytes(content)
    assert str(parsed["Subject"]) == "Sujet é" or "Sujet" in str(parsed["Subject"])
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in parsed.walk()
             if not part.is_multipart()}
    assert "Texte brut" in parts["text/plain"] and "<b>riche</b>" in parts["text/html"]


def test_a_refused_login_marks_the_message_failed_without_raising(make_app, tmp_path, smtp_server,
                                                                  monkeypatch):
    controller, inbox = smtp_server
    app = make_app(instance_with_mail(tmp_path, {
        "host": "127.0.0.1", "port": controller.port, "security": "none", "user": "pilote",
        "password": "wrong"}))
    with app.app_context():
        assert send_mail(["a@example.org"], "S", "T") is True
        message = db_session().scalar(select(MailMessage))
        assert message.status is MailStatus.FAILED and "535" in message.error
    assert inbox.messages == []


def test_without_smtp_messages_are_captured_and_deduplicated(make_app):
    app = make_app(plugins=[])
    with app.app_context():
        assert send_mail(["x@example.org"], "Rappel", "Corps", dedupe_key="reminder:1:2026-11") is True
        assert send_mail(["x@example.org"], "Rappel", "Corps", dedupe_key="reminder:1:2026-11") is False
        assert send_mail(["x@example.org"], "Rappel", "Corps", dedupe_key="reminder:1:2026-12") is True
        rows = db_session().scalars(select(MailMessage).order_by(MailMessage.id)).all()
        assert [r.status for r in rows] == [MailStatus.CAPTURED, MailStatus.CAPTURED]
        # bodies stay out of the audit log (they may hold reset links)
        entries = db_session().scalars(select(AuditEntry).where(AuditEntry.entity == "mail_message")).all()
        assert entries and all("text" not in e.changes for e in entries)


def test_send_mail_needs_a_recipient(make_app):
    app = make_app(plugins=[])
    with app.app_context(), pytest.raises(ValueError):
        send_mail(["  "], "S", "T")


def test_mail_goes_through_redis_and_a_worker_when_configured(make_app):
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    from rq import SimpleWorker

    from core.jobs import get_queue, set_worker_app

    app = make_app(plugins=[], settings={"REDIS_URL": "redis://127.0.0.1:6379/0"})
    with app.app_context():
        queue = get_queue(app)
        queue.empty()
        assert send_mail(["q@example.org"], "Par la file", "Corps") is True
        assert db_session().scalar(select(MailMessage.status)) is MailStatus.QUEUED
        set_worker_app(None)
    set_worker_app(app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        set_worker_app(None)
    with app.app_context():
        db_session().expire_all()
        assert db_session().scalar(select(MailMessage.status)) is MailStatus.CAPTURED


def add_user(email: str, role, password: str = "a long enough password") -> None:
    from werkzeug.security import generate_password_hash

    from core.models import Grant, User

    user = User(email=email, name=email.split("@")[0], password_hash=generate_password_hash(password))
    if role is not None:
        user.grants.append(Grant(role=role))
    db_session().add(user)
    db_session().commit()


def test_administrators_read_captured_mail_others_may_not(make_app):
    from core.models import Role

    app = make_app(plugins=[])
    with app.app_context():
        for role in (Role.ADMIN, Role.CENTRAL_STEERING, Role.TERRITORIAL_COORDINATOR, Role.READER):
            add_user(f"{role.value}@t.example", role)
        send_mail(["x@example.org"], "Objet visible", "Corps du message")
        message_id = db_session().scalar(select(func.max(MailMessage.id)))
    admin = app.test_client()
    login(admin, "admin@t.example", "a long enough password")
    page = admin.get("/admin/courriels").get_data(as_text=True)
    assert "Objet visible" in page and "capturé" in page
    assert "Corps du message" in admin.get(f"/admin/courriels/{message_id}").get_data(as_text=True)
    assert admin.get("/admin/courriels/999").status_code == 404
    for role in ("central_steering", "territorial_coordinator", "reader"):
        other = app.test_client()
        login(other, f"{role}@t.example", "a long enough password")
        assert other.get("/admin/courriels").status_code == 403
        assert other.get(f"/admin/courriels/{message_id}").status_code == 403
    assert app.test_client().get("/admin/courriels").status_code in (302, 401)
