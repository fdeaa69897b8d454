"""Core pages on the seeded DITP demo: home, policy page, login, scope of what is listed."""

import re

import pytest
from sqlalchemy import select

from core.api import Policy, PolicyStatus, db_session
from core.testing.pytest_plugin import login


def policy_codes(html):
    return set(re.findall(r'href="/politiques/([A-Z0-9-]+)\?', html))


def published_codes(app, public_only=False):
    with app.app_context():
        query = select(Policy.code).where(Policy.status == PolicyStatus.PUBLISHED)
        if public_only:
            query = query.where(Policy.is_public.is_(True))
        return set(db_session().scalars(query))


def test_anonymous_home_lists_only_public_published_policies(demo_app, demo_client):
    html = demo_client.get("/").get_data(as_text=True)
    expected = published_codes(demo_app, public_only=True)
    assert expected, "the demo must have public policies"
    assert policy_codes(html) == expected
    assert "Se connecter" in html


def test_central_steering_sees_every_policy_with_progress(demo_app, demo_client):
    assert login(demo_client, "central_steering@demo.pilote.example").status_code == 302
    html = demo_client.get("/").get_data(as_text=True)
    with demo_app.app_context():
        every = set(db_session().scalars(select(Policy.code).where(Policy.status != PolicyStatus.ARCHIVED)))
    assert policy_codes(html) == every
    assert "<meter" in html
    # A structuring project of another department has no figure in Corse-du-Sud.
    assert "Non calculé" in demo_client.get("/?territoire=department-2A").get_data(as_text=True)
    assert "Brouillon" in html


def test_ministry_referent_sees_only_its_perimeter(demo_app, demo_client):
    login(demo_client, "ministry_referent@demo.pilote.example")
    html = demo_client.get("/").get_data(as_text=True)
    with demo_app.app_context():
        from core.api import User

        user = db_session().scalar(select(User).where(User.email == "ministry_referent@demo.pilote.example"))
        organisation_ids = {g.organisation_id for g in user.grants}
        mine = set(db_session().scalars(select(Policy.code).where(
            Policy.organisation_id.in_(organisation_ids), Policy.status != PolicyStatus.ARCHIVED)))
    assert mine and policy_codes(html) == mine


def test_home_for_a_department_and_filters(demo_client):
    login(demo_client, "central_steering@demo.pilote.example")
    html = demo_client.get("/?territoire=department-2A").get_data(as_text=True)
    assert "Corse-du-Sud" in html
    assert demo_client.get("/?territoire=department-XX").status_code == 404
    everything = policy_codes(demo_client.get("/").get_data(as_text=True))
    one_group = policy_codes(demo_client.get("/?groupe=" + _first_group(demo_client)).get_data(as_text=True))
    assert one_group and one_group < everything


def _first_group(client):
    html = client.get("/").get_data(as_text=True)
    return re.search(r'<select class="form-field__input" id="groupe" name="groupe">\s*<option value="">[^<]*</option>\s*<option value="([^"]+)"', html).group(1)


def test_policy_page_shows_indicators_contacts_and_chart(demo_app, demo_client):
    login(demo_client, "central_steering@demo.pilote.example")
    code = sorted(published_codes(demo_app))[0]
    response = demo_client.get(f"/politiques/{code}?territoire=department-69")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Rhône" in html and "Valeur initiale" in html and "mailto:" in html
    assert 'vis-chart--trajectory' in html  # the visualisation plugin's widget in its slot


def test_draft_policy_is_hidden_from_readers(demo_app, demo_client):
    with demo_app.app_context():
        draft = db_session().scalar(select(Policy.code).where(Policy.status == PolicyStatus.DRAFT))
    assert demo_client.get(f"/politiques/{draft}").status_code == 302  # anonymous → login
    login(demo_client, "reader@demo.pilote.example")
    assert demo_client.get(f"/politiques/{draft}").status_code == 403
    assert draft not in policy_codes(demo_client.get("/").get_data(as_text=True))


def test_login_errors_and_logout(demo_client):
    response = login(demo_client, "admin@demo.pilote.example", "wrong-password")
    assert response.status_code == 401
    assert "incorrect" in response.get_data(as_text=True)
    assert login(demo_client, "admin@demo.pilote.example").status_code == 302
    assert "Se déconnecter" in demo_client.get("/").get_data(as_text=True)


