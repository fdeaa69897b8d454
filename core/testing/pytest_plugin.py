"""Pytest fixtures for Pilote and its plugins (registered through the ``pytest11`` entry point).

Databases: SQLite by default; set ``PILOTE_TEST_DATABASE_URL`` to a PostgreSQL server URL
(``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) to run the same tests there. Every
app gets its own fresh database, cloned from a template that holds the schema.

Markers: ``@pytest.mark.instance("ditp")``, ``@pytest.mark.plugins("visualisation", …)``,
``@pytest.mark.settings(KEY=value)`` shape the ``app`` fixture.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEMO_TODAY = dt.date(2026, 11, 1)
DEMO_PASSWORD = "pilote-demo"
_counter = itertools.count()


def database_kind() -> str:
    url = os.environ.get("PILOTE_TEST_DATABASE_URL", "")
    return "postgresql" if url.startswith("postgresql") else "sqlite"


class DatabaseFactory:
    """Hands out fresh, empty-but-migrated databases cloned from one template."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self.server_url = os.environ.get("PILOTE_TEST_DATABASE_URL")
        self.created: list[str] = []
        self.template: str | None = None

    def _admin_engine(self):
        return create_engine(make_url(self.server_url).set(database="postgres"),
                             isolation_level="AUTOCOMMIT")

    def _build_schema(self, url: str) -> None:
        from core.db import Model, make_engine
        from core.migrate import import_all_models

        import_all_models()
        engine = make_engine(url)
        Model.metadata.create_all(engine)
        engine.dispose()

    def new(self) -> str:
        n = next(_counter)
        if not self.server_url:
            template = self.tmp_dir / "template.sqlite3"
            if not template.exists():
                self._build_schema(f"sqlite:///{template}")
            path = self.tmp_dir / f"db{n}.sqlite3"
            shutil.copy(template, path)
            return f"sqlite:///{path}"
        admin = self._admin_engine()
        prefix = f"pilote_test_{os.getpid()}"
        if self.template is None:
            self.template = f"{prefix}_template"
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.template}"'))
                conn.execute(text(f'CREATE DATABASE "{self.template}"'))
            self.created.append(self.template)
            self._build_schema(str(make_url(self.server_url).set(database=self.template)))
        name = f"{prefix}_{n}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        admin.dispose()
        self.created.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def clone(self, url: str) -> str:
        """A new database holding a copy of ``url``'s (whose connections must all be closed)."""
        n = next(_counter)
        if not self.server_url:
            source = url.removeprefix("sqlite:///")
            target = str(self.tmp_dir / f"db{n}.sqlite3")
            shutil.copy(source, target)
            return f"sqlite:///{target}"
        source = make_url(url).database
        name = f"pilote_test_{os.getpid()}_{n}"
        admin = self._admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        admin.dispose()
        self.created.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.server_url or not self.created:
            return
        admin = self._admin_engine()
        with admin.connect() as conn:
            for name in reversed(self.created):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


def _marker_args(request, name):
    marker = request.node.get_closest_marker(name)
    return marker if marker is not None else None


@pytest.fixture
def make_app(database_factory, tmp_path):
    """``make_app(instance="ditp", plugins=None, settings=None, extra_plugins=())`` → a Flask
    app on a fresh database. ``plugins`` replaces the instance's enabled list (in that order)."""
    apps = []

    def factory(instance: str | os.PathLike = "ditp", plugins: list[str] | None = None,
                settings: dict[str, Any] | None = None, extra_plugins=()):
        from core.app import create_app

        path = _instance_path(instance, plugins, tmp_path)
        merged = {"DATABASE_URL": database_factory.new(), "SECRET_KEY": uuid.uuid4().hex,
                  "TESTING": True, "WTF_CSRF_ENABLED": False, "PILOTE_TODAY": DEMO_TODAY.isoformat()}
        merged.update(settings or {})
        app = create_app(path, settings=merged, extra_plugins=extra_plugins)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["pilote"].db.dispose()


def _instance_path(instance, plugins, tmp_path: Path):
    """The instance folder, or a copy with another ``[plugins] enabled`` list."""
    from core.config import resolve_instance_path

    source = resolve_instance_path(instance)
    if plugins is None:
        return source
    import tomllib

    import tomli_w

    data = tomllib.loads(source.read_text(encoding="utf-8"))
    data.setdefault("plugins", {})["enabled"] = list(plugins)
    for name in [k for k in data["plugins"] if k != "enabled" and k not in plugins]:
        del data["plugins"][name]
    target = tmp_path / f"instance-{next(_counter)}" / source.parent.name
    shutil.copytree(source.parent, target)
    (target / "instance.toml").write_bytes(tomli_w.dumps(data).encode())
    return target / "instance.toml"


