"""The visualisation plugin: SVG charts that match their data, summaries and tables, widgets in
the policy page, downloads checked like the page, and the core without the plugin."""

from __future__ import annotations

import csv
import io
import re
import struct
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from core.testing.pytest_plugin import login, seed_demo

NS = {"s": "http://www.w3.org/2000/svg"}
TRAJECTORY = {
    "title": "Taux de couverture", "unit": "%", "direction": "increase", "decimals": 1,
    "series": [
        {"key": "territory", "label": "Rhône",
         "points": [["2024-01-01", 10.0], ["2024-04-01", 14.0], ["2024-07-01", None], ["2024-10-01", 20.0],
                    ["2025-01-01", 25.5]]},
        {"key": "nation", "label": "France", "points": [["2024-01-01", 12.0], ["2025-01-01", 22.0]]},
        {"key": "median", "label": "Médiane", "points": [["2024-01-01", 11.0], ["2025-01-01", 21.0]]},
    ],
    "baseline": {"date": "2023-12-01", "value": 8.0},
    "targets": [{"date": "2024-12-31", "value": 24.0, "final": False},
                {"date": "2026-12-31", "value": 50.0, "final": True}],
}
COMPARISON = {
    "title": "Avancement par département", "unit": "%", "decimals": 0,
    "bars": [{"code": "01", "label": "Ain", "value": 80.0, "highlight": False},
             {"code": "69", "label": "Rhône", "value": 40.0, "highlight": True},
             {"code": "42", "label": "Loire", "value": 20.0, "highlight": False},
             {"code": "43", "label": "Haute-Loire", "value": None, "highlight": False}],
    "reference": {"label": "Médiane", "value": 40.0},
}
WEATHER = {"title": "Météo", "entries": [
    {"date": "2025-01-15", "weather": "secured", "label": "Objectifs sécurisés"},
    {"date": "2025-04-15", "weather": "support_needed", "label": "Appuis nécessaires"},
    {"date": "2025-07-15", "weather": "compromised", "label": "Objectifs compromis"},
    {"date": "2025-10-15", "weather": "not_set", "label": "Météo non renseignée"},
]}


@pytest.fixture
def draw(app):
    """Render through ``core.api.render_chart`` (the plugin's hook) in a French request."""
    from core.api import render_chart

    def render(kind, data, **options):
        with app.test_request_context("/?lang=fr"):
            return render_chart(kind, data, **options)
    return render


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def points_of(group: ET.Element) -> list[ET.Element]:
    return [e for e in group if e.get("class") == "vis-point"]


def group(root: ET.Element, cls: str) -> ET.Element:
    found = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if cls in (g.get("class") or "").split()]
    assert len(found) == 1, cls
    return found[0]


def y_of(element: ET.Element) -> float:
    if element.get("cy") is not None:
        return float(element.get("cy"))
    if element.tag.endswith("rect"):
        return float(element.get("y")) + float(element.get("height")) / 2
    ys = [float(p.split(",")[1]) for p in element.get("points").split()]
    return (min(ys) + max(ys)) / 2


@pytest.mark.plugins("visualisation")
def test_trajectory_svg_draws_every_point_gap_target_and_is_accessible(draw):
    figure = draw("trajectory", TRAJECTORY)
    root = parse(figure.svg)
    assert root.get("role") == "img"
    title = root.find("s:title", NS)
    assert root.get("aria-labelledby") == title.get("id") and title.text == "Taux de couverture"
    assert root.find("s:desc", NS).text == figure.summary
    territory = group(root, "vis-series--territory")
    marks = points_of(territory)
    assert len(marks) == 4  # the None is a gap, not a point
    assert territory.find("s:path", NS).get("d").count("M") == 2  # the line breaks at the gap
    # a higher value is drawn higher (smaller y), in the order of the data
    ys = [y_of(m) for m in marks]
    assert ys == sorted(ys, reverse=True)
    assert [m.find("s:title", NS).text for m in marks][-1] == "Rhône — 1 janv. 2025 : 25,5 %"
    # series differ by marker shape and dash pattern, not by colour alone
    shapes = {key: points_of(group(root, f"vis-series--{key}"))[0].tag.split("}")[1]
              for key in ("territory", "nation", "median")}
    assert shapes == {"territory": "circle", "nation": "rect", "median": "polygon"}
    dashes = {group(root, f"vis-series--{k}").find("s:path", NS).get("stroke-dasharray") for k in
              ("territory", "nation", "median")}
    assert len(dashes) == 3
    expected = group(root, "vis-series--expected")
    path_points = points_of(expected)
    assert len(path_points) == 3  # baseline, annual target, final target
    assert path_points[0].tag.endswith("circle") and path_points[0].get("fill") == "#ffffff"  # hollow baseline
    assert path_points[2].get("fill") != "#ffffff"  # the final target is filled
    assert y_of(path_points[2]) < y_of(path_points[1]) < y_of(path_points[0])
    assert "Cible : 50,0 %" in "".join(expected.itertext())
    legend = "".join(group(root, "vis-legend").itertext())
    for label in ("Rhône", "France", "Médiane", "Trajectoire attendue", "Cible finale"):
        assert label in legend


