"""Weekly digest by e-mail, e-mail preferences and the one-click unsubscribe link.

One seeded demo app for the module; each test works in its own digest week (its own ``now``
far after the demo data), with the changes it creates itself inside that week.
"""

from __future__ import annotations

import datetime as dt
import re
from email import message_from_bytes
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from core.db import session as db_session
from core.digest import JOB, digest_window, send_weekly_digests
from core.models import (Channel, Comment, ImportBatch, Indicator, IndicatorValue, IndicatorValueRevision,
                         MailMessage, MailPreference, MailStatus, Policy, Role, Territory, User, Weather,
                         WeatherReport, Grant)
from core.preferences import wants
from core.testing.pytest_plugin import login
from core.testing.support import email, seeded_app

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture(scope="module")
def app(database_factory):
    app = seeded_app(database_factory)
    yield app
    app.extensions["pilote"].db.dispose()


def monday(week: int, hour: int = 9) -> dt.datetime:
    """A Monday of 2030 (week ``week``) at ``hour`` Paris time, as UTC."""
    return dt.datetime.fromisocalendar(2030, week, 1).replace(hour=hour, tzinfo=PARIS).astimezone(dt.timezone.utc)


def uid(role: str) -> int:
    return db_session().scalar(select(User.id).where(User.email == email(role)))


def territory(level: str, code: str) -> Territory:
    return db_session().scalar(select(Territory).where(Territory.level == level, Territory.code == code))


def policy(code: str) -> Policy:
    return db_session().scalar(select(Policy).where(Policy.code == code))


def changes(now: dt.datetime, tag: str) -> dict[str, str]:
    """Changes inside the digest week ending before ``now``; returns the marker texts."""
    session = db_session()
    start, end, _week = digest_window(now, PARIS)
    at = start + dt.timedelta(days=2)
    rhone, paris = territory("department", "69"), territory("department", "75")
    ch101, ch102 = policy("CH-101"), policy("CH-102")
    central, contributor = uid("central_steering"), uid("local_contributor")
    texts = {
        "rhone_weather": f"Météo Rhône {tag}",
        "rhone_decision": f"Décision Rhône {tag}",
        "paris_comment": f"Commentaire Paris {tag}",
        "own_comment": f"Mon propre commentaire {tag}",
        "other_policy": f"Autre politique Rhône {tag}",
    }
    session.add_all([
        WeatherReport(policy_id=ch101.id, territory_id=rhone.id, weather=Weather.SUPPORT_NEEDED,
                      summary=texts["rhone_weather"], author_id=central, created_at=at),
        Comment(policy_id=ch101.id, territory_id=rhone.id, type="decision", body=texts["rhone_decision"],
                author_id=central, created_at=at, updated_at=at),
        Comment(policy_id=ch101.id, territory_id=paris.id, type="obstacles", body=texts["paris_comment"],
                author_id=central, created_at=at, updated_at=at),
        Comment(policy_id=ch101.id, territory_id=rhone.id, type="next_actions", body=texts["own_comment"],
                author_id=contributor, created_at=at, updated_at=at),
        Comment(policy_id=ch102.id, territory_id=rhone.id, type="obstacles", body=texts["other_policy"],
                author_id=central, created_at=at, updated_at=at),
    ])
    # a value entered in the Rhône and an import touching the Rhône, on CH-101
    value = session.scalar(select(IndicatorValue).join(Indicator).where(
        Indicator.policy_id == ch101.id, IndicatorValue.territory_id == rhone.id).order_by(IndicatorValue.id))
    batch = ImportBatch(format="csv", filename=f"import-{tag}.csv", file_hash=tag, author_id=central,
                        author_label="", created_at=at, counts={})
    session.add(batch)
    session.flush()
    session.add_all([
        IndicatorValueRevision(value_id=value.id, revision=90, value=value.value, source="test",
                               channel=Channel.FORM, author_id=central, recorded_at=at, note=""),
        IndicatorValueRevision(value_id=value.id, revision=91, value=value.value, source="test",
                               channel=Channel.IMPORT, author_id=central, recorded_at=at, note="",
                               import_id=batch.id),
    ])
    texts["indicator"] = value.indicator.name
    texts["import"] = f"import-{tag}.csv"
    session.commit()
    return texts


