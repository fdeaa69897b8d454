"""The datapass pages in a real headless Chromium: a request sent through the form, and axe-core
(WCAG 2.1 AA) on the request form, the request page and the administrators' page."""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid

import pytest

from core.testing.pytest_plugin import DEMO_TODAY, seed_demo
from core.testing.pytest_plugin import axe_violations
from test_datapass import SECRET, habilitation, instance_with_datapass, sign

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def dp_server(database_factory, tmp_path_factory):
    """A seeded app with a webhook secret, served on a free localhost port."""
    from werkzeug.serving import make_server

    from core.app import create_app

    path = instance_with_datapass(tmp_path_factory.mktemp("dpb"), f'webhook_secret = "{SECRET}"\n')
    app = create_app(path, settings={
        "DATABASE_URL": database_factory.new(), "SECRET_KEY": uuid.uuid4().hex, "TESTING": True,
        "PILOTE_TODAY": DEMO_TODAY.isoformat(),
    })
    with app.app_context():
        seed_demo(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["pilote"].db.dispose()


def audit_page(browser, base: str, email: str):
    # The strict CSP (no inline script) is kept for users; only this audit context bypasses it.
    page = browser.new_context(locale="fr-FR", bypass_csp=True).new_page()
    page.goto(f"{base}/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill("pilote-demo")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base}/")
    return page


def test_request_form_is_accessible_and_sends_a_request(browser, dp_server):
    page = audit_page(browser, dp_server, "reader@demo.pilote.example")
    page.get_by_role("link", name="Mes habilitations").click()
    assert page.locator("h1").inner_text() == "Mes habilitations"
    assert axe_violations(page) == []
    page.get_by_role("link", name="Demander une habilitation").click()
    assert page.locator("h1").inner_text() == "Demander une habilitation"
    assert axe_violations(page) == []
    page.get_by_label("Profil demandé").select_option("local_contributor")
    page.get_by_label("Territoires").select_option(["department-69"])
    page.get_by_label("Politiques").select_option(["CH-101"])
    page.get_by_label("Justification").fill("Je saisis les indicateurs du Rhône pour la préfecture.")
    page.get_by_role("button", name="Envoyer la demande").click()
    assert "Demande d'habilitation" in page.locator("h1").inner_text()
    assert "soumise" in page.locator("main").inner_text().lower()  # a badge: capitals in CSS
    assert axe_violations(page) == []
    # a refused form keeps what was typed and says where the problem is
    page.goto(f"{dp_server}/datapass/demandes/nouvelle")
    page.get_by_label("Justification").fill("court")
    page.get_by_role("button", name="Envoyer la demande").click()
    assert page.get_by_label("Justification").input_value() == "court"
    assert "Entre 20 et 5 000 caractères." in page.locator("main").inner_text()
    assert axe_violations(page) == []


def test_admin_page_lists_deliveries_and_is_accessible(browser, dp_server):
    body = json.dumps(habilitation()).encode()
    request = urllib.request.Request(f"{dp_server}/datapass/webhook", data=body, method="POST", headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        token_id = json.loads(response.read())["token_id"]
    page = audit_page(browser, dp_server, "admin@demo.pilote.example")
    page.goto(f"{dp_server}/datapass/")
    table = page.locator("table.datapass-deliveries")
    assert token_id in table.inner_text()
    page.get_by_label("Résultat").select_option("granted")
    page.get_by_role("button", name="Filtrer").click()
    assert "resultat=granted" in page.url and table.locator("tbody tr").count() >= 1
    assert axe_violations(page) == []
    page.get_by_role("link", name="Instruction des demandes").click()
    assert page.locator("h1").inner_text() == "Instruction des demandes"
    assert axe_violations(page) == []