@pytest.fixture
def app(request, make_app):
    """The app of ``@pytest.mark.instance`` (default ``ditp``) with reference territories."""
    instance = request.node.get_closest_marker("instance")
    plugins = request.node.get_closest_marker("plugins")
    settings = request.node.get_closest_marker("settings")
    application = make_app(
        instance.args[0] if instance else "ditp",
        plugins=list(plugins.args) if plugins else None,
        settings=dict(settings.kwargs) if settings else None,
    )
    with application.app_context():
        seed_reference(application)
    return application


@pytest.fixture
def client(app):
    return app.test_client()


def seed_reference(app) -> None:
    """Load the instance's reference territories into the app's database."""
    from core.db import session as db_session
    from core.seed.reference import load_reference_territories

    for grid in app.extensions["pilote"].config.grids:
        if grid["reference"] == "cog":
            load_reference_territories(db_session(), [lvl["key"] for lvl in grid["levels"]],
                                       grid=grid["key"])
    db_session().commit()


def values_checksum(session) -> str:
    """A digest of every stored value: (indicator, territory, kind, scope, date, value), so
    tests can prove that a generator is deterministic."""
    import hashlib

    from sqlalchemy import select

    from core.models import Indicator, IndicatorValue, Territory

    rows = session.execute(
        select(Indicator.code, Territory.level, Territory.code, IndicatorValue.kind,
               IndicatorValue.target_scope, IndicatorValue.date, IndicatorValue.value)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .join(Territory, Territory.id == IndicatorValue.territory_id)
    ).all()
    lines = sorted("|".join(str(x) for x in row) for row in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def seed_demo(app, today: dt.date = DEMO_TODAY) -> dict[str, int]:
    from core.db import session as db_session
    from core.seed.demo import load_demo

    config = app.extensions["pilote"].config
    seed_reference(app)
    counts = load_demo(db_session(), config.dir / config.data["seed"]["demo"], today=today,
                       demo_password=DEMO_PASSWORD)
    from core.engine.recompute import recompute

    recompute(db_session(), today=today)
    db_session().commit()
    return counts


@pytest.fixture(scope="session")
def demo_app(database_factory):
    """A DITP app seeded once with the demo data. Read-only: tests must not write to it."""
    from core.app import create_app

    app = create_app("ditp", settings={
        "DATABASE_URL": database_factory.new(), "SECRET_KEY": uuid.uuid4().hex, "TESTING": True,
        "PILOTE_TODAY": DEMO_TODAY.isoformat(),
    })
    with app.app_context():
        seed_demo(app)
    yield app
    app.extensions["pilote"].db.dispose()


def login(client, email: str, password: str = DEMO_PASSWORD):
    """Sign in through the real form (fetches the CSRF token from the page)."""
    import re

    page = client.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"email": email, "password": password}
    if token:
        data["csrf_token"] = token.group(1)
    return client.post("/connexion", data=data)


@pytest.fixture
def smtp_server():
    """A real local SMTP server (aiosmtpd) accepting pilote/smtp-pass: (controller, inbox)."""
    from core.testing.support import start_smtp_server

    controller, inbox = start_smtp_server()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def demo_client(demo_app):
    return demo_app.test_client()


@pytest.fixture(scope="session")
def live_server(demo_app):
    """The demo app served on a free localhost port in a background thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[tuple]:
    """WCAG 2.1 A/AA violations axe-core finds on ``page`` (skips when axe-core is not installed)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


def sign_in(page, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form in the browser and wait for the home page."""
    page.goto(f"{base_url}/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base_url}/")


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (skipped, visibly, if not installed)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    yield page
    context.close()


def pytest_runtest_teardown(item, nextitem):
    """Collect garbage between tests when the CPython 3.11 guard holds automatic GC off."""
    from core.gc_guard import collect_if_due

    collect_if_due()


def pytest_configure(config):
    config.addinivalue_line("markers", "instance(slug): instance of the app fixture")
    config.addinivalue_line("markers", "plugins(*names): enabled plugins of the app fixture")
    config.addinivalue_line("markers", "settings(**values): configuration overrides of the app fixture")
    config.addinivalue_line("markers", "browser: drives a real headless Chromium")


def pytest_report_header(config):
    return f"pilote test database: {database_kind()}"