def digest_of(role_or_email: str, week: str) -> MailMessage | None:
    address = role_or_email if "@" in role_or_email else email(role_or_email)
    user_id = db_session().scalar(select(User.id).where(User.email == address))
    return db_session().scalar(select(MailMessage).where(MailMessage.dedupe_key == f"digest:{user_id}:{week}"))


def test_the_digest_window_ends_on_monday_at_seven_in_paris():
    start, end, week = digest_window(dt.datetime(2030, 1, 14, 5, 59, tzinfo=dt.timezone.utc), PARIS)
    assert end == dt.datetime(2030, 1, 14, 6, 0, tzinfo=dt.timezone.utc) - dt.timedelta(days=7)
    start2, end2, week2 = digest_window(dt.datetime(2030, 1, 14, 6, 0, tzinfo=dt.timezone.utc), PARIS)
    assert end2 == dt.datetime(2030, 1, 14, 6, 0, tzinfo=dt.timezone.utc) and start2 == end
    assert (week, week2) == ("2030-W02", "2030-W03")
    # summer time: 07:00 in Paris is 05:00 UTC
    _s, end3, _w = digest_window(dt.datetime(2030, 7, 1, 5, 0, tzinfo=dt.timezone.utc), PARIS)
    assert end3 == dt.datetime(2030, 7, 1, 5, 0, tzinfo=dt.timezone.utc)


def test_each_digest_is_limited_to_what_its_reader_may_see(app):
    now = monday(2)
    with app.app_context():
        texts = changes(now, "w2")
        report = send_weekly_digests(now)
        week = report["week"]
        assert report["sent"] >= 4
        contributor = digest_of("local_contributor", week)
        assert contributor is not None and contributor.status is MailStatus.CAPTURED
        body = contributor.text
        # the Rhône contributor: their policy in their department, by others, grouped by policy
        assert texts["rhone_weather"] in body and texts["rhone_decision"] in body
        assert "Appuis nécessaires" in body and texts["indicator"] in body and texts["import"] in body
        assert "CH-101" in body
        assert texts["paris_comment"] not in body  # Paris is out of their territory
        assert texts["other_policy"] not in body  # CH-102 is not one of their policies
        assert texts["own_comment"] not in body  # their own action
        assert "Paris" not in body
        # the region's coordinator sees the contributor's comment, not Paris
        coordinator = digest_of("territorial_coordinator", week).text
        assert texts["own_comment"] in coordinator and texts["other_policy"] in coordinator
        assert texts["paris_comment"] not in coordinator
        # a national reader sees Paris too
        reader = digest_of("reader", week).text
        assert texts["paris_comment"] in reader and texts["rhone_decision"] in reader
        # the ecology referent has none of these labour policies: nothing to say, nothing sent
        assert digest_of("ministry_referent", week) is None
        assert report["empty"] >= 1
        # the central steering wrote everything themselves: only others' changes count
        central = digest_of("central_steering", week)
        assert central is not None and texts["own_comment"] in central.text
        assert texts["paris_comment"] not in central.text
        # the HTML part: one heading per policy and the unsubscribe link
        html = contributor.html
        assert "<h2" in html and "CH-101" in html and "/courriels/desabonnement/" in html
        assert html.index("CH-101") < html.index(texts["rhone_decision"])


def test_an_empty_digest_is_not_sent(app):
    now = monday(5)
    with app.app_context():
        before = db_session().scalar(select(func.count(MailMessage.id)))
        report = send_weekly_digests(now)
        assert report["sent"] == 0 and report["empty"] >= 5
        assert db_session().scalar(select(func.count(MailMessage.id))) == before


