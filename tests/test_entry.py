"""Data entry next to the data: values and weather, role + territorial scope, conflicts, CSRF."""

from __future__ import annotations

import decimal

import pytest
from sqlalchemy import func, select

from core.testing.pytest_plugin import login
from core.testing.support import client_as, email, seeded_app

POLICY_URL = "/politiques/CH-101?territoire=department-69"


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def ids(app, indicator="IND-1011", level="department", code="69"):
    from core.models import Indicator, Territory
    from core.db import session

    with app.app_context():
        iid = session().scalar(select(Indicator.id).where(Indicator.code == indicator))
        tid = session().scalar(select(Territory.id).where(Territory.level == level, Territory.code == code))
    return iid, tid


def stored(app, iid, tid, date):
    from core.db import session
    from core.models import IndicatorValue

    with app.app_context():
        row = session().scalar(select(IndicatorValue).where(
            IndicatorValue.indicator_id == iid, IndicatorValue.territory_id == tid,
            IndicatorValue.date == date, IndicatorValue.kind == "actual"))
        return (row.value, row.version, row.author_id, row.channel.value) if row else None


def progress(app, policy="CH-101", level="department", code="69"):
    from core.db import session
    from core.models import Policy, PolicyFigure, Territory

    with app.app_context():
        return session().scalar(
            select(PolicyFigure.overall).join(Policy, Policy.id == PolicyFigure.policy_id)
            .join(Territory, Territory.id == PolicyFigure.territory_id)
            .where(Policy.code == policy, Territory.level == level, Territory.code == code))


def count(app, model):
    from core.db import session

    with app.app_context():
        return session().scalar(select(func.count()).select_from(model))


def test_the_policy_page_shows_the_forms_only_to_who_may_write(app):
    writer = client_as(app, "local_contributor").get(POLICY_URL).get_data(as_text=True)
    assert 'action="/saisie/valeur"' in writer and 'action="/saisie/meteo"' in writer
    assert 'action="/dialogue/commentaires"' in writer
    reader = client_as(app, "reader").get(POLICY_URL).get_data(as_text=True)
    assert 'action="/saisie/valeur"' not in reader and 'action="/saisie/meteo"' not in reader
    # outside the contributor's department: no form
    other = client_as(app, "local_contributor").get("/politiques/CH-101?territoire=department-75")
    assert 'action="/saisie/valeur"' not in other.get_data(as_text=True)


def test_a_value_entered_on_the_page_is_saved_with_provenance_and_progress_changes(app):
    from core.models import AuditEntry, IndicatorValueRevision

    iid, tid = ids(app)
    client = client_as(app, "local_contributor")
    before = progress(app)
    audits = count(app, AuditEntry)
    response = client.post("/saisie/valeur", data={
        "indicator_id": iid, "territory_id": tid, "kind": "actual", "date": "2026-10-01",
        "value": "1 500,5", "source": "DARES", "next": POLICY_URL})
    assert response.status_code == 302 and response.location.endswith(POLICY_URL)
    value, version, author, channel = stored(app, iid, tid, __import__("datetime").date(2026, 10, 1))
    assert value == decimal.Decimal("1500.5") and version == 1 and channel == "form"
    assert author is not None
    assert count(app, AuditEntry) > audits
    with app.app_context():
        from core.db import session

        assert session().scalar(select(IndicatorValueRevision.source).order_by(
            IndicatorValueRevision.id.desc()).limit(1)) == "DARES"
    assert progress(app) != before
    page = client.get(POLICY_URL).get_data(as_text=True)
    assert "Valeur enregistrée" in page and "version 1" in page


def test_out_of_scope_posts_are_refused_and_write_nothing(app):
    from core.models import IndicatorValue

    before = count(app, IndicatorValue)
    client = client_as(app, "local_contributor")
    iid, paris = ids(app, code="75")
    data = {"indicator_id": iid, "territory_id": paris, "date": "2026-10-01", "value": "1"}
    assert client.post("/saisie/valeur", data=data).status_code == 403  # another department
    other, lyon = ids(app, indicator="IND-1021")
    assert client.post("/saisie/valeur", data={**data, "indicator_id": other,
                                                "territory_id": lyon}).status_code == 403  # CH-102
    assert client_as(app, "reader").post("/saisie/valeur", data={
        **data, "territory_id": lyon}).status_code == 403
    assert app.test_client().post("/saisie/valeur", data=data).status_code in (302, 401)
    assert client.post("/saisie/meteo", data={"policy_id": 1, "territory_id": paris,
                                              "weather": "secured"}).status_code == 403
    assert count(app, IndicatorValue) == before


