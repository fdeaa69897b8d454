"""Activity feeds: a value entered through the form shows with its author and channel; filters
(kind, period, author, channel) and pagination; out-of-scope policies and territories never
show for a local contributor; who may open a person's feed; per-contributor counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from core.testing.pytest_plugin import DEMO_TODAY
from core.testing.support import client_as, email, seeded_app

POLICY_PAGE = "/politiques/CH-201?territoire=department-69"
SECRET_75 = "Signalement confidentiel Paris 7c1f"
SECRET_POLICY = "Commentaire hors périmètre 93ab"


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    _write_activity(application)
    yield application
    application.extensions["pilote"].db.dispose()


def ids(app):
    from core.db import session
    from core.models import Indicator, Policy, Territory, User

    with app.app_context():
        s = session()
        policy = s.scalar(select(Policy).where(Policy.code == "CH-201"))
        return {
            "policy": policy.id,
            "indicator": s.scalar(select(Indicator.id).where(Indicator.policy_id == policy.id).order_by(Indicator.position)),
            "indicator_name": s.scalar(select(Indicator.name).where(Indicator.policy_id == policy.id).order_by(Indicator.position)),
            "d69": s.scalar(select(Territory.id).where(Territory.level == "department", Territory.code == "69")),
            "d75": s.scalar(select(Territory.id).where(Territory.level == "department", Territory.code == "75")),
            # a published policy outside the local contributor's list (CH-101, 201, 302, 401, 901)
            "other_policy": s.scalar(select(Policy.id).where(Policy.code == "CH-102")),
            **{role: s.scalar(select(User.id).where(User.email == email(role)))
               for role in ("local_contributor", "central_steering", "territorial_coordinator", "reader")},
        }


def _write_activity(app):
    """A value through the real form (local contributor, Rhône), a weather report in Paris and a
    comment on a policy outside the contributor's list (central steering)."""
    known = ids(app)
    contributor = client_as(app, "local_contributor")
    response = contributor.post("/saisie/valeur", data={
        "indicator_id": known["indicator"], "territory_id": known["d69"], "kind": "actual",
        "date": DEMO_TODAY.replace(day=15).isoformat(), "value": "4321", "next": POLICY_PAGE})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    central = client_as(app, "central_steering")
    assert central.post("/saisie/meteo", data={
        "policy_id": known["policy"], "territory_id": known["d75"], "weather": "compromised",
        "summary": SECRET_75}).status_code == 302
    assert central.post("/dialogue/commentaires", data={
        "policy_id": known["other_policy"], "territory_id": known["d69"], "type": "obstacles",
        "body": SECRET_POLICY}).status_code == 302


def times(html: str) -> list[str]:
    return re.findall(r'<li class="activity-item[^>]*>\s*<p[^>]*><time datetime="([^"]+)"', html)


def items(html: str) -> list[str]:
    return re.findall(r'<li class="activity-item activity-item--(\w+)"', html)


def test_a_value_entered_through_the_form_shows_with_author_and_channel(app):
    known = ids(app)
    client = client_as(app, "territorial_coordinator")
    html = client.get("/activite/politique/CH-201?type=value&periode=7").get_data(as_text=True)
    assert items(html) and set(items(html)) == {"value"}
    first = html[html.index('<li class="activity-item'):]
    first = first[:first.index("</li>")]
    assert "Thomas Girard" in first and "canal : formulaire" in first
    assert "4\u202f321" in first or "4 321" in first or "4321" in first
    assert known["indicator_name"].replace("'", "&#39;") in first and "Rhône" in first
    # the same entry on the territory feed and the contributor's own feed
    assert "Thomas Girard a saisi" in client.get("/activite/territoire/department/69?type=value&periode=7").get_data(as_text=True)
    own = client_as(app, "local_contributor").get(f"/activite/utilisateur/{known['local_contributor']}?periode=7")
    assert own.status_code == 200 and "canal : formulaire" in own.get_data(as_text=True)