def test_a_digest_is_sent_once_a_week(app):
    now = monday(7)
    with app.app_context():
        changes(now, "w7")
        first = send_weekly_digests(now)
        assert first["sent"] >= 4
        week_keys = select(func.count(MailMessage.id)).where(MailMessage.dedupe_key.like(f"digest:%:{first['week']}"))
        count = db_session().scalar(week_keys)
        # the hourly job later that week: nothing to do at all
        later = send_weekly_digests(now + dt.timedelta(days=3))
        assert later["week"] == first["week"] and later["done_before"] and later["sent"] == 0
        # even when forced (a marker lost, a second scheduler): the dedupe key holds
        forced = send_weekly_digests(now + dt.timedelta(hours=1), force=True)
        assert forced["sent"] == 0 and forced["already"] >= first["sent"]
        assert db_session().scalar(week_keys) == count


def test_the_periodic_job_sends_through_the_job_registry(app):
    from core.jobs import enqueue

    now = monday(9)
    with app.app_context():
        texts = changes(now, "w9")
        result = enqueue(JOB, now=now.isoformat())
        assert result.inline and result.value["sent"] >= 4
        assert texts["rhone_decision"] in digest_of("local_contributor", result.value["week"]).text


def test_unsubscribe_link_works_without_login_and_for_that_kind_only(app):
    now = monday(11)
    with app.app_context():
        changes(now, "w11")
        week = send_weekly_digests(now)["week"]
        message = digest_of("reader", week)
        link = re.search(r"https?://\S+/courriels/desabonnement/\S+", message.text).group(0)
        reader_id = uid("reader")
    path = link.split("://", 1)[1].split("/", 1)[1]
    anonymous = app.test_client()
    page = anonymous.get("/" + path)
    assert page.status_code == 200 and "Me désabonner" in page.get_data(as_text=True)
    with app.app_context():  # opening the link changes nothing (mail scanners open links)
        assert wants(db_session().get(User, reader_id), "digest")
    done = anonymous.post("/" + path)
    assert done.status_code == 200 and "C’est fait" in done.get_data(as_text=True)
    with app.app_context():
        reader = db_session().get(User, reader_id)
        assert not wants(reader, "digest")
        assert wants(reader, "notification") and wants(reader, "campaign_reminder")
        # the next week: no digest for the reader, the others still get theirs
        nxt = monday(12)
        changes(nxt, "w12")
        report = send_weekly_digests(nxt)
        assert report["unwanted"] >= 1
        assert digest_of("reader", report["week"]) is None
        assert digest_of("local_contributor", report["week"]) is not None
    # a forged or altered token is refused and writes nothing
    assert anonymous.get("/courriels/desabonnement/not-a-real-token").status_code == 404
    assert anonymous.post("/" + path[:-3] + "abc").status_code == 404


def test_preferences_page_turns_a_kind_off_and_on(app):
    client = app.test_client()
    login(client, email("prefect"))
    page = client.get("/mon-compte/courriels")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="kind_digest"' in html and "checked" in html
    assert "/mon-compte/courriels" in client.get("/mon-compte/").get_data(as_text=True)
    # untick the digest and the notifications, keep the rest
    response = client.post("/mon-compte/courriels", data={"kind_campaign_reminder": "on",
                                                            "kind_campaign_escalation": "on"})
    assert response.status_code == 302
    with app.app_context():
        prefect = db_session().get(User, uid("prefect"))
        assert not wants(prefect, "digest") and not wants(prefect, "notification")
        assert wants(prefect, "campaign_reminder") and wants(prefect, "campaign_escalation")
        rows = db_session().scalars(select(MailPreference).where(MailPreference.user_id == prefect.id)).all()
        assert {(r.kind, r.enabled) for r in rows} == {("digest", False), ("notification", False)}
        now = monday(14)
        changes(now, "w14")
        report = send_weekly_digests(now)
        assert digest_of("prefect", report["week"]) is None
        assert digest_of("territorial_coordinator", report["week"]) is not None
    assert app.test_client().get("/mon-compte/courriels").status_code in (302, 401)
    client.post("/mon-compte/courriels", data={k: "on" for k in (
        "kind_campaign_reminder", "kind_campaign_escalation", "kind_digest", "kind_notification")})
    with app.app_context():
        assert wants(db_session().get(User, uid("prefect")), "digest")