@pytest.mark.plugins("visualisation")
def test_trajectory_summary_and_table(draw):
    figure = draw("trajectory", TRAJECTORY)
    assert figure.summary == (
        "Taux de couverture (évolution souhaitée à la hausse). Rhône : 25,5 % au 1 janv. 2025 ; "
        "France : 22,0 % au 1 janv. 2025 ; Médiane : 21,0 % au 1 janv. 2025 ; "
        "valeur initiale 8,0 % (1 déc. 2023) ; cible finale 50,0 % (31 déc. 2026).")
    assert figure.table["columns"] == ["Date", "Rhône", "France", "Médiane", "Valeur initiale et cibles"]
    rows = {row[0]: row[1:] for row in figure.table["rows"]}
    assert rows["1 déc. 2023"] == ["–", "–", "–", "8,0 % (valeur initiale)"]
    assert rows["1 janv. 2024"] == ["10,0 %", "12,0 %", "11,0 %", "–"]
    assert rows["31 déc. 2024"] == ["–", "–", "–", "24,0 % (cible annuelle)"]
    assert "1 juil. 2024" not in rows  # a gap is no row
    assert len(figure.table["rows"]) == 7


@pytest.mark.plugins("visualisation")
def test_comparison_bars_are_proportional_with_highlight_gap_and_reference(draw):
    figure = draw("comparison", COMPARISON)
    root = parse(figure.svg)
    bars = [g for g in group(root, "vis-bars") if g.tag.endswith("g")]
    rects = [b.find("s:rect", NS) for b in bars]
    assert rects[3] is None and "n.d." in "".join(bars[3].itertext())  # no bar for no value
    widths = [float(r.get("width")) for r in rects[:3]]
    assert widths[0] == pytest.approx(2 * widths[1], rel=0.01) == pytest.approx(4 * widths[2], rel=0.01)
    # the highlight: hatched, outlined, bold label with a marker, not only another colour
    assert rects[1].get("fill").startswith("url(#") and rects[1].get("stroke")
    assert "vis-bar--highlight" in bars[1].get("class")
    label = bars[1].find("s:text", NS)
    assert label.get("font-weight") == "bold" and label.text.startswith("▶")
    pattern_id = rects[1].get("fill")[5:-1]
    assert root.find(f".//s:pattern[@id='{pattern_id}']", NS) is not None
    # the reference line sits at the right end of the Rhône bar (same value)
    line = group(root, "vis-reference").find("s:line", NS)
    assert float(line.get("x1")) == pytest.approx(float(rects[1].get("x")) + widths[1], abs=0.2)
    assert figure.summary == ("Avancement par département. 3 territoires renseignés sur 4, de 20 % (Loire) "
                              "à 80 % (Ain) ; Rhône : 40 %, rang 2 sur 3 ; Médiane : 40 %.")
    assert figure.table["rows"][1] == ["69", "Rhône (sélectionné)", "40 %"]
    assert figure.table["rows"][-1] == ["", "Médiane", "40 %"]


@pytest.mark.plugins("visualisation")
def test_gauge_arc_follows_the_value_and_none_says_not_computed(draw):
    half = parse(draw("gauge", {"title": "Avancement", "value": 50, "label": "Avancement global"}).svg)
    arc = half.find(".//s:path[@class='vis-point vis-gauge__value']", NS)
    end = arc.get("d").split()[-1].split(",")
    center_x = 120  # default width 240
    assert float(end[0]) == pytest.approx(center_x, abs=0.2)  # 50 % is the top of the half ring
    assert "50 %" in "".join(half.itertext())
    none = draw("gauge", {"title": "Avancement", "value": None, "label": "Avancement global"})
    assert none.summary == "Avancement global : non calculé."
    assert parse(none.svg).find(".//s:path[@class='vis-point vis-gauge__value']", NS) is None
    assert draw("gauge", {"value": 140, "label": "A"}).summary == "A : 100 %."  # clamped