def test_filters_kind_author_channel_and_period(app):
    known = ids(app)
    client = client_as(app, "central_steering")
    base = "/activite/territoire/region/84"
    weather = client.get(f"{base}?type=weather&periode=tout").get_data(as_text=True)
    assert set(items(weather)) == {"weather"}
    by_author = client.get(f"{base}?periode=tout&auteur={known['local_contributor']}").get_data(as_text=True)
    assert items(by_author) and "Nadia Benali a" not in by_author and "Thomas Girard a" in by_author
    form_only = client.get(f"{base}?periode=tout&canal=form").get_data(as_text=True)
    assert set(items(form_only)) == {"value"} and "canal : formulaire" in form_only
    assert "canal : chargement initial" not in form_only
    seeded = client.get(f"{base}?periode=tout&canal=seed").get_data(as_text=True)
    assert set(items(seeded)) == {"value"} and "canal : chargement initial" in seeded
    week = client.get(f"{base}?type=comment&periode=7").get_data(as_text=True)
    year = client.get(f"{base}?type=comment&periode=365&page=2").get_data(as_text=True)
    since = (DEMO_TODAY - dt.timedelta(days=7)).isoformat()
    assert times(week) and min(times(week)) >= since
    assert times(year) and min(times(year)) < since  # older comments only over the year


def test_pagination_pages_do_not_overlap(app):
    client = client_as(app, "central_steering")
    first = client.get("/activite/territoire/region/84?periode=tout").get_data(as_text=True)
    assert len(items(first)) == 30 and 'rel="next"' in first
    second = client.get("/activite/territoire/region/84?periode=tout&page=2").get_data(as_text=True)
    assert times(second) and max(times(second)) <= min(times(first))
    assert 'rel="prev"' in second


def test_out_of_scope_policies_and_territories_never_appear_for_a_local_contributor(app):
    known = ids(app)
    contributor = client_as(app, "local_contributor")
    assert contributor.get("/activite/territoire/department/75").status_code == 403
    assert contributor.get("/activite/politique/CH-102").status_code == 404
    pages = ["/activite/politique/CH-201?periode=tout", "/activite/territoire/region/84?periode=tout",
             f"/activite/utilisateur/{known['local_contributor']}?periode=tout"]
    for url in pages:
        response = contributor.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert SECRET_75 not in html and SECRET_POLICY not in html, url
        assert "Paris" not in html, url
    # the central steering sees both
    central = client_as(app, "central_steering").get("/activite/politique/CH-201?periode=7").get_data(as_text=True)
    assert SECRET_75 in central
    assert SECRET_POLICY in client_as(app, "central_steering").get(
        "/activite/territoire/department/69?periode=7").get_data(as_text=True)


def test_nation_feed_of_a_local_contributor_stays_in_scope(app):
    from core.db import session
    from core.models import Territory

    with app.app_context():
        nation = session().scalar(select(Territory).where(Territory.parent_id.is_(None), Territory.level == "nation"))
        url = f"/activite/territoire/{nation.level}/{nation.code}?periode=tout&type=weather"
    html = client_as(app, "local_contributor").get(url).get_data(as_text=True)
    assert items(html)
    territories = set(re.findall(r'href="/territoires/(\w+/\w+)"', html))
    assert territories and territories <= {"department/69", "region/84", f"{nation.level}/{nation.code}"}
    assert SECRET_75 not in html


def test_who_may_open_a_persons_feed(app):
    known = ids(app)
    own = f"/activite/utilisateur/{known['local_contributor']}"
    assert client_as(app, "local_contributor").get(own).status_code == 200
    assert client_as(app, "local_contributor").get(f"/activite/utilisateur/{known['central_steering']}").status_code == 404
    assert client_as(app, "reader").get(own).status_code == 404  # not revealed
    assert client_as(app, "territorial_coordinator").get(own).status_code == 200  # their region
    assert client_as(app, "admin").get(own).status_code == 200
    assert app.test_client().get(own).status_code in (302, 401)
    assert client_as(app, "local_contributor").get("/activite").headers["Location"].endswith(own)


def test_coordinator_sees_who_contributes_in_their_territory(app):
    known = ids(app)
    html = client_as(app, "territorial_coordinator").get("/activite/territoire/department/69?periode=7").get_data(as_text=True)
    table = html[html.index('contributors-table'):]
    row = re.search(rf'<tr data-user="{known["local_contributor"]}">(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r"<td>(\d+)</td>", row)
    assert int(cells[0]) >= 1  # values entered
    assert f'/activite/utilisateur/{known["local_contributor"]}' in row  # inside their delegation scope


def test_links_from_the_policy_page_territory_sheet_and_user_admin(app):
    known = ids(app)
    central = client_as(app, "central_steering")
    assert "/activite/politique/CH-201" in central.get(POLICY_PAGE).get_data(as_text=True)
    assert "/activite/territoire/department/69" in central.get("/territoires/department/69").get_data(as_text=True)
    admin = client_as(app, "admin")
    assert f"/activite/utilisateur/{known['reader']}" in admin.get(f"/admin/utilisateurs/{known['reader']}").get_data(as_text=True)