def test_notification_emails_respect_the_preference(app):
    from core.preferences import set_preference
    from core.views.notifications import mail_notified

    with app.test_request_context("/"):
        session = db_session()
        off, on = uid("reader"), uid("territorial_coordinator")
        set_preference(session, off, "notification", False)
        session.commit()
        sent = mail_notified([off, on], subject="Nouveau commentaire", text="Un commentaire",
                             url="/politiques/CH-101", key="test-notif-pref")
        assert sent == 1
        keys = set(session.scalars(select(MailMessage.dedupe_key).where(
            MailMessage.dedupe_key.like("test-notif-pref:%"))))
        assert keys == {f"test-notif-pref:{on}"}
        set_preference(session, off, "notification", True)
        session.commit()


def test_a_user_without_grant_or_inactive_gets_nothing(app):
    now = monday(16)
    with app.app_context():
        session = db_session()
        session.add(User(email="nogrant@t.example", name="Sans habilitation"))
        gone = User(email="gone@t.example", name="Parti", is_active=False)
        gone.grants.append(Grant(role=Role.READER))
        session.add(gone)
        session.commit()
        changes(now, "w16")
        report = send_weekly_digests(now)
        assert report["sent"] >= 4
        assert digest_of("nogrant@t.example", report["week"]) is None
        assert digest_of("gone@t.example", report["week"]) is None
        assert not wants(gone, "digest")


def test_captured_digests_are_readable_at_admin_courriels(app):
    now = monday(18)
    with app.app_context():
        texts = changes(now, "w18")
        report = send_weekly_digests(now)
        message = digest_of("local_contributor", report["week"])
        subject, message_id = message.subject, message.id
    admin = app.test_client()
    login(admin, email("admin"))
    listing = admin.get("/admin/courriels").get_data(as_text=True)
    assert subject.split(" — ")[0] in listing and "ce qui a changé" in listing
    detail = admin.get(f"/admin/courriels/{message_id}").get_data(as_text=True)
    assert texts["rhone_decision"] in detail


def test_digest_through_a_real_smtp_server(database_factory, smtp_server):  # noqa: F811
    controller, inbox = smtp_server
    app = seeded_app(database_factory)
    app.extensions["pilote"].config.data["mail"] = {
        **app.extensions["pilote"].config.data["mail"], "host": "127.0.0.1", "port": controller.port,
        "security": "none", "user": None, "password": None, "sender": "pilote@ditp.example"}
    try:
        now = monday(20)
        with app.app_context():
            texts = changes(now, "w20")
            report = send_weekly_digests(now)
            message = digest_of("local_contributor", report["week"])
            assert message.status is MailStatus.SENT
            contributor = email("local_contributor")
        delivered = [m for m in inbox.messages if m[1] == [contributor]]
        assert len(delivered) == 1 and len(inbox.messages) == report["sent"]
        parsed = message_from_bytes(delivered[0][2])
        parts = {part.get_content_type(): part.get_payload(decode=True).decode()
                 for part in parsed.walk() if not part.is_multipart()}
        assert texts["rhone_decision"] in parts["text/plain"] and texts["paris_comment"] not in parts["text/plain"]
        assert "<h2" in parts["text/html"] and "desabonnement" in parts["text/html"]
    finally:
        app.extensions["pilote"].db.dispose()
