"""Steering pages: dashboard filters and exports, territory sheet, indicator card, completeness,
roadmaps and structuring projects, and the territorial scope of each page."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from markupsafe import escape
from sqlalchemy import select

from core.api import db_session
from core.figures import Spread, compare_to_national, median
from core.testing.pytest_plugin import login, seed_demo

CENTRAL = "central_steering@demo.pilote.example"
LOCAL = "local_contributor@demo.pilote.example"
PREFECT = "prefect@demo.pilote.example"
COORDINATOR = "territorial_coordinator@demo.pilote.example"


def row_codes(html):
    """Policy codes of the dashboard table, in display order."""
    table = html.split('<table class="table policies-table">', 1)
    if len(table) < 2:
        return []
    return re.findall(r'<th scope="row">\s*<a href="/politiques/([A-Z0-9-]+)\?', table[1])


def export_codes(client, query):
    response = client.get("/export/politiques.csv" + query)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    return [row["policy_code"] for row in csv.DictReader(io.StringIO(text), delimiter=";")]


@pytest.mark.parametrize("query", [
    "?territoire=nation-FR",
    "?territoire=region-84&tri=progress&desc=1",
    "?territoire=department-69&tri=gap",
    "?tri=trend",
    "?tri=update&desc=1",
    "?meteo=secured",
    "?alerte=weather_not_set&territoire=department-69",
    "?q=emploi",
    "?type=structuring_project",
    "?ministere=MIN-ECOLOGIE",
])
def test_exports_follow_the_dashboard_filters_and_order(demo_client, query):
    login(demo_client, CENTRAL)
    page = row_codes(demo_client.get("/" + query).get_data(as_text=True))
    assert page == export_codes(demo_client, query)
    xlsx = demo_client.get("/export/politiques.xlsx" + query)
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_filters_narrow_and_sorting_orders(demo_app, demo_client):
    from core.api import Organisation, Policy, PolicyFigure, Territory

    login(demo_client, CENTRAL)
    everything = row_codes(demo_client.get("/").get_data(as_text=True))
    ecology = row_codes(demo_client.get("/?ministere=MIN-ECOLOGIE").get_data(as_text=True))
    with demo_app.app_context():
        session = db_session()
        expected = set(session.scalars(select(Policy.code).join(Organisation)
                                       .where(Organisation.code == "MIN-ECOLOGIE")).all())
        region = session.scalar(select(Territory).where(Territory.level == "region", Territory.code == "84"))
        progress = {code: value for code, value in session.execute(
            select(Policy.code, PolicyFigure.overall).join(PolicyFigure, PolicyFigure.policy_id == Policy.id)
            .where(PolicyFigure.territory_id == region.id))}
    assert ecology and set(ecology) <= expected and len(ecology) < len(everything)
    ordered = row_codes(demo_client.get("/?territoire=region-84&tri=progress&desc=1").get_data(as_text=True))
    values = [progress[c] for c in ordered if progress.get(c) is not None]
    assert values == sorted(values, reverse=True) and len(values) >= 5
    secured = row_codes(demo_client.get("/?meteo=secured").get_data(as_text=True))
    assert len(secured) < len(everything)


def test_selection_figures_show_mean_and_spread(demo_client):
    login(demo_client, CENTRAL)
    html = demo_client.get("/?niveau=department").get_data(as_text=True)
    assert "avancement moyen" in html
    assert re.search(r"territoires de niveau « Département » : minimum [\d,  ]+%, médiane", html)


def test_my_policies_are_those_of_my_grants(demo_client):
    login(demo_client, LOCAL)
    mine = row_codes(demo_client.get("/?territoire=department-69&miennes=1").get_data(as_text=True))
    assert set(mine) == {"CH-101", "CH-201", "CH-302", "CH-401", "CH-901"}


def test_median_spread_and_national_comparison_thresholds():
    assert median([Decimal(3), Decimal(1), Decimal(2)]) == 2
    assert median([Decimal(1), Decimal(2), Decimal(3), Decimal(4)]) == Decimal("2.5")
    assert Spread.of([None, Decimal(5), Decimal(1)]) == Spread(Decimal(1), Decimal(3), Decimal(5), 2)
    national = Decimal(60)
    assert compare_to_national(Decimal(60), national) == "above"
    assert compare_to_national(Decimal(75), national) == "above"
    assert compare_to_national(Decimal("59.99"), national) == "near"
    assert compare_to_national(Decimal(50), national) == "near"
    assert compare_to_national(Decimal("49.99"), national) == "below"
    assert compare_to_national(None, national) == "unknown"


def test_territory_sheet_colour_codes_against_the_nation(demo_app, demo_client):
    from core.api import Policy, PolicyFigure, Territory

    login(demo_client, CENTRAL)
    html = demo_client.get("/territoires/department/69").get_data(as_text=True)
    assert "Rhône" in html and "Feuille de route" in html and "Complétude des saisies" in html
    rows = re.findall(r'<a href="/politiques/([A-Z0-9-]+)\?territoire=department-69">.*?data-status="(\w+)"',
                      html.split("territory-table", 1)[1], re.S)
    assert rows
    with demo_app.app_context():
        session = db_session()
        ids = {t.key: t.id for t in session.scalars(select(Territory).where(Territory.code.in_(["FR", "69"])))}
        figures = {(code, tid): overall for code, tid, overall in session.execute(
            select(Policy.code, PolicyFigure.territory_id, PolicyFigure.overall)
            .join(Policy, Policy.id == PolicyFigure.policy_id))}
    for code, status in rows:
        local, national = figures.get((code, ids["department-69"])), figures.get((code, ids["nation-FR"]))
        assert status == compare_to_national(local, national), code
    assert {"above", "near", "below"} & {s for _, s in rows}
    # colour AND text: each status carries its words
    assert "au niveau national ou au-dessus" in html


def test_indicator_card_shows_metadata_and_last_value(demo_app, demo_client):
    from core.api import Indicator

    login(demo_client, CENTRAL)
    with demo_app.app_context():
        indicator = db_session().scalar(select(Indicator).where(Indicator.code == "IND-1011"))
        name, source = indicator.name, indicator.source
    html = demo_client.get("/indicateurs/IND-1011?territoire=department-69").get_data(as_text=True)
    for text in (name, source, "Périodicité", "Délai de disponibilité", "Prochaine mise à jour attendue",
                 "Historique des valeurs", "Méthode de calcul"):
        assert str(escape(text)) in html, text
    assert demo_client.get("/indicateurs/NOPE").status_code == 404


def test_local_contributor_is_kept_to_their_territory(demo_client):
    login(demo_client, LOCAL)
    assert demo_client.get("/territoires/department/69").status_code == 200
    assert demo_client.get("/territoires/department/13").status_code == 403
    assert demo_client.get("/?territoire=department-13").status_code == 403
    assert demo_client.get("/politiques/CH-101?territoire=department-13").status_code == 403
    assert demo_client.get("/indicateurs/IND-1011?territoire=department-13").status_code == 403
    assert demo_client.get("/completude/territoires/department/13").status_code == 403
    # the comparison table of the policy page lists only territories in scope
    html = demo_client.get("/politiques/CH-101?territoire=department-69&niveau=department").get_data(as_text=True)
    table = html.split("territories-table", 1)[1].split("</table>", 1)[0]
    assert "Rhône" in table and "Bouches-du-Rhône" not in table
    # a completeness page on the nation only counts their own department
    national = demo_client.get("/completude").get_data(as_text=True)
    assert "Bouches-du-Rhône" not in national


def test_anonymous_cannot_list_completeness(demo_client):
    response = demo_client.get("/completude")
    assert response.status_code in (302, 401)


def test_completeness_names_contributors_but_emails_only_for_coordinators(demo_app, demo_client):
    login(demo_client, "reader@demo.pilote.example")
    html = demo_client.get("/completude/territoires/department/69").get_data(as_text=True)
    late = html.split("late-table", 1)[1].split("</table>", 1)[0]
    assert "Bertrand Castel" in late and "Nadia Benali" in late  # who owes it, by name
    assert "mailto:" not in late and "@demo.pilote.example" not in late
    coordinator = demo_app.test_client()
    login(coordinator, COORDINATOR)
    html = coordinator.get("/completude/territoires/department/69").get_data(as_text=True)
    assert 'href="mailto:prefect@demo.pilote.example">Bertrand Castel' in html.split("late-table", 1)[1]


def test_what_i_owe_lists_the_missing_cells_of_my_grants(demo_app, demo_client):
    from core.api import Indicator, Territory, User
    from core.engine.completeness import completeness

    login(demo_client, COORDINATOR)
    html = demo_client.get("/completude/mes-saisies").get_data(as_text=True)
    with demo_app.app_context():
        session = db_session()
        user = session.scalar(select(User).where(User.email == COORDINATOR))
        report = completeness(session)
        owed = [c for c in report.cells if c.missing and user.id in c.contributor_ids]
        codes = {i.id: i.code for i in session.scalars(select(Indicator))}
        keys = {t.id: t.key for t in session.scalars(select(Territory))}
        in_region = {t.key for t in session.scalars(select(Territory)) if t.parent and t.parent.key == "region-84"}
    assert owed, "the demo leaves the coordinator something to enter"
    listed = re.findall(r'<th scope="row"><a href="/indicateurs/(IND-[0-9]+)\?territoire=([a-z]+-[0-9A-Z]+)"',
                        html.split("owed-table", 1)[1])
    assert sorted(listed) == sorted((codes[c.indicator_id], keys[c.territory_id]) for c in owed)
    assert {key for _, key in listed} <= in_region | {"region-84"}
    other = demo_app.test_client()
    login(other, CENTRAL)  # not a contributor role: owes nothing
    assert "Vous n’avez aucune saisie en retard." in other.get("/completude/mes-saisies").get_data(as_text=True)


def test_policy_page_territory_table_sorts_and_shows_history(demo_client):
    login(demo_client, CENTRAL)
    html = demo_client.get("/politiques/CH-101?territoire=department-69&niveau=region&tri=progress&desc=1")\
        .get_data(as_text=True)
    assert 'aria-sort="descending"' in html
    assert "Météo et synthèse des résultats" in html and "Décisions" in html
    assert "Avancement national" in html and "Médiane des territoires de même niveau" in html
    assert "Comment ce chiffre est-il calculé ?" in html


# -- writes: a fresh app -------------------------------------------------------------------------


@pytest.fixture
def writable(make_app):
    app = make_app(plugins=[])
    with app.app_context():
        seed_demo(app)
    return app


def test_roadmap_projects_history_and_permissions(writable):
    from core.api import AuditEntry, Indicator, IndicatorFigure, Policy, PolicyFigure, Territory, User
    from core.engine.values import ValueInput, save_values
    from core.models import Channel, RoadmapEntry, ValueKind

    local = writable.test_client()
    login(local, LOCAL)
    assert local.get("/territoires/region/84/feuille-de-route").status_code == 403
    client = writable.test_client()
    login(client, PREFECT)
    assert client.get("/territoires/region/11/feuille-de-route").status_code == 403
    assert client.post("/territoires/region/11/feuille-de-route", data={"policy": "1"}).status_code == 403
    with writable.app_context():
        session = db_session()
        ids = dict(session.execute(select(Policy.code, Policy.id)).all())
    response = client.post("/territoires/department/69/feuille-de-route",
                           data={"policy": [str(ids["CH-101"]), str(ids["CH-201"])]})
    assert response.status_code == 302
    with writable.app_context():
        session = db_session()
        entries = session.scalars(select(RoadmapEntry)).all()
        assert {e.policy_id for e in entries} == {ids["CH-101"], ids["CH-201"]}
        assert session.scalar(select(AuditEntry).where(AuditEntry.entity == "roadmap_entry")) is not None
    html = client.get("/politiques/CH-101").get_data(as_text=True)
    assert "/territoires/department/69" in html.split("roadmap-title", 1)[1]
    sheet = client.get("/territoires/department/69").get_data(as_text=True)
    assert "Gérer la feuille de route" in sheet

    # unselect one
    client.post("/territoires/department/69/feuille-de-route", data={"policy": [str(ids["CH-101"])]})
    with writable.app_context():
        assert {e.policy_id for e in db_session().scalars(select(RoadmapEntry))} == {ids["CH-101"]}

    # a structuring project: progress is the mean of its indicators' progress
    bad = client.post("/territoires/department/69/projets/nouveau", data={
        "name": "Projet sans indicateur", "organisation": "0", "target_date": "2027-12-31"})
    assert bad.status_code == 200 and "au moins un indicateur" in bad.get_data(as_text=True)
    response = client.post("/territoires/department/69/projets/nouveau", data={
        "name": "Voie verte du Rhône", "description": "Relier Lyon à Givors.", "organisation": "0",
        "target_date": "2027-12-31",
        "indicators-0-name": "Kilomètres réalisés", "indicators-0-unit": "km",
        "indicators-0-category": "realisation", "indicators-0-baseline": "0", "indicators-0-target": "40",
        "indicators-1-name": "Usagers par jour", "indicators-1-unit": "nombre",
        "indicators-1-category": "impact", "indicators-1-baseline": "100", "indicators-1-target": "1100",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    with writable.app_context():
        session = db_session()
        project = session.scalar(select(Policy).where(Policy.name == "Voie verte du Rhône"))
        dep = session.scalar(select(Territory).where(Territory.level == "department", Territory.code == "69"))
        assert project.kind == "structuring_project" and project.territory_id == dep.id
        indicators = session.scalars(select(Indicator).where(Indicator.policy_id == project.id)).all()
        assert {i.category.value for i in indicators} == {"impact", "realisation"}
        prefect = session.scalar(select(User).where(User.email == PREFECT))
        save_values(session, [
            ValueInput(indicators[0].id, dep.id, ValueKind.ACTUAL, dt.date(2026, 10, 1), Decimal(10)),
            ValueInput(indicators[1].id, dep.id, ValueKind.ACTUAL, dt.date(2026, 10, 1), Decimal(600)),
        ], channel=Channel.FORM, author_id=prefect.id)
        session.commit()
        rates = [session.scalar(select(IndicatorFigure.overall).where(
            IndicatorFigure.indicator_id == i.id, IndicatorFigure.territory_id == dep.id)) for i in indicators]
        overall = session.scalar(select(PolicyFigure.overall).where(
            PolicyFigure.policy_id == project.id, PolicyFigure.territory_id == dep.id))
        assert rates == [Decimal(25), Decimal(50)]
        assert overall == Decimal("37.5")
        assert session.scalar(select(RoadmapEntry).where(RoadmapEntry.policy_id == project.id)) is not None
        code, first = project.code, indicators[0].code
        # a correction, to see old → new in the history
        save_values(session, [ValueInput(indicators[0].id, dep.id, ValueKind.ACTUAL, dt.date(2026, 10, 1),
                                         Decimal(12))], channel=Channel.IMPORT, author_id=prefect.id)
        session.commit()
    sheet = client.get("/territoires/department/69").get_data(as_text=True)
    assert "Voie verte du Rhône" in sheet.split("roadmap-title", 1)[1]
    card = client.get(f"/indicateurs/{first}?territoire=department-69").get_data(as_text=True)
    history = card.split("history-table", 1)[1]
    assert re.search(r"10\s*→\s*12", history)
    assert "Bertrand Castel" in history and "import" in history and "formulaire" in history
    assert "Dernière valeur" in card and "12 km" in card
    # the project is readable on its policy page, with its mean-of-indicators explanation
    page = client.get(f"/politiques/{code}?territoire=department-69").get_data(as_text=True)
    assert "moyenne des taux d'avancement de ses indicateurs" in page
