"""Catalogue administration: policies, indicators (aggregation method validated), custom grids;
role checks, versions (no silent overwrite), audit, located errors."""

from __future__ import annotations

import re
import shutil
import tomllib

import pytest
import tomli_w
from sqlalchemy import select

from core.testing.pytest_plugin import login
from core.testing.support import client_as, email, seeded_app


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def form_of(html: str) -> dict:
    """The fields of the page's catalogue form, as a browser would send them."""
    form = html[html.index('<form method="post" action="/admin/catalogue/'):]
    form = form[:form.index("</form>")]
    data = {}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form):
        data[name] = value
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = body
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        data[name] = chosen.group(1) if chosen else re.search(r'<option value="([^"]*)"', options).group(1)
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" value="1" checked', form):
        data[name] = "1"
    data.pop("csrf_token", None)
    return {k: v.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"') for k, v in data.items()}


def errors_of(response) -> list[str]:
    return re.findall(r'<p class="form-field__error"[^>]*>([^<]*)', response.get_data(as_text=True))


def indicator(app, code):
    from core.db import session
    from core.models import Indicator

    with app.app_context():
        item = session().scalar(select(Indicator).where(Indicator.code == code))
        session().expunge(item)
        return item


def test_only_administrators_and_central_steering_edit_the_catalogue(app):
    for role in ("reader", "local_contributor", "prefect", "ministry_referent"):
        client = client_as(app, role)
        assert client.get("/admin/catalogue/").status_code == 403, role
        assert client.post("/admin/catalogue/indicateurs/IND-1011", data={"name": "x"}).status_code == 403
    assert indicator(app, "IND-1011").name != "x"
    assert client_as(app, "central_steering").get("/admin/catalogue/").status_code == 200
    assert client_as(app, "admin").get("/admin/catalogue/indicateurs/IND-1011").status_code == 200


def test_an_aggregation_method_that_does_not_exist_cannot_be_saved(app):
    client = client_as(app, "central_steering")
    data = form_of(client.get("/admin/catalogue/indicateurs/IND-1011").get_data(as_text=True))
    before = indicator(app, "IND-1011")
    response = client.post("/admin/catalogue/indicateurs/IND-1011",
                           data={**data, "aggregation_method": "no_such_method", "unit": "dossiers"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Méthode d&#39;agrégation inconnue" in html and 'id="i-aggregation_method-error"' in html
    assert 'value="dossiers"' in html  # what was typed is kept
    after = indicator(app, "IND-1011")
    assert (after.aggregation_method, after.unit, after.version) == (before.aggregation_method, before.unit, before.version)


def test_indicator_parameters_are_saved_audited_and_versioned(app):
    from core.db import session
    from core.models import AuditEntry

    client = client_as(app, "central_steering")
    data = form_of(client.get("/admin/catalogue/indicateurs/IND-1012").get_data(as_text=True))
    before = indicator(app, "IND-1012")
    changed = {**data, "unit": "personnes", "availability_delay_months": "3", "periodicity": "quarterly",
               "aggregation_method": "mean", "weight_department": "30"}
    saved = client.post("/admin/catalogue/indicateurs/IND-1012", data=changed)
    assert saved.status_code == 302, errors_of(saved)
    after = indicator(app, "IND-1012")
    assert (after.unit, after.availability_delay_months, after.periodicity.value, after.aggregation_method) == \
        ("personnes", 3, "quarterly", "mean")
    assert after.version == before.version + 1
    with app.app_context():
        entry = session().scalar(select(AuditEntry).where(AuditEntry.entity == "indicator",
                                                          AuditEntry.entity_id == str(after.id))
                                 .order_by(AuditEntry.id.desc()).limit(1))
        assert entry.actor_label == email("central_steering") and entry.changes["unit"][1] == "personnes"
    # the same (now stale) form again: a conflict page, nothing overwritten
    stale = client.post("/admin/catalogue/indicateurs/IND-1012", data={**changed, "unit": "autre"})
    assert stale.status_code == 409 and "personnes" in stale.get_data(as_text=True)
    assert indicator(app, "IND-1012").unit == "personnes"
    bad_weight = client.post("/admin/catalogue/indicateurs/IND-1012",
                             data={**form_of(client.get("/admin/catalogue/indicateurs/IND-1012").get_data(as_text=True)),
                                   "weight_region": "150"})
    assert bad_weight.status_code == 422 and "Pondération entre 0 et 100" in bad_weight.get_data(as_text=True)


def test_policy_fields_and_contacts_with_located_errors(app):
    from core.db import session
    from core.models import Policy, PolicyContact

    client = client_as(app, "admin")
    data = form_of(client.get("/admin/catalogue/politiques/CH-103").get_data(as_text=True))
    bad = client.post("/admin/catalogue/politiques/CH-103", data={
        **data, "contacts": "owner ; Ana ; ana@example.org\nchef ; Bob ; bob@example.org", "kind": "nope"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "ligne 2" in html and "Type de politique inconnu" in html
    good = client.post("/admin/catalogue/politiques/CH-103", data={
        **data, "name": "Nouveau nom", "status": "draft", "contacts": "owner ; Ana Durand ; ana@example.org"})
    assert good.status_code == 302, errors_of(good)
    with app.app_context():
        policy = session().scalar(select(Policy).where(Policy.code == "CH-103"))
        assert (policy.name, policy.status.value) == ("Nouveau nom", "draft")
        contacts = session().execute(select(PolicyContact.role, PolicyContact.email).where(
            PolicyContact.policy_id == policy.id, PolicyContact.territory_id.is_(None))).all()
        assert contacts == [("owner", "ana@example.org")]


def custom_grid_instance(tmp_path):
    from core.config import resolve_instance_path

    source = resolve_instance_path("ditp")
    target = tmp_path / "ditp"
    shutil.copytree(source.parent, target)
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    data["grids"].append({"key": "academies", "label": {"fr": "Académies", "en": "Academies"},
                          "reference": "none",
                          "levels": [{"key": "academy", "label": {"fr": "Académie", "en": "Academy"}}]})
    (target / "instance.toml").write_bytes(tomli_w.dumps(data).encode())
    return target / "instance.toml"


def test_territories_of_a_custom_grid_are_added_and_renamed(make_app, tmp_path):
    from werkzeug.security import generate_password_hash

    from core.db import session
    from core.models import Grant, Role, Territory, User

    app = make_app(custom_grid_instance(tmp_path))
    with app.app_context():
        user = User(email="chef@example.org", name="Chef", password_hash=generate_password_hash("pilote-demo"))
        user.grants.append(Grant(role=Role.ADMIN))
        session().add(user)
        session().commit()
    client = app.test_client()
    assert login(client, "chef@example.org").status_code == 302
    assert client.post("/admin/catalogue/maillages/territoires",
                       data={"level": "academy", "code": "LYON", "name": "Académie de Lyon"}).status_code == 302
    assert client.post("/admin/catalogue/maillages/territoires",
                       data={"level": "department", "code": "99", "name": "Faux"}).status_code == 302
    assert client.post("/admin/catalogue/maillages/territoires",
                       data={"level": "academy", "code": "a b", "name": "x"}).status_code == 302
    with app.app_context():
        rows = session().execute(select(Territory.id, Territory.grid, Territory.name)
                                 .where(Territory.code.in_(["LYON", "99", "a b"]))).all()
    assert [(grid, name) for _, grid, name in rows] == [("academies", "Académie de Lyon")]
    tid = rows[0][0]
    assert client.post(f"/admin/catalogue/maillages/territoires/{tid}",
                       data={"name": "Région académique de Lyon", "seen_name": "Académie de Lyon"}).status_code == 302
    stale = client.post(f"/admin/catalogue/maillages/territoires/{tid}",
                        data={"name": "Autre", "seen_name": "Académie de Lyon"}, follow_redirects=True)
    assert "Conflit" in stale.get_data(as_text=True)
    with app.app_context():
        assert session().get(Territory, tid).name == "Région académique de Lyon"
    page = client.get("/admin/catalogue/maillages").get_data(as_text=True)
    assert "Région académique de Lyon" in page and "Maillage personnalisé" in page