@pytest.mark.plugins("visualisation")
def test_weather_timeline_uses_a_shape_per_weather(draw):
    figure = draw("weather_timeline", WEATHER)
    root = parse(figure.svg)
    marks = points_of(group(root, "vis-series"))
    assert [m.find("s:title", NS).text for m in marks][0] == "15 janv. 2025 : Objectifs sécurisés"
    shapes = [(m.tag.split("}")[1], m.get("fill") == "#ffffff", len((m.get("points") or "").split())) for m in marks]
    assert len(set(shapes)) == 4
    xs = [float(m.get("cx") or 0) or sum(float(p.split(",")[0]) for p in m.get("points").split()) /
          len(m.get("points").split()) for m in marks]
    assert xs == sorted(xs)
    assert figure.table == {"columns": ["Date", "Météo"], "rows": [
        ["15 janv. 2025", "Objectifs sécurisés"], ["15 avr. 2025", "Appuis nécessaires"],
        ["15 juil. 2025", "Objectifs compromis"], ["15 oct. 2025", "Météo non renseignée"]]}
    assert figure.summary.endswith("dernière météo : Météo non renseignée (15 oct. 2025).")


@pytest.mark.plugins("visualisation")
@pytest.mark.parametrize("kind", ["trajectory", "comparison", "gauge", "weather_timeline"])
def test_empty_data_gives_a_valid_chart_that_says_so(draw, kind):
    figure = draw(kind, {})
    root = parse(figure.svg)
    assert root.get("role") == "img"
    assert figure.summary and root.find("s:desc", NS).text == figure.summary
    if kind != "gauge":
        assert "Aucune" in "".join(root.itertext())
    all_none = draw("trajectory", {"series": [{"key": "territory", "label": "X", "points": [["2025-01-01", None]]}]})
    assert "aucune valeur" in all_none.summary


@pytest.mark.plugins("visualisation")
def test_charts_are_deterministic_and_ids_unique_per_data(draw):
    first, second = draw("trajectory", TRAJECTORY), draw("trajectory", TRAJECTORY)
    assert first.svg == second.svg
    other = draw("comparison", COMPARISON)
    assert parse(first.svg).get("id") != parse(other.svg).get("id")
    assert parse(draw("gauge", {"value": 1}, id="mine").svg).get("id") == "mine"


def test_render_chart_is_none_without_the_plugin_and_for_unknown_kinds(make_app):
    from core.api import render_chart

    with make_app(plugins=[]).test_request_context():
        assert render_chart("gauge", {"value": 10}) is None
    with make_app(plugins=["visualisation"]).test_request_context():
        assert render_chart("pie", {}) is None
        assert render_chart("gauge", {"value": 10}).summary == "Avancement : 10 %."


# ---------------------------------------------------------------------------------- demo
def _public_policy_with_hidden_indicator(demo_app):
    from core.api import Indicator, Policy, PolicyStatus, db_session

    with demo_app.app_context():
        return db_session().execute(
            select(Policy.code, Indicator.code).join(Indicator, Indicator.policy_id == Policy.id)
            .where(Policy.is_public.is_(True), Policy.status == PolicyStatus.PUBLISHED,
                   Indicator.is_public.is_(False)).order_by(Indicator.code)).first()


def _policy_and_indicator(demo_app, public=True):
    from core.api import Indicator, Policy, PolicyStatus, db_session

    with demo_app.app_context():
        return db_session().execute(
            select(Policy.code, Indicator.code).join(Indicator, Indicator.policy_id == Policy.id)
            .where(Policy.is_public.is_(public), Policy.status == PolicyStatus.PUBLISHED,
                   Indicator.is_public.is_(True), Indicator.aggregation_method != "sum")
            .order_by(Policy.code, Indicator.code)).first()


def test_policy_page_shows_the_charts_with_summaries_tables_and_downloads(demo_app, demo_client):
    policy, indicator = _policy_and_indicator(demo_app)
    login(demo_client, "central_steering@demo.pilote.example")
    html = demo_client.get(f"/politiques/{policy}?territoire=department-69").get_data(as_text=True)
    for kind in ("trajectory", "comparison", "gauge", "weather_timeline"):
        assert f"vis-chart--{kind}" in html, kind
    assert html.count('class="vis-figure__data"') == html.count('class="vis-chart ') >= 5  # a table each
    assert f"/visualisation/indicateurs/{indicator}/trajectoire.png?territoire=department-69" in html
    assert f"/visualisation/politiques/{policy}/comparaison.csv?territoire=department-69" in html
    assert "Médiane (Département)" in html and "Rhône" in html
    assert re.search(r'<script src="/visualisation/static/visualisation/tooltips\.js\?v=\w+" defer>', html)


