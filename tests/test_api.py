"""The REST API on the demo data: scope, pagination, filters, values and comments written
through ``save_values``, problem documents, the OpenAPI document and its reference page.

Two apps per module, each seeded once with the demo: ``demo`` is only read; ``lab`` is written
to, each test on its own (indicator, territory, date) keys so that tests stay independent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.api_v1 import bp, init_app
from core.api_v1.schemas import COMPONENTS
from core.api_v1.tokens import create_token
from core.app import create_app
from core.db import session as db_session
from core.engine.recompute import recompute
from core.engine.values import ValueInput, save_values
from core.models import (
    AuditEntry,
    Channel,
    Comment,
    Indicator,
    IndicatorValue,
    IndicatorValueRevision,
    IndicatorWeight,
    Organisation,
    Policy,
    PolicyFigure,
    PolicyStatus,
    TargetScope,
    Territory,
    User,
    ValueKind,
)
from core.testing.pytest_plugin import DEMO_TODAY, login, seed_demo

PROBLEM = "application/problem+json"
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')
ROLES = ("reader", "ministry_referent", "admin")


def build_app(database_factory):
    """The DITP demo on a fresh database, with its figures, and the API wired in."""
    app = create_app("ditp", settings={
        "DATABASE_URL": database_factory.new(), "SECRET_KEY": uuid.uuid4().hex, "TESTING": True,
        "PILOTE_TODAY": DEMO_TODAY.isoformat(),
    })
    init_app(app)
    with app.app_context():
        seed_demo(app)
        session = db_session()
        if not session.scalar(select(func.count()).select_from(PolicyFigure)):  # until the seed does it
            recompute(session)
            session.commit()
    return app


def email(role: str) -> str:
    return f"{role}@demo.pilote.example"


def assert_problem(response, status: int, slug: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.content_type == PROBLEM
    body = json.loads(response.get_data(as_text=True))
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status and body["instance"] == response.request.path
    assert body["type"] == "about:blank" or "#problem-" in body["type"]
    if slug:
        assert body["type"].endswith(f"/api/v1/docs#problem-{slug}"), body["type"]
    return body


def links(response) -> dict[str, str]:
    return {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}


def collect(client, url: str) -> list[dict]:
    """Every item of a listing, following the ``next`` links."""
    items, seen = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        items.extend(response.get_json()["items"])
        url = links(response).get("next")
        seen += 1
        assert seen < 1000
    return items


# =========================================================================== reads
@pytest.fixture(scope="module")
def demo(database_factory):
    app = build_app(database_factory)
    yield app
    app.extensions["pilote"].db.dispose()


@pytest.fixture(scope="module")
def clients(demo):
    out = {"anonymous": demo.test_client()}
    for role in ROLES:
        out[role] = demo.test_client()
        assert login(out[role], email(role)).status_code == 302, role
    return out


def expected_policies(demo, who: str) -> set[str]:
    with demo.app_context():
        session = db_session()
        query = select(Policy.code)
        if who == "anonymous":
            query = query.where(Policy.status == PolicyStatus.PUBLISHED, Policy.is_public.is_(True))
        elif who == "reader":
            query = query.where(Policy.status == PolicyStatus.PUBLISHED)
        elif who == "ministry_referent":
            query = query.join(Organisation, Policy.organisation_id == Organisation.id).where(
                Organisation.code == "MIN-ECOLOGIE")
        return set(session.scalars(query))


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
def test_policy_listing_never_leaks(demo, clients, who):
    expected = expected_policies(demo, who)
    assert expected  # every profile sees something
    listed = collect(clients[who], "/api/v1/policies?per_page=7")
    codes = [p["code"] for p in listed]
    assert len(codes) == len(set(codes)) and set(codes) == expected
    if who == "anonymous":
        assert all(p["is_public"] and p["status"] == "published" for p in listed)
    if who == "admin":
        assert {"draft", "archived", "published"} <= {p["status"] for p in listed}


def test_the_ministry_referent_sees_its_perimeter_unpublished_included(demo, clients):
    listed = collect(clients["ministry_referent"], "/api/v1/policies")
    assert {p["organisation"]["code"] for p in listed} == {"MIN-ECOLOGIE"}
    assert {p["status"] for p in listed} - {"published"}  # a reader would not see those


def test_hidden_policies_answer_404_like_missing_ones(demo, clients):
    with demo.app_context():
        session = db_session()
        draft = session.scalar(select(Policy).where(Policy.status == PolicyStatus.DRAFT))
        archived = session.scalar(select(Policy).where(Policy.status == PolicyStatus.ARCHIVED))
        private = session.scalar(select(Policy).where(Policy.status == PolicyStatus.PUBLISHED,
                                                      Policy.is_public.is_(False)))
        draft_org = draft.organisation.code
        private_indicator = session.scalar(select(Indicator.code).where(Indicator.policy_id == private.id))
    for code in (draft.code, archived.code, "NOPE-0"):
        body = assert_problem(clients["reader"].get(f"/api/v1/policies/{code}"), 404)
        assert "not allowed" not in body["detail"].lower()
    assert clients["admin"].get(f"/api/v1/policies/{draft.code}").status_code == 200
    referent = 200 if draft_org == "MIN-ECOLOGIE" else 404
    assert clients["ministry_referent"].get(f"/api/v1/policies/{draft.code}").status_code == referent
    anonymous = clients["anonymous"]
    for url in (f"/api/v1/policies/{private.code}", f"/api/v1/policies/{private.code}/figures",
                f"/api/v1/indicators/{private_indicator}", f"/api/v1/indicators/{private_indicator}/values",
                f"/api/v1/indicators/{private_indicator}/figures"):
        assert_problem(anonymous.get(url), 404)
        assert clients["reader"].get(url).status_code == 200, url
    for url in (f"/api/v1/policies/{draft.code}/figures", f"/api/v1/policies/{draft.code}"):
        assert_problem(clients["reader"].get(url), 404)


def test_anonymous_callers_see_public_indicators_only(demo, clients):
    with demo.app_context():
        session = db_session()
        policy = session.scalar(select(Policy).where(Policy.code == "CH-101"))
        hidden = {i.code for i in policy.indicators if not i.is_public}
        shown = {i.code for i in policy.indicators if i.is_public}
    assert hidden and shown and policy.is_public
    detail = clients["anonymous"].get("/api/v1/policies/CH-101").get_json()
    assert {i["code"] for i in detail["indicators"]} == shown
    assert {i["code"] for i in clients["reader"].get("/api/v1/policies/CH-101").get_json()["indicators"]} == shown | hidden
    listed = collect(clients["anonymous"], "/api/v1/indicators?per_page=500")
    assert listed and all(i["is_public"] for i in listed)
    assert {i["policy"] for i in listed} <= expected_policies(demo, "anonymous")
    for code in hidden:
        assert_problem(clients["anonymous"].get(f"/api/v1/indicators/{code}"), 404)
    figures = clients["anonymous"].get("/api/v1/policies/CH-101/figures?level=nation").get_json()["items"]
    explained = json.dumps(figures[0]["explanation"])
    assert all(code not in explained for code in hidden)
    reader_figures = clients["reader"].get("/api/v1/policies/CH-101/figures?level=nation").get_json()["items"]
    assert all(code in json.dumps(reader_figures[0]["explanation"]) for code in hidden)


def test_policy_detail_and_figures(demo, clients):
    detail = clients["reader"].get("/api/v1/policies/CH-101").get_json()
    assert detail["code"] == "CH-101" and detail["group"]["code"] and detail["organisation"]["code"]
    assert detail["indicators"][0]["weights"] and detail["contacts"]
    assert {"role", "name", "email", "territory"} <= set(detail["contacts"][0])
    response = clients["reader"].get("/api/v1/policies/CH-101/figures?level=department&per_page=500")
    page = response.get_json()
    assert page["total"] == 101 and len(page["items"]) == 101
    figure = page["items"][0]
    assert set(figure) == {"policy", "territory", "overall", "annual", "previous_overall", "trend",
                           "gap_to_median", "reason", "last_value_date", "computed_at", "explanation"}
    assert figure["territory"]["level"] == "department" and figure["policy"] == "CH-101"
    assert any(f["overall"] is not None for f in page["items"])
    assert all(f["overall"] is None or Decimal("0") <= Decimal(f["overall"]) <= Decimal("100") for f in page["items"])
    assert dt.datetime.fromisoformat(figure["computed_at"]).tzinfo is not None
    one = clients["reader"].get("/api/v1/policies/CH-101/figures?territory=department-69").get_json()
    assert [f["territory"]["key"] for f in one["items"]] == ["department-69"]
    children = collect(clients["reader"], "/api/v1/policies/CH-101/figures?parent=region-84")
    assert len(children) == 12 and {f["territory"]["level"] for f in children} == {"department"}
    everywhere = clients["reader"].get("/api/v1/policies/CH-101/figures?per_page=1").get_json()
    assert everywhere["total"] == 120 and everywhere["items"][0]["territory"]["key"] == "nation-FR"


def test_indicators_values_and_figures(demo, clients):
    reader = clients["reader"]
    listed = collect(reader, "/api/v1/indicators?policy=CH-101")
    assert [i["code"] for i in listed] == ["IND-1011", "IND-1012", "IND-1013"]
    indicator = reader.get("/api/v1/indicators/IND-1011").get_json()
    assert indicator["policy"] == "CH-101" and indicator["aggregation_method"] == "sum"
    assert indicator["weights"] == {"department": "50", "nation": "40", "region": "40"}
    url = "/api/v1/indicators/IND-1011/values?territory=department-69&kind=actual&from=2026-01-01&to=2026-06-30"
    values = collect(reader, url)
    with demo.app_context():
        session = db_session()
        d69 = session.scalar(select(Territory.id).where(Territory.level == "department", Territory.code == "69"))
        expected = session.scalar(select(func.count()).select_from(IndicatorValue).join(Indicator).where(
            Indicator.code == "IND-1011", IndicatorValue.territory_id == d69,
            IndicatorValue.kind == ValueKind.ACTUAL,
            IndicatorValue.date.between(dt.date(2026, 1, 1), dt.date(2026, 6, 30))))
    assert len(values) == expected == 6
    for value in values:
        assert value["territory"]["key"] == "department-69" and value["kind"] == "actual"
        assert "2026-01-01" <= value["date"] <= "2026-06-30"
        assert value["channel"] == "seed" and value["version"] >= 1 and value["recorded_at"]
        assert Decimal(value["value"]) >= 0 and "author" in value
    assert [v["date"] for v in values] == sorted(v["date"] for v in values)
    anonymous = clients["anonymous"].get(url).get_json()["items"]
    assert anonymous and all(v["author"] is None for v in anonymous)
    figures = reader.get("/api/v1/indicators/IND-1011/figures?level=region&per_page=500").get_json()
    assert figures["total"] == 18 and {f["territory"]["level"] for f in figures["items"]} == {"region"}
    assert {"baseline", "actual", "final_target", "overall", "origin", "next_update_due"} <= set(figures["items"][0])
    one = reader.get("/api/v1/indicators/IND-1011/figures?territory=nation-FR").get_json()["items"]
    assert len(one) == 1 and one[0]["indicator"] == "IND-1011"


def test_territories(demo, clients):
    client = clients["anonymous"]
    regions = collect(client, "/api/v1/territories?level=region")
    assert len(regions) == 18 and {t["level"] for t in regions} == {"region"}
    departments = collect(client, "/api/v1/territories?parent=region-84")
    assert len(departments) == 12 and all(t["parent"]["key"] == "region-84" for t in departments)
    assert "department-69" in {t["key"] for t in departments}
    found = collect(client, "/api/v1/territories?q=Rh%C3%B4ne&level=department")
    assert {"department-13", "department-69"} <= {t["key"] for t in found}
    assert all("Rhône" in t["name"] for t in found)
    assert [t["key"] for t in collect(client, "/api/v1/territories?q=2A")] == ["department-2A"]
    corse = client.get("/api/v1/territories/department-2A").get_json()
    assert corse["name"] == "Corse-du-Sud" and corse["parent"]["key"] == "region-94"
    assert client.get("/api/v1/territories/nation-FR").get_json()["parent"] is None
    for missing in ("department-999", "nope-1", "department-CH-101"):
        assert_problem(client.get(f"/api/v1/territories/{missing}"), 404)


def test_pagination(demo, clients):
    client = clients["anonymous"]
    response = client.get("/api/v1/territories?per_page=7")
    page = response.get_json()
    assert (page["page"], page["per_page"], page["total"], len(page["items"])) == (1, 7, 120, 7)
    assert response.headers["X-Total-Count"] == "120"
    rels = links(response)
    assert set(rels) == {"first", "next", "last"}
    assert "page=2" in rels["next"] and "page=18" in rels["last"] and "per_page=7" in rels["next"]
    last = client.get(rels["last"])
    assert len(last.get_json()["items"]) == 120 - 17 * 7 and set(links(last)) == {"first", "prev", "last"}
    keys = [t["key"] for t in collect(client, "/api/v1/territories?per_page=7")]
    assert len(keys) == len(set(keys)) == 120
    assert keys[0] == "nation-FR" and keys[1].startswith("region-") and keys[-1].startswith("department-")
    assert client.get("/api/v1/territories?page=99&per_page=7").get_json()["items"] == []
    assert len(client.get("/api/v1/territories?per_page=500").get_json()["items"]) == 120
    filtered = client.get("/api/v1/territories?level=region&per_page=5")
    assert "level=region" in links(filtered)["next"] and filtered.get_json()["total"] == 18
    for bad in ("per_page=501", "per_page=0", "page=0", "page=x"):
        body = assert_problem(client.get(f"/api/v1/territories?{bad}"), 422, "validation")
        assert body["errors"][0]["field"] == bad.split("=")[0] and body["errors"][0]["in"] == "query"


def test_policy_filters(demo, clients):
    admin = clients["admin"]
    with demo.app_context():
        session = db_session()
        eng1 = set(session.scalars(select(Policy.code).where(Policy.group.has(code="ENG-1"))))
        projects = set(session.scalars(select(Policy.code).where(Policy.kind == "structuring_project")))
        drafts = set(session.scalars(select(Policy.code).where(Policy.status == PolicyStatus.DRAFT)))
        ecologie = set(session.scalars(select(Policy.code).where(Policy.organisation.has(code="MIN-ECOLOGIE"))))
    assert {p["code"] for p in collect(admin, "/api/v1/policies?group=ENG-1")} == eng1
    assert {p["code"] for p in collect(admin, "/api/v1/policies?kind=structuring_project")} == projects
    assert {p["code"] for p in collect(admin, "/api/v1/policies?status=draft")} == drafts
    assert {p["code"] for p in collect(admin, "/api/v1/policies?organisation=MIN-ECOLOGIE")} == ecologie
    assert [p["code"] for p in collect(admin, "/api/v1/policies?q=ch-101")] == ["CH-101"]
    assert collect(clients["anonymous"], "/api/v1/policies?status=draft") == []
    assert_problem(admin.get("/api/v1/policies?status=bogus"), 422, "validation")


@pytest.mark.parametrize("url,field", [
    ("/api/v1/policies/CH-101/figures?territory=nowhere", "territory"),
    ("/api/v1/policies/CH-101/figures?level=canton", "level"),
    ("/api/v1/policies/CH-101/figures?parent=department-999", "parent"),
    ("/api/v1/indicators/IND-1011/values?from=yesterday", "from"),
    ("/api/v1/indicators/IND-1011/values?kind=guess", "kind"),
    ("/api/v1/indicators/IND-1011/figures?territory=region-00", "territory"),
    ("/api/v1/territories?level=canton", "level"),
    ("/api/v1/indicators?category=nope", "category"),
])
def test_invalid_filters_answer_422_naming_the_parameter(clients, url, field):
    body = assert_problem(clients["reader"].get(url), 422, "validation")
    assert [e["field"] for e in body["errors"]] == [field]


def test_errors_are_problem_documents(demo, clients):
    client = clients["anonymous"]
    assert_problem(client.get("/api/v1/nothing-here"), 404)
    response = client.delete("/api/v1/policies")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]
    assert_problem(client.get("/api/v1/policies", headers={"Authorization": "Bearer nope"}), 401, "invalid-token")
    assert_problem(client.post("/api/v1/values", json=[]), 401, "token-required")
    assert_problem(client.get("/api/v1/tokens"), 401)
    # session writes are refused, before any CSRF or body check
    assert_problem(clients["admin"].post("/api/v1/values", data="x"), 401, "token-required")
    # outside the API, errors stay HTML pages
    assert clients["anonymous"].get("/nothing-here").content_type.startswith("text/html")


def test_every_api_route_declares_its_permission_and_never_fails(demo, clients):
    """What tests/test_contracts.py checks once the blueprint is wired into the core."""
    with demo.app_context():
        session = db_session()
        codes = [*session.scalars(select(Policy.code)), "IND-1011", "IND-1013", "IND-1041", "NOPE-0"]
    values = {"code": codes, "level": ["nation", "region", "department", "nope"]}
    adapter = demo.url_map.bind("localhost")
    fetched = 0
    for rule in demo.url_map.iter_rules():
        if not rule.endpoint.startswith("api_v1."):
            continue
        marker = getattr(demo.view_functions[rule.endpoint], "pilote_permission", None)
        assert marker in ("public", "authenticated"), rule.endpoint
        if "GET" not in rule.methods:
            continue
        assert set(rule.arguments) <= set(values), rule.rule
        combos = [{}]
        for name in sorted(rule.arguments):
            combos = [{**c, name: v} for c in combos for v in values[name]]
        for args in combos:
            url = adapter.build(rule.endpoint, args)
            for who, client in clients.items():
                status = client.get(url).status_code
                fetched += 1
                assert status < 500, (who, url, status)
                if marker == "authenticated" and who == "anonymous":
                    assert status == 401, url
                if marker == "authenticated" and who != "anonymous":
                    assert status not in (401, 403), (who, url)
    assert fetched > 100


def test_alerts(demo, clients):
    from core.engine.alerts import CORE_ALERT_RULES, alerts_for

    assert_problem(clients["anonymous"].get("/api/v1/alerts"), 401)
    reader = clients["reader"]
    everything = collect(reader, "/api/v1/alerts?per_page=500")
    first = reader.get("/api/v1/alerts?per_page=10").get_json()
    assert first["total"] == len(everything) > 0 and first["items"] == everything[:10]
    visible = expected_policies(demo, "reader")
    assert {a["policy"] for a in everything} <= visible
    assert {a["key"] for a in everything} <= {rule.key for rule in CORE_ALERT_RULES}
    assert {"key", "label", "policy", "territory", "detail"} == set(everything[0])
    with demo.app_context():
        session = db_session()
        ids = session.scalars(select(Policy.id).where(Policy.code.in_(visible))).all()
        territories = session.scalars(select(Territory.id).where(Territory.valid_to.is_(None))).all()
        assert len(alerts_for(session, ids, territories)) == len(everything)
    ch101 = collect(reader, "/api/v1/alerts?policy=CH-101&level=department&per_page=500")
    assert ch101 and {(a["policy"], a["territory"]["level"]) for a in ch101} == {("CH-101", "department")}
    stale = collect(reader, "/api/v1/alerts?key=data_stale&per_page=500")
    assert stale and all(a["key"] == "data_stale" and a["detail"] for a in stale)
    at_top = collect(reader, "/api/v1/alerts?territory=nation-FR&per_page=500")
    assert {a["territory"]["key"] for a in at_top} == {"nation-FR"}
    perimeter = collect(clients["ministry_referent"], "/api/v1/alerts?per_page=500")
    assert perimeter and {a["policy"] for a in perimeter} <= expected_policies(demo, "ministry_referent")
    body = assert_problem(reader.get("/api/v1/alerts?policy=CH-305"), 422)  # a draft: unknown to a reader
    assert body["errors"][0]["field"] == "policy"


def test_completeness(demo, clients):
    assert_problem(clients["anonymous"].get("/api/v1/completeness"), 401)
    reader = clients["reader"]
    report = reader.get("/api/v1/completeness").get_json()
    assert set(report) == {"start", "end", "today", "total", "policies", "territories", "contributors", "uncovered"}
    assert report["today"] == DEMO_TODAY.isoformat() and report["start"] == "2025-11-01"
    total = report["total"]
    assert total["expected"] > 0 and 0 <= total["received"] <= total["expected"]
    assert Decimal(total["rate"]) == round(Decimal(100) * total["received"] / total["expected"], 1)
    assert {p["policy"] for p in report["policies"]} <= expected_policies(demo, "reader")
    assert sum(p["expected"] for p in report["policies"]) == total["expected"]
    assert report["territories"][0]["territory"]["key"] == "nation-FR"
    assert report["territories"][0]["expected"] == total["expected"]
    assert email("local_contributor") in {c["email"] for c in report["contributors"]}
    departments = reader.get("/api/v1/completeness?level=department").get_json()["territories"]
    assert departments and {t["territory"]["level"] for t in departments} == {"department"}
    one = reader.get("/api/v1/completeness?policy=CH-101&territory=department-69").get_json()
    assert [p["policy"] for p in one["policies"]] == ["CH-101"]
    assert {t["territory"]["key"] for t in one["territories"]} == {"department-69", "region-84", "nation-FR"}
    window = reader.get("/api/v1/completeness?from=2026-01-01&to=2026-03-31&only_due=false").get_json()
    assert (window["start"], window["end"]) == ("2026-01-01", "2026-03-31")
    assert window["total"]["expected"] < total["expected"]
    assert_problem(reader.get("/api/v1/completeness?from=2026-03-01&to=2026-01-01"), 422)
    assert_problem(reader.get("/api/v1/completeness?policy=NOPE"), 422)


# --------------------------------------------------------------------------- OpenAPI and docs
def test_openapi_document(demo, clients):
    response = clients["anonymous"].get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.content_type == "application/json"
    document = json.loads(response.get_data(as_text=True))
    assert document["openapi"] == "3.1.0" and document["info"]["title"] and document["info"]["version"]
    paths = document["paths"]
    routes = [r for r in demo.url_map.iter_rules() if r.endpoint.startswith("api_v1.")]
    assert len(routes) >= 15
    for rule in routes:
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in paths, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = paths[path][method.lower()]
            assert operation["summary"] and operation["responses"], (path, method)
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == set(rule.arguments), path
    schemas = document["components"]["schemas"]
    assert set(COMPONENTS) <= set(schemas)
    refs = set(re.findall(r'"#/components/(\w+)/(\w+)"', json.dumps(document)))
    assert refs and all(name in document["components"][kind] for kind, name in refs)
    listing = paths["/api/v1/policies"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"page", "per_page", "group", "kind", "status", "q"}
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["items"]["items"] \
        == {"$ref": "#/components/schemas/Policy"}
    write = paths["/api/v1/values"]["post"]
    assert write["security"] == [{"bearerAuth": []}] and {"401", "403", "409", "422"} <= set(write["responses"])
    assert schemas["Value"]["properties"]["value"]["format"] == "decimal"
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_reference_page_lists_every_endpoint(demo, clients):
    response = clients["anonymous"].get("/api/v1/docs")
    assert response.status_code == 200 and response.content_type.startswith("text/html")
    html = response.get_data(as_text=True)
    assert "<h1>" in html and 'lang="en"' in html and "<script" not in html.split("</main>")[0]
    document = clients["anonymous"].get("/api/v1/openapi.json").get_json()
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"{method.upper()} {path}" in html, (method, path)
    for name in ("Policy", "ValueInput", "Problem"):
        assert f'id="schema-{name}"' in html
    for slug in ("validation", "version-conflict", "invalid-token"):
        assert f'id="problem-{slug}"' in html
    assert 'scope="col"' in html and "<caption>" in html


# =========================================================================== writes
@pytest.fixture(scope="module")
def lab(database_factory):
    """A demo app that tests write to, with a test policy whose parents are computed from
    two departments only (so that a department's value moves its region and the nation)."""
    app = build_app(database_factory)
    with app.app_context():
        session = db_session()
        policy = Policy(code="API-T", name="API test policy", status=PolicyStatus.PUBLISHED, is_public=True)
        indicator = Indicator(code="API-T-1", policy=policy, name="Counted things", aggregation_method="sum",
                              max_value=Decimal("100000"))
        indicator.weights = [IndicatorWeight(level=lvl, weight=100) for lvl in ("nation", "region", "department")]
        session.add_all([policy, indicator])
        session.flush()
        places = {t.code: t.id for t in session.scalars(select(Territory).where(
            Territory.level == "department", Territory.code.in_(["69", "38"])))}
        inputs = []
        for tid in places.values():
            inputs += [
                ValueInput(indicator.id, tid, ValueKind.BASELINE, dt.date(2024, 1, 1), Decimal(100)),
                ValueInput(indicator.id, tid, ValueKind.TARGET, dt.date(2027, 12, 1), Decimal(200),
                           target_scope=TargetScope.FINAL),
                ValueInput(indicator.id, tid, ValueKind.ACTUAL, dt.date(2026, 9, 1), Decimal(150)),
            ]
        save_values(session, inputs, channel=Channel.SEED)
        session.commit()
        tokens = {}
        for role in ("admin", "reader", "local_contributor"):
            user = session.scalar(select(User).where(User.email == email(role)))
            tokens[role] = create_token(session, user, f"{role} tests")[1]
        session.commit()
    app.config["API_TEST_TOKENS"] = tokens
    yield app
    app.extensions["pilote"].db.dispose()


def auth(app, role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {app.config['API_TEST_TOKENS'][role]}"}


def figure_at(client, policy: str, key: str) -> dict:
    items = client.get(f"/api/v1/policies/{policy}/figures?territory={key}").get_json()["items"]
    assert len(items) == 1, (policy, key)
    return items[0]


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        session = db_session()
        return (session.scalar(select(func.count()).select_from(IndicatorValue)),
                session.scalar(select(func.count()).select_from(IndicatorValueRevision)),
                session.scalar(select(func.count()).select_from(AuditEntry)))


def test_a_value_written_moves_the_figures_of_its_territory_and_ancestors(lab):
    client = lab.test_client()
    chain = ("department-69", "region-84", "nation-FR")
    before = {key: figure_at(client, "API-T", key) for key in chain}
    assert before["department-69"]["overall"] == "50"
    # Both departments report October (a parent waits for all its reporting children).
    response = client.post("/api/v1/values", headers=auth(lab), json=[
        {"indicator": "API-T-1", "territory": "department-69", "kind": "actual", "date": "2026-10-01",
         "value": 190, "source": "API test"},
        {"indicator": "API-T-1", "territory": "department-38", "kind": "actual", "date": "2026-10-01",
         "value": 150, "source": "API test"}])
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "erased": 0, "skipped_empty": 0}
    assert {f["territory"]["key"] for f in result["figures"] if f["policy"] == "API-T"} == {*chain, "department-38"}
    assert all(f["computed_at"] == result["computed_at"] for f in result["figures"])
    after = {key: figure_at(client, "API-T", key) for key in chain}
    assert after["department-69"]["overall"] == "90"
    for key in chain:
        assert after[key]["overall"] != before[key]["overall"], key
        assert after[key]["computed_at"] > before[key]["computed_at"], key
        assert after[key]["computed_at"] == result["computed_at"]
    written = client.get("/api/v1/indicators/API-T-1/values?territory=department-69&kind=actual&from=2026-10-01",
                         headers=auth(lab)).get_json()["items"]
    assert len(written) == 1
    assert written[0]["value"] == "190" and written[0]["channel"] == "api" and written[0]["version"] == 1
    assert written[0]["author"]["name"] and written[0]["source"] == "API test"
    with lab.app_context():
        session = db_session()
        admin = session.scalar(select(User).where(User.email == email("admin")))
        entry = session.scalar(select(AuditEntry).where(AuditEntry.entity == "indicator_value")
                               .order_by(AuditEntry.id.desc()))
        assert (entry.action, entry.channel, entry.actor_id) == ("bulk", "api", admin.id)
        revision = session.scalar(select(IndicatorValueRevision).order_by(IndicatorValueRevision.id.desc()))
        assert revision.channel == Channel.API and revision.author_id == admin.id


def test_bulk_write(lab):
    client = lab.test_client()
    keys = ("department-13", "department-33", "department-59")
    items = [{"indicator": "IND-1011", "territory": key, "kind": "actual", "date": "2026-10-15",
              "value": f"{1000 + n}.25"} for n, key in enumerate(keys)]
    response = client.post("/api/v1/values", headers=auth(lab), json=items)
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    assert result["counts"]["created"] == 3
    with lab.app_context():
        session = db_session()
        expected = set()
        for key in keys:
            territory = session.scalar(select(Territory).where(Territory.level == "department",
                                                               Territory.code == key.split("-")[1]))
            while territory is not None:
                expected.add(territory.key)
                territory = territory.parent
    assert {f["territory"]["key"] for f in result["figures"]} == expected
    assert {f["policy"] for f in result["figures"]} == {"CH-101"}
    for n, key in enumerate(keys):
        values = client.get(f"/api/v1/indicators/IND-1011/values?territory={key}&from=2026-10-15&to=2026-10-15"
                            ).get_json()["items"]
        assert [(v["value"], v["channel"]) for v in values] == [(f"{1000 + n}.25", "api")]
    # the same values again: nothing changes
    again = client.post("/api/v1/values", headers=auth(lab), json=items).get_json()
    assert again["counts"]["unchanged"] == 3 and again["computed_at"] is None and again["figures"] == []


def test_bulk_write_is_all_or_nothing_and_lists_every_problem(lab):
    client = lab.test_client()
    good = {"indicator": "IND-1011", "territory": "department-01", "kind": "actual", "date": "2026-10-20", "value": 5}
    items = [
        good,
        {**good, "territory": "department-999"},
        {**good, "value": "abc"},
        {**good, "indicator": "NOPE-1"},
        {**good, "kind": "guess"},
        {**good, "colour": "blue"},
        {**good, "kind": "actual", "target_scope": "final"},
        "not an object",
        {**good, "indicator": "API-T-1", "value": "1000000"},
        {**good, "value": "1.123456789"},
    ]
    before = counts(lab)
    body = assert_problem(client.post("/api/v1/values", headers=auth(lab), json=items), 422, "validation")
    found = {(e["index"], e["field"]) for e in body["errors"]}
    assert found == {(1, "territory"), (2, "value"), (3, "indicator"), (4, "kind"), (5, "colour"),
                     (6, "target_scope"), (7, None), (8, "value"), (9, "value")}
    assert {e["pointer"] for e in body["errors"] if e["index"] == 2} == {"/2/value"}
    assert counts(lab) == before
    assert client.get("/api/v1/indicators/IND-1011/values?territory=department-01&from=2026-10-20"
                      "&to=2026-10-20").get_json()["items"] == []
    # a single object: fields without index
    single = assert_problem(client.post("/api/v1/values", headers=auth(lab), json={**good, "date": "soon"}), 422)
    assert single["errors"] == [{"field": "date", "pointer": "/date", "detail": single["errors"][0]["detail"]}]
    missing = assert_problem(client.post("/api/v1/values", headers=auth(lab), json={}), 422)
    assert {e["field"] for e in missing["errors"]} == {"indicator", "territory", "kind", "date", "value"}


def test_malformed_bodies(lab):
    client = lab.test_client()
    assert_problem(client.post("/api/v1/values", headers=auth(lab), data="indicator=x"), 415)
    assert_problem(client.post("/api/v1/values", headers={**auth(lab), "Content-Type": "application/json"},
                               data="{not json"), 400)
    assert_problem(client.post("/api/v1/values", headers=auth(lab), json=[]), 422, "validation")
    assert_problem(client.post("/api/v1/values", headers=auth(lab), json=42), 422, "validation")
    assert_problem(client.post("/api/v1/values", headers=auth(lab), json=[{}] * 10_001), 413)


def test_exact_decimals_round_trip(lab):
    client = lab.test_client()
    response = client.post("/api/v1/values", headers=auth(lab), json=[
        {"indicator": "API-T-1", "territory": "department-38", "kind": "actual", "date": "2026-10-05",
         "value": "1234.56780000"},
        {"indicator": "API-T-1", "territory": "department-38", "kind": "actual", "date": "2026-10-06",
         "value": 0.1},
    ])
    assert response.status_code == 200, response.get_data(as_text=True)
    values = client.get("/api/v1/indicators/API-T-1/values?territory=department-38&from=2026-10-05&to=2026-10-06",
                        headers=auth(lab)).get_json()["items"]
    assert [v["value"] for v in values] == ["1234.5678", "0.1"]


def test_version_conflict_answers_409_with_both_versions(lab):
    client = lab.test_client()
    item = {"indicator": "IND-1011", "territory": "department-02", "kind": "actual", "date": "2026-10-25", "value": 10}
    assert client.post("/api/v1/values", headers=auth(lab), json=item).status_code == 200
    url = "/api/v1/indicators/IND-1011/values?territory=department-02&from=2026-10-25&to=2026-10-25"
    [first] = client.get(url).get_json()["items"]
    assert first["version"] == 1
    updated = client.post("/api/v1/values", headers=auth(lab), json={**item, "value": 11, "version": 1})
    assert updated.status_code == 200 and updated.get_json()["counts"]["updated"] == 1
    before = counts(lab)
    stale = {**item, "value": 12, "version": 1}
    other = {**item, "territory": "department-03", "value": 99}
    body = assert_problem(client.post("/api/v1/values", headers=auth(lab), json=[other, stale]), 409,
                          "version-conflict")
    assert (body["expected_version"], body["current_version"], body["current_value"]) == (1, 2, "11")
    assert (body["index"], body["indicator"], body["territory"], body["date"]) == (1, "IND-1011", "department-02", "2026-10-25")
    assert counts(lab) == before  # the other item was not written either
    [current] = client.get(url).get_json()["items"]
    assert (current["value"], current["version"]) == ("11", 2)
    single = assert_problem(client.post("/api/v1/values", headers=auth(lab), json=stale), 409)
    assert "index" not in single and single["current_version"] == 2
    assert client.post("/api/v1/values", headers=auth(lab), json={**stale, "version": 2}).status_code == 200


def test_writes_outside_ones_rights_are_refused(lab):
    client = lab.test_client()
    item = {"indicator": "IND-1011", "territory": "department-13", "kind": "actual", "date": "2026-10-28", "value": 1}
    before = counts(lab)
    body = assert_problem(client.post("/api/v1/values", headers=auth(lab, "reader"), json=[item]), 403, "forbidden")
    assert body["errors"][0]["index"] == 0
    # a local contributor of department 69 never writes in department 13, whatever its role grants
    assert_problem(client.post("/api/v1/values", headers=auth(lab, "local_contributor"), json=item), 403, "forbidden")
    assert_problem(client.post("/api/v1/values", json=item), 401, "token-required")
    assert_problem(client.post("/api/v1/comments", headers=auth(lab, "reader"), json={
        "policy": "CH-101", "territory": "department-13", "type": "obstacles", "body": "No."}), 403, "forbidden")
    assert counts(lab) == before
    # a policy the caller may not read is unknown, not forbidden
    with lab.app_context():
        draft_indicator = db_session().scalar(select(Indicator.code).join(Policy).where(
            Policy.status == PolicyStatus.DRAFT))
    body = assert_problem(client.post("/api/v1/values", headers=auth(lab, "reader"), json={
        **item, "indicator": draft_indicator}), 422)
    assert body["errors"][0]["field"] == "indicator"


def test_comments(lab):
    client = lab.test_client()
    response = client.post("/api/v1/comments", headers=auth(lab), json={
        "policy": "CH-101", "territory": "department-69", "type": "obstacles", "body": "Recruitment is late."})
    assert response.status_code == 201, response.get_data(as_text=True)
    comment = response.get_json()
    assert comment["policy"] == "CH-101" and comment["territory"]["key"] == "department-69"
    assert comment["author"]["name"] and comment["parent"] is None and comment["id"]
    reply = client.post("/api/v1/comments", headers=auth(lab), json={
        "policy": "CH-101", "territory": "department-69", "type": "next_actions", "body": "On it.",
        "parent": comment["id"]})
    assert reply.status_code == 201 and reply.get_json()["parent"] == comment["id"]
    with lab.app_context():
        session = db_session()
        row = session.get(Comment, comment["id"])
        assert row.body == "Recruitment is late." and row.author.email == email("admin")
        entry = session.scalar(select(AuditEntry).where(AuditEntry.entity == "comment",
                                                        AuditEntry.entity_id == str(row.id)))
        assert entry.action == "insert" and entry.channel == "api" and entry.actor_id == row.author_id
    body = assert_problem(client.post("/api/v1/comments", headers=auth(lab), json={
        "policy": "NOPE", "territory": "department-1000", "type": "gossip", "body": "x",
        "parent": comment["id"]}), 422, "validation")
    assert {e["field"] for e in body["errors"]} == {"policy", "territory", "type", "parent"}
    wrong_place = assert_problem(client.post("/api/v1/comments", headers=auth(lab), json={
        "policy": "CH-101", "territory": "department-13", "type": "obstacles", "body": "x",
        "parent": comment["id"]}), 422)
    assert [e["field"] for e in wrong_place["errors"]] == ["parent"]
    blank = assert_problem(client.post("/api/v1/comments", headers=auth(lab), json={
        "policy": "CH-101", "territory": "department-69", "type": "obstacles", "body": "   "}), 422)
    assert [e["field"] for e in blank["errors"]] == ["body"]


def test_the_api_mounts_once(lab):
    init_app(lab)  # idempotent
    assert lab.blueprints["api_v1"] is bp
    assert sum(1 for r in lab.url_map.iter_rules() if r.endpoint == "api_v1.list_policies") == 1
