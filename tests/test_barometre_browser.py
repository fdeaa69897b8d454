"""The public barometer in a real headless Chromium: accessibility (axe-core, WCAG 2.1 AA) of the
overview, a policy page and a territory page with the DSFR and the base themes, and embedding in
an iframe of another site (allowed for the embedded mode only)."""

from __future__ import annotations

import shutil
import threading
import uuid

import pytest

from core.testing.pytest_plugin import DEMO_TODAY, axe_violations, seed_demo

pytestmark = pytest.mark.browser
PAGES = ["/barometre/", "/barometre/politiques/{code}?territoire=department-69",
         "/barometre/territoires/department/69", "/barometre/?embed=1"]


@pytest.fixture(scope="module", params=["dsfr", "base"])
def baro_server(request, database_factory, tmp_path_factory):
    """The DITP demo with its barometer publications, in the given theme, served on 127.0.0.1."""
    from werkzeug.serving import make_server

    from core.api import db_session
    from core.app import create_app
    from core.config import INSTANCES_DIR

    folder = tmp_path_factory.mktemp("instances") / "ditp"
    shutil.copytree(INSTANCES_DIR / "ditp", folder)
    toml = folder / "instance.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('name = "dsfr"', f'name = "{request.param}"'),
                    encoding="utf-8")
    app = create_app(folder, settings={
        "DATABASE_URL": database_factory.new(), "SECRET_KEY": uuid.uuid4().hex, "TESTING": True,
        "PILOTE_TODAY": DEMO_TODAY.isoformat(),
    })
    assert app.extensions["pilote"].config.theme == request.param
    with app.app_context():
        seed_demo(app)
        app.extensions["pilote"].pm.hook.seed_data(session=db_session(), config=app.extensions["pilote"].config,
                                                   profile="demo")
        db_session().commit()
        from plugins.barometre.snapshot import current_publications

        code = current_publications(db_session())[0].content["policy"]["code"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", code, request.param
    server.shutdown()
    app.extensions["pilote"].db.dispose()


@pytest.mark.parametrize("path", PAGES)
def test_barometre_pages_have_no_wcag_aa_violations(browser, baro_server, path):
    base, code, theme = baro_server
    # The strict CSP (no inline script) is kept for users; only this audit context bypasses it.
    context = browser.new_context(locale="fr-FR", bypass_csp=True)
    page = context.new_page()
    response = page.goto(base + path.format(code=code))
    assert response.status == 200
    assert page.locator("h1").count() == 1
    assert page.locator("html").get_attribute("data-theme") == theme
    assert axe_violations(page) == []
    context.close()


def test_barometre_pages_work_with_the_keyboard(browser, baro_server):
    base, code, _theme = baro_server
    page = browser.new_context(locale="fr-FR").new_page()
    page.goto(base + "/barometre/")
    page.get_by_label("Territoire").select_option("department-69")
    page.get_by_role("button", name="Filtrer").press("Enter")
    page.wait_for_url("**territoire=department-69**")
    assert "Rhône" in page.locator("h1").inner_text()
    link = page.locator("table.barometre-table tbody th a").first
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/barometre/politiques/**")
    assert page.locator("article.indicator").count() >= 1
    page.context.close()


def test_only_the_embedded_mode_can_be_framed_by_another_site(browser, baro_server):
    """Another site (another origin: another port on this machine, as Chromium refuses public
    origins framing loopback addresses) frames an embedded page and a normal one."""
    from werkzeug.serving import make_server

    base, code, _theme = baro_server
    embedded = f"{base}/barometre/politiques/{code}?embed=1"
    framed = f"{base}/barometre/politiques/{code}"
    html = (f'<!doctype html><title>Autre site</title><iframe id="ok" title="ok" src="{embedded}"></iframe>'
            f'<iframe id="no" title="no" src="{framed}"></iframe>').encode()

    def other_site(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [html]

    other = make_server("127.0.0.1", 0, other_site)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    page = browser.new_context(locale="fr-FR").new_page()
    try:
        page.goto(f"http://127.0.0.1:{other.server_port}/")
        ok = page.frame_locator("#ok").locator("h1")
        ok.wait_for(timeout=20000)
        assert ok.inner_text()
        assert page.frame_locator("#ok").locator(".barometre-embed").count() == 2  # minimal chrome
        page.wait_for_timeout(1000)
        urls = [f.url for f in page.frames if f.parent_frame]
        assert urls.count(embedded) == 1
        assert [u for u in urls if u != embedded] == ["chrome-error://chromewebdata/"]  # refused
    finally:
        page.context.close()
        other.shutdown()