def test_bad_input_gets_a_located_error_and_keeps_what_was_typed(app):
    iid, tid = ids(app)
    response = client_as(app, "local_contributor").post("/saisie/valeur", data={
        "indicator_id": iid, "territory_id": tid, "date": "2026-13-45", "value": "douze"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Ce n&#39;est pas un nombre valide." in html and "Date invalide" in html
    assert 'value="douze"' in html and 'aria-invalid="true"' in html


def test_two_people_editing_the_same_value_never_overwrite_silently(app):
    iid, tid = ids(app, code="69")
    day = __import__("datetime").date(2026, 9, 1)
    _, version, _, _ = stored(app, iid, tid, day)
    form = {"indicator_id": iid, "territory_id": tid, "kind": "actual", "date": "2026-09-01",
            "seen_kind": "actual", "seen_date": "2026-09-01", "seen_version": version}
    first, second = client_as(app, "local_contributor"), client_as(app, "territorial_coordinator")
    assert first.post("/saisie/valeur", data={**form, "value": "1410"}).status_code == 302
    conflict = second.post("/saisie/valeur", data={**form, "value": "1420"})
    assert conflict.status_code == 409
    html = conflict.get_data(as_text=True)
    assert "Conflit de modification" in html and "1\u202f410" in html and "1\u202f420" in html
    assert "Thomas Girard" in html  # the author of the stored version
    assert stored(app, iid, tid, day)[0] == decimal.Decimal("1410")
    # re-submitting knowingly (the conflict page carries the stored version) saves it
    resubmit = second.post("/saisie/valeur", data={**form, "seen_version": version + 1, "value": "1420"})
    assert resubmit.status_code == 302
    assert stored(app, iid, tid, day)[:2] == (decimal.Decimal("1420"), version + 2)


def test_a_new_date_someone_else_created_meanwhile_is_a_conflict_too(app):
    iid, tid = ids(app)
    form = {"indicator_id": iid, "territory_id": tid, "date": "2026-11-01",
            "seen_kind": "actual", "seen_date": "2026-09-01", "seen_version": "1"}
    assert client_as(app, "prefect").post("/saisie/valeur", data={**form, "value": "7"}).status_code == 302
    assert client_as(app, "local_contributor").post("/saisie/valeur", data={**form, "value": "8"}).status_code == 409


def test_weather_is_saved_and_a_concurrent_rating_shows_both_versions(app):
    from core.db import session
    from core.models import Policy, WeatherReport

    with app.app_context():
        pid = session().scalar(select(Policy.id).where(Policy.code == "CH-101"))
    _, tid = ids(app)
    seen = client_as(app, "local_contributor").get(POLICY_URL).get_data(as_text=True)
    import re

    seen_id = re.search(r'name="seen_id" value="(\d+)"', seen).group(1)
    form = {"policy_id": pid, "territory_id": tid, "seen_id": seen_id, "next": POLICY_URL}
    assert client_as(app, "local_contributor").post("/saisie/meteo", data={
        **form, "weather": "compromised", "summary": "Retard <b>important</b>"}).status_code == 302
    stale = client_as(app, "prefect").post("/saisie/meteo", data={**form, "weather": "secured",
                                                                  "summary": "Tout va bien"})
    assert stale.status_code == 409
    html = stale.get_data(as_text=True)
    assert "Tout va bien" in html and "Retard &lt;b&gt;important&lt;/b&gt;" in html
    with app.app_context():
        latest = session().scalar(select(WeatherReport).where(
            WeatherReport.policy_id == pid, WeatherReport.territory_id == tid)
            .order_by(WeatherReport.id.desc()).limit(1))
        assert latest.weather.value == "compromised"
    page = client_as(app, "reader").get(POLICY_URL).get_data(as_text=True)
    assert "Objectifs compromis" in page


def test_csrf_is_enforced_on_entry_posts(demo_app):
    from core.db import session
    from core.models import IndicatorValue

    client = demo_app.test_client()
    assert login(client, email("local_contributor")).status_code == 302
    with demo_app.app_context():
        before = session().scalar(select(func.count(IndicatorValue.id)))
    for url in ("/saisie/valeur", "/saisie/meteo", "/dialogue/commentaires", "/propositions/",
                "/imports/", "/admin/catalogue/maillages/territoires"):
        assert client.post(url, data={"indicator_id": 1, "territory_id": 1, "value": "1",
                                      "date": "2026-10-01"}).status_code == 400, url
    with demo_app.app_context():
        assert session().scalar(select(func.count(IndicatorValue.id))) == before


def test_the_standalone_entry_page_works_without_javascript(app):
    client = client_as(app, "local_contributor")
    page = client.get("/saisie/indicateurs/IND-1011?territoire=department-69")
    assert page.status_code == 200 and 'action="/saisie/valeur"' in page.get_data(as_text=True)
    readonly = client_as(app, "reader").get("/saisie/indicateurs/IND-1011?territoire=department-69")
    assert readonly.status_code == 200
    assert 'action="/saisie/valeur"' not in readonly.get_data(as_text=True)
    assert client.get("/saisie/indicateurs/NOPE-0").status_code == 404
