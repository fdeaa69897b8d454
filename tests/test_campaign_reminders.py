"""Campaign reminders through a real SMTP server (aiosmtpd): before, on and after the due date,
escalation to the territory's coordinators, no duplicate on a second run, preferences, time
zones (La Réunion reaches its due date before Paris), the inline job, a real RQ queue on
Redis, and ``pilote campaigns remind``."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email.policy import default

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.campaigns import service
from core.campaigns.reminders import remind
from core.db import session as db_session
from core.jobs import enqueue, get_queue, set_worker_app
from core.models import Grant, MailMessage, Policy, Role, Territory, User
from core.preferences import set_preference
from core.timezones import local_today, zone_of
from core.testing.support import Inbox, email, free_port, make_gaps, redis_url, seeded_app

REUNION = "reunion.contributor@demo.pilote.example"
DUE = dt.date(2026, 12, 10)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), server_hostname="localhost")
    controller.start()
    yield controller, inbox
    controller.stop()


def use_smtp(app, controller):
    app.extensions["pilote"].config.data["mail"].update(
        host="127.0.0.1", port=controller.port, security="none", user="", sender="pilote@ditp.example")


def prepare(app):
    """Gaps in May and June 2026 for CH-101 in the Rhône (69) and La Réunion (974), a local
    contributor in La Réunion, and a campaign on CH-101 due on 2026-12-10 in departments."""
    with app.app_context():
        session = db_session()
        make_gaps("CH-101", "69", [dt.date(2026, 5, 1), dt.date(2026, 6, 1)])
        make_gaps("CH-101", "974", [dt.date(2026, 5, 1), dt.date(2026, 6, 1)])
        reunion = session.scalar(select(Territory).where(Territory.level == "department", Territory.code == "974"))
        person = User(email=REUNION, name="Inès Payet", is_active=True)
        session.add(person)
        session.flush()
        session.add(Grant(user_id=person.id, role=Role.LOCAL_CONTRIBUTOR, territory_id=reunion.id))
        ch101 = session.scalar(select(Policy).where(Policy.code == "CH-101"))
        campaign = service.open_campaign(
            session, title="Revue de décembre", kind="monthly", policies=[ch101],
            due_dates={"department": DUE, "region": dt.date(2026, 12, 15)}, opened_by=None,
            period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 8, 31))
        session.commit()
        return campaign.code


@pytest.fixture(scope="module")
def app(database_factory, smtp):
    application = seeded_app(database_factory)
    use_smtp(application, smtp[0])
    prepare(application)
    yield application
    application.extensions["pilote"].db.dispose()


def received(inbox, start=0):
    """(recipient, subject, text) of the messages received since ``start``."""
    out = []
    for _sender, recipients, content, _auth in inbox.messages[start:]:
        parsed = message_from_bytes(content, policy=default)
        body = parsed.get_body(("plain",)).get_content()
        for rcpt in recipients:
            out.append((rcpt, str(parsed["Subject"]), body))
    return out


def test_time_zones_of_territories(app):
    with app.app_context():
        session = db_session()

        def place(level, code):
            return session.scalar(select(Territory).where(Territory.level == level, Territory.code == code))

        assert str(zone_of(place("department", "974"))) == "Indian/Reunion"
        assert str(zone_of(place("department", "973"))) == "America/Cayenne"
        assert str(zone_of(place("region", "04"))) == "Indian/Reunion"
        assert str(zone_of(place("department", "69"))) == "Europe/Paris"  # the instance default
        instant = at("2026-12-09T21:30:00")
        assert local_today(place("department", "974"), instant) == DUE
        assert local_today(place("department", "69"), instant) == DUE - dt.timedelta(days=1)


def test_reminders_before_on_and_after_the_due_date_then_escalation(app, smtp):
    _controller, inbox = smtp
    contributors = {email("local_contributor"), email("territorial_coordinator"), email("prefect")}
    with app.app_context():
        # 4 days before: nothing yet
        assert remind(at("2026-12-06T12:00:00"))["before"] == 0
        assert not inbox.messages
        # 3 days before: the contributors of the Rhône (region 84 coordinators are contributors too)
        # and of La Réunion
        sent = remind(at("2026-12-07T12:00:00"))
        assert sent["before"] == 4 and sent["due"] == sent["after"] == sent["escalation"] == 0
        mails = received(inbox)
        assert {m[0] for m in mails} == contributors | {REUNION}
        local = next(m for m in mails if m[0] == email("local_contributor"))
        assert "Revue de décembre" in local[1] and "10 décembre 2026" in local[1]
        assert "Rhône" in local[2] and "2026-05-01, 2026-06-01" in local[2] and "/ce-que-je-dois" in local[2]
        assert "La Réunion" not in local[2]  # only what they owe
        # a second run, and the next day (still "before"): nothing twice
        assert sum(remind(at("2026-12-07T12:00:00")).values()) == 0
        assert sum(remind(at("2026-12-08T12:00:00")).values()) == 0
        assert len(inbox.messages) == 4
        # 21:30 UTC on the 9th: already the 10th in La Réunion (UTC+4), not yet in Paris (UTC+1)
        sent = remind(at("2026-12-09T21:30:00"))
        assert sent["due"] == 1 and sent["before"] == 0
        (only,) = received(inbox, 4)
        assert only[0] == REUNION and "aujourd’hui" in only[1]
        # 23:30 UTC: the 10th in Paris
        sent = remind(at("2026-12-09T23:30:00"))
        assert sent["due"] == 3
        assert {m[0] for m in received(inbox, 5)} == contributors
        # after the due date
        sent = remind(at("2026-12-11T12:00:00"))
        assert sent["after"] == 4 and sent["escalation"] == 0
        assert all("en retard" in m[1] for m in received(inbox, 8))
        # 3 days after: escalation to the coordinator and the prefect of the Rhône's region,
        # naming who is late; nobody coordinates La Réunion
        count = len(inbox.messages)
        sent = remind(at("2026-12-13T12:00:00"))
        assert sent == {"before": 0, "due": 0, "after": 0, "escalation": 2, "skipped": 0}
        escalations = received(inbox, count)
        assert {m[0] for m in escalations} == {email("territorial_coordinator"), email("prefect")}
        assert all("retards dans votre territoire" in m[1] and "Thomas Girard" in m[2] for m in escalations)
        assert all("/campagnes/" in m[2] and "/ce-que-je-dois" not in m[2] for m in escalations)
        assert sum(remind(at("2026-12-14T12:00:00")).values()) == 0
        keys = db_session().scalars(select(MailMessage.dedupe_key)).all()
        assert len(keys) == len(set(keys)) == len(inbox.messages) == 14


def test_preferences_off_means_no_mail(app, smtp):
    _controller, inbox = smtp
    with app.app_context():
        session = db_session()
        ch101 = session.scalar(select(Policy).where(Policy.code == "CH-101"))
        campaign = service.open_campaign(
            session, title="Revue sans courriel", kind="one_off", policies=[ch101],
            due_dates={"department": dt.date(2027, 1, 20)}, opened_by=None,
            period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 8, 31))
        for user in session.scalars(select(User)):
            set_preference(session, user.id, "campaign_reminder", False)
            set_preference(session, user.id, "campaign_escalation", False)
        session.commit()
        count = len(inbox.messages)
        for when in ("2027-01-18T12:00:00", "2027-01-20T12:00:00", "2027-01-21T12:00:00", "2027-01-25T12:00:00"):
            sent = remind(at(when), [campaign.code])
            assert sent["before"] == sent["due"] == sent["after"] == sent["escalation"] == 0
            assert sent["skipped"] > 0
        assert len(inbox.messages) == count
        # back on: the reminder of the current stage arrives
        set_preference(session, db_session().scalar(select(User.id).where(User.email == REUNION)),
                       "campaign_reminder", True)
        session.commit()
        assert remind(at("2027-01-25T12:00:00"), [campaign.code])["after"] == 1
        assert received(inbox, count)[0][0] == REUNION


def test_the_job_runs_inline_and_is_periodic(app):
    with app.app_context():
        spec = app.extensions["pilote"].jobs["campaigns.remind"]
        assert spec.every == dt.timedelta(hours=1)
        result = enqueue("campaigns.remind", now="2026-12-14T12:00:00+00:00")
        assert result.inline and result.value["escalation"] == 0 and "before" in result.value


def test_through_a_real_redis_queue(database_factory, smtp):
    from rq import SimpleWorker

    controller, inbox = smtp
    application = seeded_app(database_factory, REDIS_URL=redis_url())
    use_smtp(application, controller)
    code = prepare(application)
    try:
        with application.app_context():
            queue = get_queue(application)
            queue.empty()
            result = enqueue("campaigns.remind", now="2026-12-07T12:00:00+00:00")
            assert not result.inline and result.id
        count = len(inbox.messages)
        set_worker_app(application)
        try:
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
        finally:
            set_worker_app(None)
        assert queue.fetch_job(result.id).get_status() == "finished"
        assert queue.fetch_job(result.id).return_value()["before"] == 4
        assert len(inbox.messages) == count + 4  # delivered by the deliver_mail jobs of the same queue
        with application.app_context():
            keys = db_session().scalars(select(MailMessage.dedupe_key)).all()
            assert all(k.startswith(f"campaign:{code}:before:") for k in keys)
    finally:
        application.extensions["pilote"].db.dispose()


def test_cli_command(app, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from core.cli import cli

    monkeypatch.setenv("PILOTE_DATABASE_URL", app.extensions["pilote"].config.database_url)
    monkeypatch.setenv("PILOTE_VAR_DIR", str(tmp_path / "var"))
    with app.app_context():
        before = len(db_session().scalars(select(MailMessage.id)).all())
    runner = CliRunner()
    result = runner.invoke(cli, ["--instance", "ditp", "campaigns", "remind", "--now", "2026-12-14T12:00:00"])
    assert result.exit_code == 0, result.output
    assert "before 0" in result.output and "escalation 0" in result.output
    result = runner.invoke(cli, ["--instance", "ditp", "campaigns", "remind", "--now", "2027-02-10T12:00:00"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db_session().expire_all()
        assert len(db_session().scalars(select(MailMessage.id)).all()) >= before
