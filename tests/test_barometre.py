"""The public barometer: publication step, public pages, embedding, open data, and that nothing
private is reachable from it.

One demo app per module (seeded like ``pilote seed demo``, the plugin's ``seed_data`` hook
included), plus private material added after the demo publications: a value entered after
publishing, a secret comment and weather summary, a closed territory with data. The tests that
publish or withdraw run last and say what they change.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
import zipfile
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import func, select

from core.testing.pytest_plugin import DEMO_TODAY, login, seed_demo

SECRET = "Zorglub-secret-7731"
LATE_VALUE = Decimal("987654")


@pytest.fixture(scope="module")
def baro_app(database_factory):
    from core.api import (
        Channel,
        Comment,
        Indicator,
        Policy,
        Territory,
        ValueInput,
        ValueKind,
        Weather,
        WeatherReport,
        db_session,
        save_values,
    )
    from core.app import create_app

    app = create_app("ditp", settings={
        "DATABASE_URL": database_factory.new(), "SECRET_KEY": uuid.uuid4().hex, "TESTING": True,
        "WTF_CSRF_ENABLED": False, "PILOTE_TODAY": DEMO_TODAY.isoformat(),
    })
    assert "barometre" in app.extensions["pilote"].config.enabled_plugins
    with app.app_context():
        seed_demo(app)
        session = db_session()
        # exactly what `pilote seed demo` does after loading the demo
        app.extensions["pilote"].pm.hook.seed_data(session=session, config=app.extensions["pilote"].config,
                                                   profile="demo")
        session.commit()
        # private material, written after the demo publications
        nation = session.scalar(select(Territory).where(Territory.level == "nation"))
        ind = session.scalar(select(Indicator).where(Indicator.code == "IND-1011"))
        save_values(session, [ValueInput(ind.id, nation.id, ValueKind.ACTUAL, dt.date(2026, 10, 1),
                                         LATE_VALUE)], channel=Channel.FORM, today=DEMO_TODAY)
        policy = session.scalar(select(Policy).where(Policy.code == "CH-101"))
        session.add(Comment(policy_id=policy.id, territory_id=nation.id, type="obstacles",
                            body=f"Commentaire interne {SECRET}"))
        session.add(WeatherReport(policy_id=policy.id, territory_id=nation.id,
                                  weather=Weather.COMPROMISED, summary=f"Synthèse interne {SECRET}"))
        region = session.scalar(select(Territory).where(Territory.level == "region", Territory.code == "84"))
        closed = Territory(grid="admin", level="department", code="ZZ", name=f"Ancien {SECRET}",
                           parent_id=region.id, valid_from=dt.date(1900, 1, 1), valid_to=dt.date(2020, 1, 1))
        session.add(closed)
        session.flush()
        save_values(session, [ValueInput(ind.id, closed.id, ValueKind.ACTUAL, dt.date(2019, 6, 1),
                                         Decimal("123456"))], channel=Channel.FORM, today=DEMO_TODAY)
        session.commit()
    yield app
    app.extensions["pilote"].db.dispose()


def anonymous(app):
    return app.test_client()


def signed_in(app, role):
    client = app.test_client()
    assert login(client, f"{role}@demo.pilote.example").status_code == 302
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def squeezed(text: str) -> str:
    """Digits grouped with (narrow) no-break spaces, joined: '987 654' → '987654'."""
    return re.sub(r"[\s\u00a0\u202f]", "", text)


def current(app):
    """{policy code: publication} of what the barometer shows."""
    from plugins.barometre.snapshot import current_publications

    from core.api import db_session

    with app.app_context():
        return {p.content["policy"]["code"]: p for p in current_publications(db_session())}


# --------------------------------------------------------------------------- the demo
def test_the_demo_seed_publishes_some_public_policies(baro_app):
    from core.api import Policy, PolicyStatus, db_session
    from plugins.barometre.models import Publication, PublishedFigure, PublishedSeries

    with baro_app.app_context():
        session = db_session()
        publishable = session.scalars(select(Policy.code).where(
            Policy.is_public.is_(True), Policy.status == PolicyStatus.PUBLISHED).order_by(Policy.code)).all()
        assert session.scalar(select(func.count(Publication.id))) == 8
        assert session.scalar(select(func.count(PublishedFigure.id))) > 8 * 120
        assert session.scalar(select(func.count(PublishedSeries.id))) >= 8
    shown = current(baro_app)
    assert sorted(shown) == publishable[:8]
    assert len(publishable) > 8  # some public policies stay drafts in the demo


# --------------------------------------------------------------------------- public pages
def test_overview_lists_published_policies_with_national_progress(baro_app):
    response = anonymous(baro_app).get("/barometre/")
    assert response.status_code == 200
    page = text_of(response)
    shown = current(baro_app)
    for code, publication in shown.items():
        assert publication.content["policy"]["name"].replace("'", "&#39;") in page, code
    assert page.count('<meter class="progress__meter"') >= 1
    assert "Se connecter" in page  # the theme's full chrome, anonymous


def test_overview_filters_by_group_and_search(baro_app):
    shown = current(baro_app)
    group = next(p.content["policy"]["group"] for p in shown.values() if p.content["policy"]["group"])
    page = text_of(anonymous(baro_app).get(f"/barometre/?groupe={group['code']}"))
    for p in shown.values():
        name = p.content["policy"]["name"].replace("'", "&#39;")
        in_group = (p.content["policy"]["group"] or {}).get("code") == group["code"]
        assert (name in page) == in_group
    one = next(iter(shown.values())).content["policy"]["name"]
    page = text_of(anonymous(baro_app).get("/barometre/", query_string={"q": one[:12]}))
    assert one.replace("'", "&#39;") in page
    assert "Aucune politique ne correspond" in text_of(anonymous(baro_app).get("/barometre/?q=zzzzzz"))


def test_policy_page_shows_the_snapshot_table_and_map_table(baro_app):
    code = sorted(current(baro_app))[0]
    response = anonymous(baro_app).get(f"/barometre/politiques/{code}")
    assert response.status_code == 200
    page = text_of(response)
    assert page.count('<article class="card indicator"') >= 1
    assert "Avancement par territoire" in page and "69 – Rhône" in page
    assert "Évolution : tableau des" in page
    # another territory, then one that is not public
    assert anonymous(baro_app).get(f"/barometre/politiques/{code}?territoire=department-69").status_code == 200
    assert anonymous(baro_app).get(f"/barometre/politiques/{code}?territoire=department-ZZ").status_code == 404


def test_values_entered_after_publication_stay_private(baro_app):
    """IND-1011 got a national value after CH-101 was published: the barometer still shows
    the published one, while the live figure has the new one."""
    from core.api import Indicator, IndicatorFigure, Territory, db_session

    with baro_app.app_context():
        session = db_session()
        live = session.scalar(select(IndicatorFigure).join(Indicator).join(Territory, Territory.id == IndicatorFigure.territory_id)
                              .where(Indicator.code == "IND-1011", Territory.level == "nation"))
        assert live.actual == LATE_VALUE
    client = anonymous(baro_app)
    assert str(LATE_VALUE) not in squeezed(text_of(client.get("/barometre/politiques/CH-101")))
    rows = list(csv.DictReader(io.StringIO(text_of(client.get("/barometre/donnees/indicateurs.csv")).lstrip("\ufeff")),
                               delimiter=";"))
    national = [r for r in rows if r["indicator_code"] == "IND-1011" and r["territory_level"] == "nation"]
    assert len(national) == 1 and Decimal(national[0]["actual"]) != LATE_VALUE


def test_territory_search_and_page(baro_app):
    client = anonymous(baro_app)
    page = text_of(client.get("/barometre/territoires?q=Rh"))
    assert "/barometre/territoires/department/69" in page
    assert "/barometre/territoires/region/84" in text_of(client.get("/barometre/territoires?q=84"))
    assert "Aucun territoire" in text_of(client.get("/barometre/territoires?q=nowhere-at-all"))
    response = client.get("/barometre/territoires/department/69")
    assert response.status_code == 200
    page = text_of(response)
    assert "<h1>Rhône</h1>" in page and "Auvergne-Rhône-Alpes" in page  # its parent
    for publication in current(baro_app).values():
        assert publication.content["policy"]["name"].replace("'", "&#39;") in page
    region = text_of(client.get("/barometre/territoires/region/84"))
    assert "/barometre/territoires/department/69" in region  # its children
    assert client.get("/barometre/territoires/department/ZZ").status_code == 404  # closed
    assert client.get("/barometre/territoires/commune/69123").status_code == 404


# --------------------------------------------------------------------------- embedding
def test_embedded_pages_may_be_framed_and_nothing_else(baro_app):
    client = anonymous(baro_app)
    code = sorted(current(baro_app))[0]
    for url in ("/barometre/?embed=1", f"/barometre/politiques/{code}?embed=1",
                "/barometre/territoires/department/69?embed=1"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "frame-ancestors *" in response.headers["Content-Security-Policy"], url
        page = text_of(response)
        assert "barometre-embed" in page and "Se connecter" not in page, url
        assert "embed=1" in page  # links stay embedded
    for url in ("/barometre/", f"/barometre/politiques/{code}", "/barometre/donnees",
                "/barometre/territoires?embed=1", "/?embed=1"):
        response = client.get(url)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], url
        assert response.headers["X-Frame-Options"] == "DENY"
    staff = signed_in(baro_app, "central_steering")
    response = staff.get("/barometre/publications?embed=1")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


# --------------------------------------------------------------------------- open data
def test_csv_downloads_match_their_table_schema(baro_app):
    client = anonymous(baro_app)
    for name, key in (("politiques", ("policy_code", "territory_level", "territory_code")),
                      ("indicateurs", ("indicator_code", "territory_level", "territory_code"))):
        response = client.get(f"/barometre/donnees/{name}.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        body = text_of(response)
        assert body.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff")), delimiter=";"))
        schema = json.loads(text_of(client.get(f"/barometre/donnees/{name}.schema.json")))
        assert rows[0] == [f["name"] for f in schema["fields"]]
        assert tuple(schema["primaryKey"]) == key
        assert len(rows) > 100
        index = [rows[0].index(k) for k in key]
        keys = [tuple(r[i] for i in index) for r in rows[1:]]
        assert len(keys) == len(set(keys))  # the primary key holds
        codes = {r[0] for r in rows[1:]}
        assert codes == set(current(baro_app))


def test_barometre_open_data_format(baro_app):
    client = anonymous(baro_app)
    response = client.get("/barometre/donnees/barometre.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    public_codes = {i["code"] for p in current(baro_app).values() for i in p.content["indicators"]}
    assert {n for n in names if n.endswith(".csv")} == {f"ind-{c.lower().removeprefix('ind-')}.csv"
                                                         for c in public_codes}
    body = archive.read("ind-1011.csv").decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert body.splitlines()[0] == "indic_id,enforce_zone_id,metric_enforce_date,maille,indic_vi,indic_va,indic_vc,indic_ta"
    assert {r["maille"] for r in rows} == {"NAT", "REG", "DEPT"}
    assert {r["enforce_zone_id"] for r in rows if r["maille"] == "NAT"} == {"FRANCE"}
    assert "D69" in {r["enforce_zone_id"] for r in rows} and "DZZ" not in {r["enforce_zone_id"] for r in rows}
    assert all(r["indic_va"] != "987654.0" for r in rows)
    schema = json.loads(archive.read("ind-1011.schema.json"))
    assert [f["name"] for f in schema["fields"]] == list(rows[0])
    single = client.get("/barometre/donnees/barometre/ind-1011.csv")
    assert single.status_code == 200 and single.data.decode() == body
    assert client.get("/barometre/donnees/barometre/ind-1013.csv").status_code == 404  # not public


def test_levels_setting_hides_the_other_levels(baro_app, monkeypatch):
    settings = baro_app.extensions["pilote"].plugin_settings["barometre"]
    monkeypatch.setitem(settings, "levels", ["nation", "region"])
    client = anonymous(baro_app)
    assert client.get("/barometre/territoires/department/69").status_code == 404
    assert client.get("/barometre/territoires/region/84").status_code == 200
    body = client.get("/barometre/donnees/barometre/ind-1011.csv").data.decode()
    assert "DEPT" not in body and "REG" in body
    assert ";department;" not in text_of(client.get("/barometre/donnees/indicateurs.csv"))


# --------------------------------------------------------------------------- nothing private
class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "action", "src") and value:
                self.links.append(value)


SAMPLED_TERRITORIES = ("", "territoire=nation-FR", "territoire=region-84", "territoire=department-69")


SAMPLED_DEPARTMENTS = ("01", "2A", "69", "971")


def sampled(path: str, query: str) -> bool:
    """Every kind of page, in a few territories (all of them would be 8 × 120 policy pages)."""
    if path.startswith("/barometre/territoires/department/"):
        return path.rsplit("/", 1)[1] in SAMPLED_DEPARTMENTS
    if not path.startswith("/barometre/politiques/"):
        return True
    return query.replace("&embed=1", "").replace("embed=1", "") in SAMPLED_TERRITORIES


def crawl(client, start: list[str], limit: int = 600) -> dict[str, bytes]:
    """Every barometer URL reachable from ``start`` (links, forms, downloads)."""
    seen, queue, bodies = set(), list(start), {}
    while queue and len(bodies) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        bodies[url] = response.data
        if response.mimetype == "text/html":
            parser = Links()
            parser.feed(response.get_data(as_text=True))
            for link in parser.links:
                target = urljoin(url, link)
                parts = urlsplit(target)
                if parts.netloc in ("", "localhost") and parts.path.startswith("/barometre") \
                        and "/static/" not in parts.path and sampled(parts.path, parts.query):
                    queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return bodies


def private_strings(app) -> list[str]:
    from core.api import Comment, Indicator, Policy, PolicyStatus, User, WeatherReport, db_session
    from plugins.barometre.snapshot import current_publications

    with app.app_context():
        session = db_session()
        shown = {p.policy_id for p in current_publications(session)}
        strings = [SECRET]
        for policy in session.scalars(select(Policy)):
            if policy.id not in shown:  # non-public, draft, archived, or public but unpublished
                strings += [policy.code, policy.name]
            for contact in policy.contacts:
                strings += [contact.name, contact.email]
            for ind in policy.indicators:
                if not ind.is_public:
                    strings += [ind.code, ind.name, ind.calculation_method]
                else:
                    strings += [ind.calculation_method]
        for user in session.scalars(select(User)):
            strings += [user.name, user.email]
        strings += [c.body for c in session.scalars(select(Comment))]
        strings += [w.summary for w in session.scalars(select(WeatherReport)) if w.summary]
        assert session.scalar(select(func.count(Policy.id)).where(Policy.status == PolicyStatus.DRAFT))
    # short strings ("MI", a code) could occur by chance in unrelated text: keep distinctive ones
    return sorted({s for s in strings if s and len(s) >= 7})


def test_nothing_private_is_reachable_anonymously(baro_app):
    client = anonymous(baro_app)
    code = sorted(current(baro_app))[0]
    bodies = crawl(client, ["/barometre/", "/barometre/?embed=1", "/barometre/territoires",
                            "/barometre/territoires?q=a", "/barometre/donnees",
                            f"/barometre/politiques/{code}?territoire=department-69&embed=1"])
    urls = set(bodies)
    # the crawl reached every kind of page and download
    for fragment in ("/barometre/politiques/", "/barometre/territoires/department/",
                     "/barometre/territoires/region/", "/barometre/donnees/politiques.csv",
                     "/barometre/donnees/indicateurs.schema.json", "/barometre/donnees/barometre.zip",
                     "/barometre/donnees/barometre/ind-"):
        assert any(fragment in u for u in urls), fragment
    assert len(urls) > 60
    texts = {}
    for url, body in bodies.items():
        if url.endswith(".zip"):
            archive = zipfile.ZipFile(io.BytesIO(body))
            for name in archive.namelist():
                texts[f"{url}!{name}"] = archive.read(name).decode()
        else:
            texts[url] = body.decode("utf-8")
    leaks = []
    strings = private_strings(baro_app)
    assert len(strings) > 50
    for url, text in texts.items():
        for s in strings:
            if s in text or s.replace("'", "&#39;") in text:
                leaks.append((url, s))
        if str(LATE_VALUE) in squeezed(text):
            leaks.append((url, "value entered after publication"))
        if "@" in text and re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", text):
            leaks.append((url, "an e-mail address"))
    assert leaks == []


def test_public_pages_hide_a_policy_made_private_after_publication(baro_app):
    from core.api import Policy, db_session

    code = sorted(current(baro_app))[-1]
    with baro_app.app_context():
        session = db_session()
        policy = session.scalar(select(Policy).where(Policy.code == code))
        policy.is_public = False
        session.commit()
    try:
        client = anonymous(baro_app)
        assert client.get(f"/barometre/politiques/{code}").status_code == 404
        assert code not in text_of(client.get("/barometre/donnees/politiques.csv"))
    finally:
        with baro_app.app_context():
            session = db_session()
            session.scalar(select(Policy).where(Policy.code == code)).is_public = True
            session.commit()
    assert anonymous(baro_app).get(f"/barometre/politiques/{code}").status_code == 200


# --------------------------------------------------------------------------- the publication page
@pytest.mark.parametrize("role", ["reader", "local_contributor", "territorial_coordinator", "prefect"])
def test_publication_pages_refuse_readers_and_contributors(baro_app, role):
    client = signed_in(baro_app, role)
    assert client.get("/barometre/publications").status_code == 403
    assert client.get("/barometre/publications/CH-101").status_code == 403
    assert client.post("/barometre/publications/CH-101", data={"action": "publish", "expected": "1"}).status_code == 403
    assert client.post("/barometre/publications/CH-101", data={"action": "withdraw", "expected": "1"}).status_code == 403
    assert "Publication du baromètre" not in text_of(client.get("/barometre/"))


def test_publication_pages_send_anonymous_visitors_to_sign_in(baro_app):
    client = anonymous(baro_app)
    for url in ("/barometre/publications", "/barometre/publications/CH-101"):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion?next=" in response.location
    response = client.post("/barometre/publications/CH-101", data={"action": "publish", "expected": "1"})
    assert response.status_code == 302 and "/connexion" in response.location


def test_ministry_referent_publishes_only_its_own_policies(baro_app):
    client = signed_in(baro_app, "ministry_referent")  # MIN-ECOLOGIE: CH-2xx
    page = text_of(client.get("/barometre/publications"))
    assert "CH-201" in page and "CH-101" not in page
    assert client.get("/barometre/publications/CH-201").status_code == 200
    assert client.get("/barometre/publications/CH-101").status_code == 403
    assert client.post("/barometre/publications/CH-101", data={"action": "publish", "expected": "1"}).status_code == 403


def test_publication_page_lists_drafts_and_shows_the_difference(baro_app):
    client = signed_in(baro_app, "central_steering")
    page = text_of(client.get("/barometre/publications"))
    assert "Brouillon : jamais publiée" in page and "Publiée le" in page
    assert "Des données ont été saisies : à republier" in page  # CH-101 got a value since
    page = text_of(client.get("/barometre/publications/CH-101"))
    assert "Différences avec la dernière publication" in page
    assert "Nombre d&#39;entrées en apprentissage" in page and "valeur actuelle :" in page
    assert "987654" in squeezed(page)  # the referent sees what would be published


def test_a_stale_form_is_a_conflict_not_an_overwrite(baro_app):
    from core.api import db_session
    from plugins.barometre.models import Publication

    client = signed_in(baro_app, "central_steering")
    with baro_app.app_context():
        before = db_session().scalar(select(func.count(Publication.id)))
    response = client.post("/barometre/publications/CH-101",
                           data={"action": "publish", "expected": "0", "note": "ma note"})
    assert response.status_code == 409
    page = text_of(response)
    assert "Quelqu&#39;un a publié ou retiré cette politique" in page and "ma note" in page
    response = client.post("/barometre/publications/CH-101", data={"action": "publish", "expected": "x"})
    assert response.status_code == 400
    with baro_app.app_context():
        assert db_session().scalar(select(func.count(Publication.id))) == before


def test_a_private_policy_cannot_be_published(baro_app):
    client = signed_in(baro_app, "central_steering")
    response = client.post("/barometre/publications/CH-104", data={"action": "publish", "expected": "0"})
    assert response.status_code == 409
    assert "CH-104" not in current(baro_app)


# --------------------------------------------------------------------------- writes (run last)
def test_publishing_freezes_the_new_figures_and_is_audited(baro_app):
    """Changes the module's app: CH-101 is published again with the late value."""
    from core.api import AuditEntry, db_session

    client = signed_in(baro_app, "central_steering")
    number = current(baro_app)["CH-101"].number
    response = client.post("/barometre/publications/CH-101",
                           data={"action": "publish", "expected": str(number), "note": "Données d'octobre"})
    assert response.status_code == 302
    assert current(baro_app)["CH-101"].number == number + 1
    assert str(LATE_VALUE) in squeezed(text_of(anonymous(baro_app).get("/barometre/politiques/CH-101")))
    page = text_of(client.get("/barometre/publications/CH-101"))
    assert "Aucune différence" in page and "Données d&#39;octobre" in page
    with baro_app.app_context():
        entry = db_session().scalar(select(AuditEntry).where(AuditEntry.entity == "barometre_publication")
                                    .order_by(AuditEntry.id.desc()).limit(1))
        assert entry.action == "insert" and entry.actor_label == "central_steering@demo.pilote.example"
        assert entry.changes["status"] == "published" and entry.changes["number"] == number + 1


def test_withdrawing_removes_the_policy_from_pages_and_downloads(baro_app):
    """Changes the module's app: CH-102 is withdrawn."""
    client = signed_in(baro_app, "central_steering")
    assert "CH-102" in current(baro_app)
    name = current(baro_app)["CH-102"].content["policy"]["name"].replace("'", "&#39;")
    number = current(baro_app)["CH-102"].number
    response = client.post("/barometre/publications/CH-102", data={"action": "withdraw", "expected": str(number)})
    assert response.status_code == 302
    assert "CH-102" not in current(baro_app)
    public = anonymous(baro_app)
    assert public.get("/barometre/politiques/CH-102").status_code == 404
    assert name not in text_of(public.get("/barometre/"))
    assert "CH-102" not in text_of(public.get("/barometre/donnees/politiques.csv"))
    # withdrawing twice is refused, clearly
    response = client.post("/barometre/publications/CH-102", data={"action": "withdraw", "expected": str(number + 1)})
    assert response.status_code == 409
