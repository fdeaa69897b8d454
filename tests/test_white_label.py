"""White label: themes × instances × core pages, wording per instance, derived grids, scaffolding."""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.config import INSTANCES_DIR, THEMES_DIR
from core.themes import load_theme, theme_chain

INSTANCES = sorted(p.parent.name for p in INSTANCES_DIR.glob("*/instance.toml"))
THEMES = sorted(p.parent.name for p in THEMES_DIR.glob("*/theme.toml"))
COG = Path(__file__).resolve().parents[1] / "node_modules" / "@etalab" / "decoupage-administratif" / "data"
DSFR_MARKERS = ("fr-header", "fr-logo", "dsfr.min.css", "Marianne", "République<br>Française")
HOME_WORDING = {
    "ditp": {"fr": "Politiques prioritaires", "en": "Priority policies"},
    "anct": {"fr": "Contrats", "en": "Contracts"},
    "gendarmerie": {"fr": "Priorités opérationnelles", "en": "Operational priorities"},
}


def with_theme(tmp_path, slug: str, theme: str) -> Path:
    """A copy of an instance folder using another theme."""
    import shutil

    target = tmp_path / f"{slug}-{theme}" / slug
    shutil.copytree(INSTANCES_DIR / slug, target)
    path = target / "instance.toml"
    text = path.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^(\[theme\]\n(?:#.*\n)*)name = "[^"]+"', rf'\1name = "{theme}"', text, count=1)
    assert n == 1
    path.write_text(text, encoding="utf-8")
    return path


def serve_theme_sources(monkeypatch):
    """Until core/views/assets.py serves every ``Theme.static_dirs``, serve them here."""

    from core.views import assets

    if "static_dirs" not in assets._roots.__code__.co_names:
        original = assets._roots

        def roots(kind, owner=None):
            if kind == "theme":
                from flask import current_app

                return [d for t in current_app.extensions["pilote"].themes for d in t.static_dirs]
            return original(kind, owner)

        monkeypatch.setattr(assets, "_roots", roots)


@pytest.fixture(scope="module")
def seeded(database_factory):
    """One app per instance, demo data loaded once (read-only)."""
    from core.app import create_app
    from core.testing.pytest_plugin import DEMO_TODAY, seed_demo

    apps = {}
    for slug in INSTANCES:
        app = create_app(slug, settings={"DATABASE_URL": database_factory.new(), "SECRET_KEY": "x" * 32,
                                         "TESTING": True, "PILOTE_TODAY": DEMO_TODAY.isoformat()})
        with app.app_context():
            seed_demo(app)
        apps[slug] = app
    yield apps
    for app in apps.values():
        app.extensions["pilote"].db.dispose()


# -- themes ------------------------------------------------------------------------------------

def test_dsfr_theme_is_state_only_and_extends_base():
    dsfr = load_theme("dsfr")
    assert dsfr.state_only and dsfr.extends == "base"
    assert [t.name for t in theme_chain("gendarmerie")] == ["gendarmerie", "dsfr", "base"]
    assert not load_theme("base").state_only and not load_theme("anct").state_only


def test_dsfr_assets_come_from_the_pinned_npm_package():
    package = json.loads((THEMES_DIR.parent / "package.json").read_text())
    assert package["dependencies"]["@gouvfr/dsfr"] == "1.14.4"
    dist = load_theme("dsfr").static_dirs[-1]
    assert dist.parts[-4:] == ("node_modules", "@gouvfr", "dsfr", "dist")
    for needed in ("dsfr.min.css", "utility/icons/icons.min.css", "dsfr.module.min.js",
                   "favicon/favicon.svg", "fonts/Marianne-Regular.woff2"):
        assert (dist / needed).is_file(), needed
    # nothing of the DSFR dist is copied into the repository
    assert not list((THEMES_DIR / "dsfr").rglob("*.woff2")) and not list(THEMES_DIR.rglob("dsfr.min.css"))


def test_theme_templates_keep_the_base_macros_and_blocks():
    base = load_theme("base").templates
    macros = set(re.findall(r"{% macro (\w+\([^)]*\))", (base / "components/ui.html").read_text()))
    blocks = set(re.findall(r"{% block (\w+)", (base / "layout/base.html").read_text()))
    for name in THEMES:
        theme = load_theme(name)
        ui = theme.templates / "components" / "ui.html"
        if ui.is_file():
            assert macros <= set(re.findall(r"{% macro (\w+\([^)]*\))", ui.read_text())), name
        layout = theme.templates / "layout" / "base.html"
        if layout.is_file():
            assert blocks <= set(re.findall(r"{% block (\w+)", layout.read_text())), name


def test_marianne_and_state_logo_only_in_dsfr_themes():
    for path in (THEMES_DIR / "base").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "Marianne" not in text and "fr-logo" not in text and "dsfr" not in text.lower(), path
    assert not (THEMES_DIR / "anct" / "templates").exists()


@pytest.mark.parametrize("slug", INSTANCES)
@pytest.mark.parametrize("theme", THEMES)
def test_every_theme_renders_every_core_page_of_every_instance(make_app, tmp_path, monkeypatch, slug, theme):
    import gc
    from core.testing.pytest_plugin import seed_reference

    gc.collect()
    serve_theme_sources(monkeypatch)
    app = make_app(with_theme(tmp_path, slug, theme))
    with app.app_context():
        seed_reference(app)
    client = app.test_client()
    chain = [t.name for t in app.extensions["pilote"].themes]
    home = client.get("/")
    assert home.status_code == 200
    pages = {"/": home, "/connexion": client.get("/connexion"), "/nope": client.get("/pas-de-page-ici")}
    assert pages["/connexion"].status_code == 200 and pages["/nope"].status_code == 404
    for url, response in pages.items():
        html = response.get_data(as_text=True)
        assert f'data-theme="{theme}"' in html, url
        state = "dsfr" in chain
        assert all((marker in html) == state for marker in ("fr-header", "fr-logo", "dsfr.min.css")), url
        if not state:
            assert not any(marker in html for marker in DSFR_MARKERS), url
    if "dsfr" in chain:
        css = re.search(r'href="(/static/theme/dsfr\.min\.css\?v=[0-9a-f]+)"', home.get_data(as_text=True))
        assert css and client.get(css.group(1)).status_code == 200
        assert client.get("/static/theme/utility/icons/icons.min.css").status_code == 200
        assert client.get("/static/theme/fonts/Marianne-Regular.woff2").status_code == 200
    else:
        assert client.get("/static/theme/dsfr.min.css").status_code == 404


@pytest.mark.parametrize("slug", INSTANCES)
def test_policy_page_and_error_page_render_with_the_instance_theme(seeded, monkeypatch, slug):
    serve_theme_sources(monkeypatch)
    app = seeded[slug]
    client = app.test_client()
    from core.testing.pytest_plugin import login

    login(client, "central_steering@demo.pilote.example")
    html = client.get("/").get_data(as_text=True)
    link = re.search(r'<th scope="row">\s*<a href="([^"]+)"', html)
    assert link, "no policy link on the home page"
    link = link.group(1).replace("&amp;", "&")
    page = client.get(link)
    assert page.status_code == 200
    assert f'data-theme="{app.extensions["pilote"].theme.name}"' in page.get_data(as_text=True)
    assert client.get("/pas-de-page-ici").status_code == 404


def test_dsfr_is_used_only_by_the_instances_choosing_it():
    from core.config import load_instance_config

    themes = {slug: load_instance_config(slug).theme for slug in INSTANCES}
    assert themes["ditp"] == "dsfr" and themes["gendarmerie"] == "gendarmerie" and themes["anct"] == "anct"
    for slug, theme in themes.items():
        assert ("dsfr" in [t.name for t in theme_chain(theme)]) == (slug in {"ditp", "gendarmerie"})


# -- wording -----------------------------------------------------------------------------------

@pytest.mark.parametrize("slug", sorted(HOME_WORDING))
@pytest.mark.parametrize("locale", ["fr", "en"])
def test_each_instance_home_shows_its_own_wording(seeded, slug, locale):
    client = seeded[slug].test_client()
    html = client.get(f"/?lang={locale}").get_data(as_text=True)
    h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)
    assert h1.strip().startswith(HOME_WORDING[slug][locale]), h1
    others = {w[locale] for s, w in HOME_WORDING.items() if s != slug}
    assert not any(h1.strip().startswith(o) for o in others)


def test_toml_wording_wins_over_the_catalogs(tmp_path, make_app):
    import shutil

    target = tmp_path / "anct"
    shutil.copytree(INSTANCES_DIR / "anct", target)
    path = target / "instance.toml"
    path.write_text(path.read_text(encoding="utf-8") + '\n[wording.fr]\npolicies = "conventions"\n',
                    encoding="utf-8")
    app = make_app(path)
    with app.test_request_context("/?lang=fr"):
        from core.templating import term

        assert term("policies") == "conventions" and term("policy") == "contrat"


# -- grids and demo data -----------------------------------------------------------------------

def level_counts(app):
    from core.db import session as db_session
    from core.models import Territory

    with app.app_context():
        return dict(db_session().execute(
            select(Territory.level, func.count()).where(Territory.valid_to.is_(None)).group_by(Territory.level)
        ).all())


def test_anct_grid(seeded):
    if not (COG / "epci.json").is_file():
        pytest.skip("npm ci not run")
    communes = {c["code"]: c for c in json.loads((COG / "communes.json").read_text())
                if c.get("type") == "commune-actuelle" and c.get("zone") in {"metro", "drom"}}
    epci = [e for e in json.loads((COG / "epci.json").read_text())
            if any(m["code"] in communes for m in e["membres"])]
    # the department holding most of each EPCI's population has its contracts
    homes = set()
    for e in epci:
        weight = Counter()
        for m in e["membres"]:
            if m["code"] in communes:
                weight[communes[m["code"]]["departement"]] += m.get("populationMunicipale") or 0
        homes.add(max(sorted(weight), key=lambda d: weight[d]))
    counts = level_counts(seeded["anct"])
    assert counts["nation"] == 1 and counts["region"] == 18 and counts["department"] == 101
    assert counts["epci"] == len(epci)
    assert 101 <= counts["crte"] <= 4 * 101
    from core.db import session as db_session
    from core.models import Territory

    with seeded["anct"].app_context():
        crtes = db_session().scalars(select(Territory).where(Territory.level == "crte")).all()
        assert all(t.name.startswith("CRTE ") for t in crtes)
        per_dep = Counter(t.code.split("-")[0] for t in crtes)
        assert set(per_dep.values()) <= {1, 2, 3, 4} and set(per_dep) == homes
        assert len(homes) >= 98  # 92, 93, 94: their communes are in the Métropole du Grand Paris


def test_gendarmerie_grid(seeded):
    counts = level_counts(seeded["gendarmerie"])
    assert counts["nation"] == 1 and counts["gendarmerie_region"] == 18
    assert counts["departmental_group"] == 101
    from core.db import session as db_session
    from core.models import Territory

    with seeded["gendarmerie"].app_context():
        companies = db_session().scalars(select(Territory).where(Territory.level == "company")).all()
    per_dep = Counter(t.code.split("-C")[0] for t in companies)
    assert len(per_dep) == 101 and min(per_dep.values()) >= 2 and max(per_dep.values()) <= 6
    assert counts["company"] == len(companies)
    assert all(t.name.startswith("Compagnie de ") for t in companies)


@pytest.mark.parametrize("slug", ["anct", "gendarmerie"])
def test_demo_values_at_every_level(seeded, slug):
    from core.db import session as db_session
    from core.models import IndicatorValue, Territory

    app = seeded[slug]
    levels = [lvl["key"] for lvl in app.extensions["pilote"].config.levels]
    with app.app_context():
        found = set(db_session().scalars(
            select(Territory.level).join(IndicatorValue, IndicatorValue.territory_id == Territory.id).distinct()))
    assert found == set(levels)


def test_gendarmerie_demo_is_deterministic(tmp_path):
    from core.db import Model, make_engine
    from core.seed import load_demo, load_reference_territories
    from sqlalchemy.orm import Session
    from core.testing.pytest_plugin import values_checksum as checksum

    sums = []
    for i in range(2):
        engine = make_engine(f"sqlite:///{tmp_path}/{i}.db")
        Model.metadata.create_all(engine)
        with Session(engine) as s:
            load_reference_territories(s, ["nation", "gendarmerie_region", "departmental_group", "company"],
                                       grid="gendarmerie")
            load_demo(s, INSTANCES_DIR / "gendarmerie" / "seed" / "demo.toml")
            sums.append(checksum(s))
        engine.dispose()
    assert sums[0] == sums[1]


# -- scaffolding -------------------------------------------------------------------------------

def test_scaffolded_instance_boots_at_once(tmp_path, make_app):
    from core.db import session as db_session
    from core.scaffold import ScaffoldError, create_admin, scaffold_instance
    from core.testing.pytest_plugin import login, seed_reference

    path = scaffold_instance("ville-test", name="Pilote Ville", theme="base", admin_email="admin@ville.example",
                             admin_password="un-mot-de-passe-long", target_dir=tmp_path)
    assert path == tmp_path / "ville-test" / "instance.toml" and (path.parent / "README.md").is_file()
    with pytest.raises(ScaffoldError):
        scaffold_instance("ville-test", name="X", admin_email="a@b.c", admin_password="x" * 12,
                          target_dir=tmp_path)
    with pytest.raises(ScaffoldError):
        scaffold_instance("Ville", name="X", admin_email="a@b.c", admin_password="x" * 12, target_dir=tmp_path)
    with pytest.raises(ScaffoldError):
        scaffold_instance("ville2", name="X", theme="nope", admin_email="a@b.c", admin_password="x" * 12,
                          target_dir=tmp_path)
    app = make_app(path)
    with app.app_context():
        seed_reference(app)
        create_admin(db_session(), "admin@ville.example", "Admin", "un-mot-de-passe-long")
        db_session().commit()
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 200 and "Pilote Ville" in response.get_data(as_text=True)
    assert login(client, "admin@ville.example", "un-mot-de-passe-long").status_code in (200, 302)
    assert client.get("/").status_code == 200


def test_scaffold_command_through_the_cli(tmp_path, monkeypatch):
    """The `pilote instance new` command (added to core.cli here if core/cli.py lacks it)."""
    import click
    from click.testing import CliRunner

    import core.cli as cli_module
    from core.scaffold import new_instance_command

    if "new" not in cli_module.instance.commands:
        monkeypatch.setitem(cli_module.instance.commands, "new", new_instance_command)
    result = CliRunner().invoke(cli_module.cli, [
        "instance", "new", "essai", "--name", "Pilote Essai", "--admin-email", "a@essai.example",
        "--admin-password", "un-mot-de-passe-long", "--target-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "essai" / "instance.toml").is_file()
    assert isinstance(new_instance_command, click.Command)