def test_trajectory_downloads_match_each_other(demo_app, demo_client):
    policy, indicator = _policy_and_indicator(demo_app)
    base = f"/visualisation/indicateurs/{indicator}/trajectoire"
    svg = demo_client.get(f"{base}.svg?territoire=department-69")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    root = parse(svg.get_data(as_text=True))
    drawn = len(points_of(group(root, "vis-series--territory")))
    rows = list(csv.DictReader(io.StringIO(demo_client.get(f"{base}.csv?territoire=department-69")
                                           .get_data(as_text=True).lstrip("\ufeff"))))
    own = [r for r in rows if r["code_serie"] == "territory" and r["valeur"] != ""]
    assert drawn == len(own) >= 2
    assert {r["code_serie"] for r in rows} >= {"territory", "nation", "median", "baseline", "final_target"}
    png = demo_client.get(f"{base}.png?territoire=department-69")
    assert png.mimetype == "image/png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png.data[16:24])
    assert (width, height) == (2 * int(float(root.get("width"))), 2 * int(float(root.get("height"))))


def test_policy_chart_downloads(demo_app, demo_client):
    policy, _indicator = _policy_and_indicator(demo_app)
    for chart in ("comparaison", "meteo", "avancement"):
        response = demo_client.get(f"/visualisation/politiques/{policy}/{chart}.svg?territoire=nation-FR")
        assert response.status_code == 200, chart
        parse(response.get_data(as_text=True))
        assert demo_client.get(f"/visualisation/politiques/{policy}/{chart}.csv").status_code == 200
    regions = demo_client.get(f"/visualisation/politiques/{policy}/comparaison.csv?territoire=nation-FR")
    assert len(regions.get_data(as_text=True).strip().splitlines()) == 1 + 18 + 1  # header, regions, nation
    assert demo_client.get("/visualisation/politiques/NOPE/meteo.svg").status_code == 404
    assert demo_client.get(f"/visualisation/politiques/{policy}/meteo.svg?territoire=department-XX").status_code == 404


def test_downloads_are_checked_like_the_page(demo_app, demo_client):
    policy, hidden = _public_policy_with_hidden_indicator(demo_app)
    trajectory = f"/visualisation/indicateurs/{hidden}/trajectoire"
    for ext in ("svg", "png", "csv"):
        assert demo_client.get(f"{trajectory}.{ext}?territoire=nation-FR").status_code == 302  # sign in first
    internal, _ = _policy_and_indicator(demo_app, public=False)
    assert demo_client.get(f"/visualisation/politiques/{internal}/comparaison.csv").status_code == 302
    assert demo_client.get(f"/visualisation/politiques/{policy}/comparaison.csv").status_code == 200
    login(demo_client, "prefect@demo.pilote.example")  # Auvergne-Rhône-Alpes only
    assert demo_client.get(f"{trajectory}.csv?territoire=department-69").status_code == 200
    assert demo_client.get(f"{trajectory}.csv?territoire=department-75").status_code == 403
    weather = f"/visualisation/politiques/{internal}/meteo.svg"
    assert demo_client.get(f"{weather}?territoire=department-75").status_code == 403
    # the comparison keeps only the territories the prefect may see (the median counts them all)
    rows = list(csv.reader(io.StringIO(demo_client.get(
        f"/visualisation/politiques/{policy}/comparaison.csv?territoire=department-69").get_data(as_text=True))))
    codes = {r[0] for r in rows[1:] if r[0]}
    assert "69" in codes and "75" not in codes and len(codes) == 12


def test_the_policy_page_works_without_the_plugin(make_app):
    app = make_app(plugins=[])
    with app.app_context():
        seed_demo(app)
        from core.api import Policy, PolicyStatus, db_session

        code = db_session().scalar(select(Policy.code).where(Policy.status == PolicyStatus.PUBLISHED,
                                                             Policy.is_public.is_(True)).order_by(Policy.code))
    client = app.test_client()
    response = client.get(f"/politiques/{code}?territoire=department-69")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Valeur initiale" in html and "<table" in html and "vis-chart" not in html
    assert client.get(f"/visualisation/politiques/{code}/meteo.svg").status_code == 404
