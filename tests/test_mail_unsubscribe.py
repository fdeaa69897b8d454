"""List-Unsubscribe headers (RFC 2369) and the RFC 8058 one-click unsubscribe POST.

One seeded demo app for the module, with CSRF protection **on** (as in production) and a real
local SMTP server (aiosmtpd): mails about a preference kind carry both headers, mail providers'
one-click POST unsubscribes without a CSRF token, the browser form still needs one, and
transactional mail (password reset) has no unsubscribe header.
"""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from email.policy import default
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from core.db import session as db_session
from core.models import AuditEntry, Comment, MailMessage, Policy, Territory, User
from core.preferences import read_unsubscribe_token, set_preference, wants
from core.testing.support import email, seeded_app, start_smtp_server

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture(scope="module")
def smtp():
    controller, inbox = start_smtp_server()
    yield controller, inbox
    controller.stop()


@pytest.fixture(scope="module")
def app(database_factory, smtp):
    application = seeded_app(database_factory, WTF_CSRF_ENABLED=True)
    application.extensions["pilote"].config.data["mail"].update(
        host="127.0.0.1", port=smtp[0].port, security="none", user="", sender="pilote@ditp.example")
    yield application
    application.extensions["pilote"].db.dispose()


def uid(role: str) -> int:
    return db_session().scalar(select(User.id).where(User.email == email(role)))


def delivered_to(inbox, address: str, start: int = 0):
    """The messages the SMTP server received for ``address`` since ``start`` (raw, parsed)."""
    return [(content, message_from_bytes(content, policy=default))
            for _sender, rcpts, content, _auth in inbox.messages[start:] if address in rcpts]


def unsubscribe_headers(raw: bytes, parsed) -> str:
    """Check both headers and return the unsubscribe URL."""
    header = str(parsed["List-Unsubscribe"])
    assert re.fullmatch(r"<https?://\S+>", header), header
    url = header[1:-1]
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    # written verbatim on one line, never as RFC 2047 encoded words providers would not read
    assert f"List-Unsubscribe: <{url}>".encode() in raw
    return url


def preference_audit(user_id: int, kind: str) -> list[AuditEntry]:
    return db_session().scalars(select(AuditEntry).where(
        AuditEntry.entity == "mail_preference", AuditEntry.entity_id == f"{user_id},{kind}")
        .order_by(AuditEntry.id)).all()


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def test_notification_mail_carries_the_headers_and_one_click_unsubscribes(app, smtp):
    from core.views.notifications import mail_notified

    _controller, inbox = smtp
    start = len(inbox.messages)
    with app.test_request_context("/", base_url="https://pilote.test/"):
        reader = uid("reader")
        assert wants(db_session().get(User, reader), "notification")
        sent = mail_notified([reader], subject="Nouveau commentaire", text="Un commentaire sur CH-101",
                             url="/politiques/CH-101", key="unsub-notif")
        assert sent == 1
        stored = db_session().scalar(select(MailMessage).where(MailMessage.dedupe_key == f"unsub-notif:{reader}"))
        stored_url = stored.unsubscribe_url
    [(raw, parsed)] = delivered_to(inbox, email("reader"), start)
    url = unsubscribe_headers(raw, parsed)
    assert url == stored_url and url.startswith("https://pilote.test/courriels/desabonnement/")
    body = parsed.get_body(("plain",)).get_content()
    assert f"Ne plus recevoir ces courriels : {url}" in body  # the link is in the text too
    path = urlsplit(url).path
    with app.app_context():
        assert read_unsubscribe_token(path.rsplit("/", 1)[1]) == (reader, "notification")

    client = app.test_client()  # anonymous: the signed token is the authorisation
    page = client.get(path)  # a link scanner opening the URL changes nothing
    assert page.status_code == 200 and "Me désabonner" in page.get_data(as_text=True)
    with app.app_context():
        assert wants(db_session().get(User, reader), "notification")
        assert preference_audit(reader, "notification") == []

    # the mail provider's RFC 8058 POST: no CSRF token, CSRF protection on
    done = client.post(path, data=ONE_CLICK)
    assert done.status_code == 200 and "C’est fait" in done.get_data(as_text=True)
    with app.app_context():
        user = db_session().get(User, reader)
        assert not wants(user, "notification")
        assert wants(user, "digest") and wants(user, "campaign_reminder")  # that kind only
        [entry] = preference_audit(reader, "notification")
        assert (entry.action, entry.actor_id, entry.channel) == ("insert", reader, "one-click")
        assert entry.changes["enabled"] is False
        # no more notification e-mails for the reader
        with app.test_request_context("/"):
            assert mail_notified([reader], subject="Encore", text="Encore", url="/", key="unsub-notif-2") == 0
        set_preference(db_session(), reader, "notification", True)
        db_session().commit()


