"""Review campaigns: opening (form and permissions), what a contributor owes, the live page,
changes since the last review, closing → a frozen snapshot that later values do not change."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from sqlalchemy import func, select

from core.campaigns import service
from core.db import session as db_session, utcnow
from core.models import (Campaign, CampaignSnapshot, CampaignStatus, Channel, Comment, Indicator,
                         IndicatorValue, IndicatorValueRevision, Policy, Territory, User, ValueKind,
                         Weather, WeatherReport)
from core.testing.support import client_as, email, make_gaps, seeded_app

# "now" in these tests is PILOTE_TODAY (2026-11-01) at noon UTC: due dates in late October are passed
DUE = {"due_department": "2026-10-28", "due_region": "2026-10-30"}


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    with application.app_context():
        make_gaps("CH-101", "69", [dt.date(2026, 5, 1), dt.date(2026, 6, 1)])
    yield application
    application.extensions["pilote"].db.dispose()


def policy(code) -> Policy:
    return db_session().scalar(select(Policy).where(Policy.code == code))


def user(role) -> User:
    return db_session().scalar(select(User).where(User.email == email(role)))


def open_form(client, title, codes, **extra):
    with client.application.app_context():
        ids = [str(policy(c).id) for c in codes]
    data = {"title": title, "kind": "one_off", "description": "Revue avant la RIM",
            "policies": ids, "remind_days_before": "3", "escalate_days_after": "3", **DUE, **extra}
    return client.post("/campagnes/nouvelle", data=data)


def add_value(indicator_id, territory_id, day, value="1"):
    session = db_session()
    row = IndicatorValue(indicator_id=indicator_id, territory_id=territory_id, kind=ValueKind.ACTUAL,
                         date=day, value=decimal.Decimal(value), channel=Channel.FORM)
    session.add(row)
    session.flush()
    session.add(IndicatorValueRevision(value_id=row.id, revision=1, value=row.value, channel=Channel.FORM))
    session.commit()


def test_central_steering_opens_a_campaign(app):
    client = client_as(app, "central_steering")
    page = client.get("/campagnes/nouvelle")
    assert page.status_code == 200 and 'name="due_department"' in page.get_data(as_text=True)
    response = open_form(client, "Revue CH-101 novembre", ["CH-101", "CH-201"])
    assert response.status_code == 302
    with app.app_context():
        campaign = db_session().scalar(select(Campaign).where(Campaign.title == "Revue CH-101 novembre"))
        assert campaign.status is CampaignStatus.OPEN and campaign.code.startswith("2026-")
        assert response.headers["Location"].endswith(f"/campagnes/{campaign.code}")
        assert [p.code for p in campaign.policies] == ["CH-101", "CH-201"]
        assert campaign.due_dates == {"department": "2026-10-28", "region": "2026-10-30"}
        assert campaign.period_end == dt.date(2026, 10, 30)  # the latest due date
        assert campaign.opened_by.email == email("central_steering")
    # without policy or due date the form is refused, nothing created
    with app.app_context():
        before = db_session().scalar(select(func.count(Campaign.id)))
    assert open_form(client, "Sans politique", []).status_code == 200
    bad = client.post("/campagnes/nouvelle", data={"title": "Sans échéance", "kind": "monthly",
                                                    "policies": [str(policy_id("CH-101", app))],
                                                    "remind_days_before": "3", "escalate_days_after": "3"})
    assert bad.status_code == 200 and "Indiquez au moins une échéance" in bad.get_data(as_text=True)
    with app.app_context():
        assert db_session().scalar(select(func.count(Campaign.id))) == before


def policy_id(code, app):
    with app.app_context():
        return policy(code).id


def campaign_by_title(title) -> Campaign:
    return db_session().scalar(select(Campaign).where(Campaign.title == title))


def test_a_local_contributor_may_not_open_or_close(app):
    client = client_as(app, "local_contributor")
    assert client.get("/campagnes/nouvelle").status_code == 403
    assert open_form(client, "Interdite", ["CH-101"]).status_code == 403
    with app.app_context():
        assert campaign_by_title("Interdite") is None
        code = campaign_by_title("Revue CH-101 novembre").code
    assert client.post(f"/campagnes/{code}/cloture").status_code == 403
    with app.app_context():
        campaign = campaign_by_title("Revue CH-101 novembre")
        assert campaign.is_open and not campaign.snapshot
    # but they see the campaigns (territory.read) and the menu entry
    page = client.get("/campagnes").get_data(as_text=True)
    assert "Campagnes" in page and "Revue CH-101 novembre" in page and "Ouvrir une campagne" not in page
    assert client.get("/campagnes", follow_redirects=False).status_code == 200
    assert app.test_client().get("/campagnes").status_code in (302, 401)


def test_a_ministry_referent_manages_campaigns_of_their_perimeter_only(app):
    with app.app_context():
        referent = user("ministry_referent")
        grant = referent.active_grants()[0]
        own = db_session().scalars(select(Policy.code).where(Policy.organisation_id == grant.organisation_id)
                                   .order_by(Policy.code)).all()
        other = db_session().scalar(select(Policy.code).where(Policy.organisation_id != grant.organisation_id)
                                    .order_by(Policy.code))
    assert own and other
    client = client_as(app, "ministry_referent")
    page = client.get("/campagnes/nouvelle").get_data(as_text=True)
    assert own[0] in page and f"{other} —" not in page  # only their policies are offered
    assert open_form(client, "Hors périmètre", [other]).status_code == 200  # not a valid choice
    assert open_form(client, "Revue du ministère", [own[0]]).status_code == 302
    with app.app_context():
        assert campaign_by_title("Hors périmètre") is None
        code = campaign_by_title("Revue CH-101 novembre").code  # opened by central steering, other policies
    response = client.post(f"/campagnes/{code}/cloture")
    with app.app_context():
        covered = all(p.organisation_id == grant.organisation_id for p in campaign_by_title("Revue CH-101 novembre").policies)
        assert response.status_code == (302 if covered else 403)
        assert campaign_by_title("Revue CH-101 novembre").is_open is (not covered)


def test_a_contributor_sees_what_they_owe(app):
    with app.app_context():
        campaign = campaign_by_title("Revue CH-101 novembre")
        contributor = user("local_contributor")
        department = db_session().scalar(select(Territory).where(Territory.level == "department", Territory.code == "69"))
        report = service.report_of(db_session(), campaign, territory_ids=[department.id])
        owed = [c for c in report.cells if c.missing and contributor.id in c.contributor_ids]
        code = campaign.code
    assert owed, "the demo should leave some entries missing in department 69"
    client = client_as(app, "local_contributor")
    listing = client.get("/campagnes").get_data(as_text=True)
    assert f"/campagnes/{code}/ce-que-je-dois" in listing and 'id="my-campaigns"' in listing
    page = client.get(f"/campagnes/{code}/ce-que-je-dois").get_data(as_text=True)
    assert page.count("<tr><td>") == len(owed)
    assert "En retard" in page  # the department's due date (2026-10-28) is passed on 2026-11-01
    # entering one missing value removes it from what they owe
    cell = owed[0]
    with app.app_context():
        add_value(cell.indicator_id, cell.territory_id, cell.missing[0] + dt.timedelta(days=1))
    page = client.get(f"/campagnes/{code}/ce-que-je-dois").get_data(as_text=True)
    assert page.count("<tr><td>") == len(owed) - (len(cell.missing) == 1)
    # a reader owes nothing
    reader = client_as(app, "reader").get(f"/campagnes/{code}/ce-que-je-dois").get_data(as_text=True)
    assert "aucune saisie attendue" in reader


def test_live_page_shows_completeness_and_who_is_late(app):
    with app.app_context():
        campaign = campaign_by_title("Revue CH-101 novembre")
        report = service.report_of(db_session(), campaign)
        code = campaign.code
        contributor = user("local_contributor")
        late = service.late_cells(db_session(), campaign, report, service.now_utc())
        assert late and all(item.due < dt.date(2026, 11, 1) for item in late)
    page = client_as(app, "central_steering").get(f"/campagnes/{code}").get_data(as_text=True)
    assert "Complétude en direct" in page
    assert f"{report.total.received} saisies reçues sur {report.total.expected} attendues" in page
    assert 'id="late-users"' in page and contributor.name in page
    assert 'id="close-form"' in page
    assert "Depuis l’ouverture de la campagne" in page
    # the local contributor sees only their department (and its ancestors), no close button
    local = client_as(app, "local_contributor").get(f"/campagnes/{code}").get_data(as_text=True)
    assert 'id="close-form"' not in local and "69 – Rhône" in local and "75 – Paris" not in local
    assert "84 – " not in local  # no partial roll-up above their scope
    # per policy: the engine's figures
    with app.app_context():
        ch101 = report.policies[policy("CH-101").id]
    assert f"CH-101" in page and f"<td>{ch101.expected}</td><td>{ch101.received}</td>" in page


def test_changes_since_the_last_review(app):
    with app.app_context():
        session = db_session()
        ch101 = policy("CH-101")
        first = service.open_campaign(session, title="Revue précédente", kind="monthly", policies=[ch101],
                                      due_dates={"department": dt.date(2026, 10, 20)}, opened_by=None)
        service.close_campaign(session, first, None, now=utcnow())
        session.commit()
        second = service.open_campaign(session, title="Revue suivante", kind="monthly", policies=[ch101],
                                       due_dates={"department": dt.date(2026, 11, 20)}, opened_by=None)
        session.commit()
        assert service.changes_since_last_review(session, second).counts == {"values": 0, "weather": 0, "comments": 0}
        department = session.scalar(select(Territory).where(Territory.level == "department", Territory.code == "69"))
        indicator = session.scalar(select(Indicator).where(Indicator.policy_id == ch101.id).order_by(Indicator.id))
        add_value(indicator.id, department.id, dt.date(2026, 9, 15), "42")
        session.add(WeatherReport(policy_id=ch101.id, territory_id=department.id, weather=Weather.ACHIEVABLE,
                                  summary="ok"))
        session.add(Comment(policy_id=ch101.id, territory_id=department.id, type="other", body="Nouveau frein"))
        session.add(Comment(policy_id=policy("CH-201").id, territory_id=department.id, type="other", body="ailleurs"))
        session.commit()
        changes = service.changes_since_last_review(session, second)
        assert changes.previous.id == first.id
        assert changes.counts == {"values": 1, "weather": 1, "comments": 1}
        code = second.code
    page = client_as(app, "central_steering").get(f"/campagnes/{code}").get_data(as_text=True)
    assert "Depuis la clôture de la campagne" in page and "Nouveau frein" in page and "ailleurs" not in page


def test_closing_freezes_the_snapshot(app):
    with app.app_context():
        campaign = campaign_by_title("Revue CH-101 novembre")
        code = campaign.code
        if not campaign.is_open:
            pytest.skip("closed by the referent test (their perimeter covers it)")
    client = client_as(app, "central_steering")
    assert client.post(f"/campagnes/{code}/cloture").status_code == 302
    with app.app_context():
        session = db_session()
        campaign = campaign_by_title("Revue CH-101 novembre")
        assert campaign.status is CampaignStatus.CLOSED and campaign.closed_at is not None
        assert campaign.closed_by.email == email("central_steering")
        nation = session.scalar(select(Territory).where(Territory.parent_id.is_(None)))
        rows = {(s.territory_id, s.policy_id): s for s in campaign.snapshot}
        national = rows[(nation.id, policy("CH-101").id)]
        live = service.report_of(session, campaign).policies[policy("CH-101").id]
        assert (national.expected, national.received) == (live.expected, live.received)
        assert national.late > 0 and national.progress is not None
        frozen = [(s.territory_id, s.policy_id, s.expected, s.received, s.late, s.progress, s.weather)
                  for s in campaign.snapshot]
        # a later value changes the live figures but not the snapshot
        cell = next(c for c in service.report_of(session, campaign).cells
                    if c.missing and c.policy_id == policy("CH-101").id)
        add_value(cell.indicator_id, cell.territory_id, cell.missing[0])
        assert service.report_of(session, campaign).policies[policy("CH-101").id].received == live.received + 1
        session.expire_all()
        again = [(s.territory_id, s.policy_id, s.expected, s.received, s.late, s.progress, s.weather)
                 for s in campaign_by_title("Revue CH-101 novembre").snapshot]
        assert again == frozen
        cited = service.campaigns_of_policy(session, policy("CH-101").id)
        assert code in [c.code for c in cited]
        expected_text = f"{national.received}</td><td>{national.late}"
    page = client.get(f"/campagnes/{code}").get_data(as_text=True)
    assert "Chiffres figés à la clôture" in page and 'id="campaign-citation"' in page
    assert f"campagne {code}" in page and expected_text in page
    assert 'id="close-form"' not in page
    # closing twice does nothing more
    assert client.post(f"/campagnes/{code}/cloture").status_code == 302
    with app.app_context():
        assert db_session().scalar(select(func.count(CampaignSnapshot.id)).where(
            CampaignSnapshot.campaign_id == campaign_by_title("Revue CH-101 novembre").id)) == len(frozen)