def test_login_redirect_is_local_only(demo_client):
    page = demo_client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"email": "admin@demo.pilote.example", "password": "pilote-demo"}
    if token:
        data["csrf_token"] = token.group(1)
    response = demo_client.post("/connexion?next=https://evil.example/x", data=data)
    assert response.headers["Location"] == "/"


def test_english_interface(demo_client):
    html = demo_client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in html and "Sign in" in html and "Skip to content" in html
    assert "Se connecter" not in html


def test_security_headers_and_escaping(demo_client):
    response = demo_client.get('/?q=<script>alert(1)</script>')
    html = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_tokens_css_and_static_assets(demo_client):
    css = demo_client.get("/static/tokens.css").get_data(as_text=True)
    assert "--pilote-primary: #000091;" in css  # the instance overrides the theme's token
    html = demo_client.get("/").get_data(as_text=True)
    url = re.search(r'href="(/static/theme/css/base.css\?v=[0-9a-f]+)"', html).group(1)
    assert demo_client.get(url).status_code == 200
    assert demo_client.get("/static/theme/../../core/app.py").status_code == 404


def test_cartographie_territories_endpoint(demo_client):
    data = demo_client.get("/cartographie/territoires/department.json").get_json()
    codes = {t["code"] for t in data["territories"]}
    assert len(codes) == 101 and {"2A", "2B", "971", "976"} <= codes
    assert demo_client.get("/cartographie/territoires/planet.json").status_code == 404


def test_datapass_status_is_for_administrators(demo_app, demo_client):
    login(demo_client, "reader@demo.pilote.example")
    assert demo_client.get("/datapass/").status_code == 403
    admin = demo_app.test_client()
    login(admin, "admin@demo.pilote.example")
    assert admin.get("/datapass/").status_code == 200


def test_logout_needs_the_csrf_token(demo_client):
    login(demo_client, "reader@demo.pilote.example")
    assert demo_client.post("/deconnexion").status_code == 400
    page = demo_client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert demo_client.post("/deconnexion", data={"csrf_token": token}).status_code == 302
    assert "Se connecter" in demo_client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/healthz"])
def test_health(demo_client, path):
    assert demo_client.get(path).get_json()["status"] == "ok"


def test_kind_filter_lists_only_that_kind(demo_app, demo_client):
    login(demo_client, "central_steering@demo.pilote.example")
    html = demo_client.get("/?type=structuring_project").get_data(as_text=True)
    with demo_app.app_context():
        projects = set(db_session().scalars(select(Policy.code).where(
            Policy.kind == "structuring_project", Policy.status != PolicyStatus.ARCHIVED)))
    assert projects and policy_codes(html) == projects
    assert "Projet structurant" in html  # the kind's label from instance.toml


def test_internal_policy_is_closed_to_anonymous_visitors_only(demo_app, demo_client):
    with demo_app.app_context():
        internal = db_session().scalar(select(Policy.code).where(
            Policy.status == PolicyStatus.PUBLISHED, Policy.is_public.is_(False)).order_by(Policy.code))
    assert internal
    assert demo_client.get(f"/politiques/{internal}").status_code == 302
    login(demo_client, "reader@demo.pilote.example")
    assert demo_client.get(f"/politiques/{internal}").status_code == 200


def test_anonymous_visitors_see_only_the_public_indicators_of_a_public_policy(demo_app, demo_client):
    from core.api import Indicator

    with demo_app.app_context():
        hidden = db_session().execute(
            select(Policy.code, Indicator.code, Indicator.name).join(Indicator, Indicator.policy_id == Policy.id)
            .where(Policy.is_public.is_(True), Policy.status == PolicyStatus.PUBLISHED,
                   Indicator.is_public.is_(False)).order_by(Indicator.code)).first()
    assert hidden, "the demo must have a non-public indicator in a public policy"
    policy_code, indicator_code, name = hidden
    html = demo_client.get(f"/politiques/{policy_code}").get_data(as_text=True)
    assert indicator_code not in html and name not in html
    chart = f"/visualisation/indicateurs/{indicator_code}/trajectoire.svg?territoire=nation-FR"
    assert demo_client.get(chart).status_code == 302  # to the sign-in page
    login(demo_client, "reader@demo.pilote.example")
    assert indicator_code in demo_client.get(f"/politiques/{policy_code}").get_data(as_text=True)
    assert demo_client.get(chart).status_code == 200