def test_a_forged_token_is_refused_even_in_one_click(app):
    client = app.test_client()
    with app.app_context():
        before = db_session().scalar(select(func.count(AuditEntry.id)).where(AuditEntry.entity == "mail_preference"))
    assert client.post("/courriels/desabonnement/not-a-real-token", data=ONE_CLICK).status_code == 404
    with app.app_context():
        after = db_session().scalar(select(func.count(AuditEntry.id)).where(AuditEntry.entity == "mail_preference"))
    assert after == before


def test_the_browser_form_still_needs_its_csrf_token(app):
    with app.test_request_context("/"):
        from core.preferences import unsubscribe_url

        prefect = uid("prefect")
        path = urlsplit(unsubscribe_url(prefect, "campaign_reminder")).path
    client = app.test_client()
    # neither a CSRF token nor the one-click body: refused, nothing written
    assert client.post(path).status_code == 400
    assert client.post(path, data={"List-Unsubscribe": "Yes"}).status_code == 400
    with app.app_context():
        assert wants(db_session().get(User, prefect), "campaign_reminder")
        assert preference_audit(prefect, "campaign_reminder") == []
    # the page's button (with the page's CSRF token) works as before
    token = csrf_from(client.get(path).get_data(as_text=True))
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "C’est fait" in done.get_data(as_text=True)
    with app.app_context():
        assert not wants(db_session().get(User, prefect), "campaign_reminder")
        [entry] = preference_audit(prefect, "campaign_reminder")
        assert (entry.actor_id, entry.channel) == (prefect, "form")
        set_preference(db_session(), prefect, "campaign_reminder", True)
        db_session().commit()


def test_the_weekly_digest_carries_the_headers(app, smtp):
    from zoneinfo import ZoneInfo

    from core.digest import digest_window, send_weekly_digests

    _controller, inbox = smtp
    start = len(inbox.messages)
    now = dt.datetime(2031, 3, 10, 9, tzinfo=ZoneInfo("Europe/Paris")).astimezone(dt.timezone.utc)  # a Monday
    with app.app_context():
        session = db_session()
        begin, _end, _week = digest_window(now, ZoneInfo("Europe/Paris"))
        at = begin + dt.timedelta(days=2)
        rhone = session.scalar(select(Territory).where(Territory.level == "department", Territory.code == "69"))
        ch101 = session.scalar(select(Policy).where(Policy.code == "CH-101"))
        session.add(Comment(policy_id=ch101.id, territory_id=rhone.id, type="decision", body="Décision 2031",
                            author_id=uid("central_steering"), created_at=at, updated_at=at))
        session.commit()
        contributor = uid("local_contributor")
        report = send_weekly_digests(now)
        assert report["sent"] >= 1
    [(raw, parsed)] = delivered_to(inbox, email("local_contributor"), start)
    url = unsubscribe_headers(raw, parsed)
    assert url in parsed.get_body(("plain",)).get_content()
    with app.app_context():
        assert read_unsubscribe_token(urlsplit(url).path.rsplit("/", 1)[1]) == (contributor, "digest")


def test_a_password_reset_mail_has_no_unsubscribe_header(app, smtp):
    _controller, inbox = smtp
    start = len(inbox.messages)
    client = app.test_client()
    token = csrf_from(client.get("/mot-de-passe/oubli").get_data(as_text=True))
    assert client.post("/mot-de-passe/oubli", data={"email": email("reader"), "csrf_token": token}).status_code == 200
    [(raw, parsed)] = delivered_to(inbox, email("reader"), start)
    assert "mot de passe" in parsed.get_body(("plain",)).get_content()
    assert parsed["List-Unsubscribe"] is None and parsed["List-Unsubscribe-Post"] is None
    assert b"List-Unsubscribe" not in raw


def test_send_mail_refuses_an_unsubscribe_link_unfit_for_a_header(app):
    from core.mail import send_mail

    with app.app_context():
        for bad in ("/courriels/desabonnement/x", "https://pilote.test/a\r\nBcc: x@evil.example",
                    "https://pilote.test/a b", "https://pilote.test/é"):
            with pytest.raises(ValueError):
                send_mail(["a@example.org"], "S", "T", unsubscribe=bad)
        assert db_session().scalar(select(func.count(MailMessage.id)).where(
            MailMessage.recipients.is_not(None), MailMessage.subject == "S")) == 0
