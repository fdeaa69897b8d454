"""A campaign in a real headless Chromium: opened through the form, its live page, closed, the
frozen snapshot — each page checked with axe-core (WCAG 2.1 AA). A writable copy of the demo."""

from __future__ import annotations

import json
import threading

import pytest

from core.testing.pytest_plugin import axe_violations
from core.testing.support import email, seeded_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(database_factory):
    from werkzeug.serving import make_server

    app = seeded_app(database_factory, WTF_CSRF_ENABLED=True)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    app.extensions["pilote"].db.dispose()


def test_open_follow_and_close_a_campaign(browser, server):
    page = browser.new_context(locale="fr-FR", bypass_csp=True).new_page()  # bypass: axe is injected
    page.goto(f"{server}/connexion")
    page.get_by_label("Adresse électronique").fill(email("central_steering"))
    page.get_by_label("Mot de passe").fill("pilote-demo")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{server}/")
    page.get_by_role("link", name="Campagnes", exact=True).first.click()
    page.wait_for_url(f"{server}/campagnes")
    page.get_by_role("link", name="Ouvrir une campagne").click()
    page.wait_for_url(f"{server}/campagnes/nouvelle")
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
    page.get_by_label("Intitulé").fill("Revue avant la réunion interministérielle")
    page.get_by_label("Type de campagne").select_option("one_off")
    page.locator("input[name=policies]").first.check()
    page.get_by_label("Échéance — Département").fill("2026-10-28")
    page.get_by_label("Échéance — Région").fill("2026-10-30")
    page.get_by_role("button", name="Ouvrir la campagne").click()
    page.wait_for_url(f"{server}/campagnes/2026-*")
    assert "Complétude en direct" in page.content()
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
    page.get_by_role("button", name="Clôturer la campagne et figer les chiffres").click()
    page.get_by_role("heading", name="Chiffres figés à la clôture").wait_for()
    assert page.locator("#campaign-citation").inner_text().startswith("À citer")
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
