"""Data entry, dialogue and web import in a real headless Chromium, with axe-core checks.

The app is a writable copy of the demo (not the shared ``demo_app``), served on its own port.
"""

from __future__ import annotations

import threading

import pytest

from core.testing.pytest_plugin import axe_violations
from core.testing.support import email, seeded_app

pytestmark = pytest.mark.browser
POLICY = "/politiques/CH-101?territoire=department-69"


@pytest.fixture(scope="module")
def server(database_factory, tmp_path_factory):
    from werkzeug.serving import make_server

    app = seeded_app(database_factory, WTF_CSRF_ENABLED=True,
                     PILOTE_UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")))
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    app.extensions["pilote"].db.dispose()


@pytest.fixture
def tab(browser):
    context = browser.new_context(locale="fr-FR", bypass_csp=True)  # bypass: axe is injected
    yield context.new_page()
    context.close()


def sign_in(page, server, role):
    page.goto(f"{server}/connexion")
    page.get_by_label("Adresse électronique").fill(email(role))
    page.get_by_label("Mot de passe").fill("pilote-demo")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{server}/")


def test_enter_a_value_on_the_policy_page_and_see_progress_change(tab, server):
    sign_in(tab, server, "local_contributor")
    tab.goto(server + POLICY)
    progress = tab.locator(".progress__value").first
    before = progress.inner_text()
    entry = tab.locator(".entry--value").first.locator("details").first
    entry.locator("summary", has_text="Saisir une valeur").click()
    entry.get_by_label("Date de la valeur").fill("2026-10-01")
    entry.locator("input[name=value]").fill("1600")
    entry.get_by_role("button", name="Enregistrer la valeur").click()
    tab.wait_for_load_state()
    assert "Valeur enregistrée" in tab.locator(".flashes").inner_text()
    assert tab.locator(".progress__value").first.inner_text() != before
    assert "1\u202f600" in tab.locator(".entry--value").first.inner_text()


def test_reply_to_a_comment(tab, server):
    sign_in(tab, server, "local_contributor")
    tab.goto(server + POLICY)
    add = tab.locator(".dialogue > details").first
    add.locator("summary", has_text="Ajouter un commentaire").click()
    add.get_by_label("Commentaire", exact=True).fill("Freins identifiés sur le recrutement")
    add.get_by_role("button", name="Publier le commentaire").click()
    tab.wait_for_load_state()
    assert "Commentaire publié" in tab.locator(".flashes").inner_text()
    thread = tab.locator("article.comment", has_text="Freins identifiés sur le recrutement")
    thread.locator("summary", has_text="Répondre").click()
    thread.get_by_label("Votre réponse").fill("Réponse depuis le navigateur <b>ok</b>")
    thread.get_by_role("button", name="Publier la réponse").click()
    tab.wait_for_load_state()
    assert "Réponse publiée" in tab.locator(".flashes").inner_text()
    assert tab.get_by_text("Réponse depuis le navigateur <b>ok</b>").count() == 1


def test_import_a_file_with_an_error_and_see_the_located_report(tab, server, tmp_path):
    sign_in(tab, server, "local_contributor")
    tab.goto(server + "/imports/")
    csv = tmp_path / "valeurs.csv"
    csv.write_text("identifiant_indic;zone_id;zone_nom;date_valeur;type_valeur;valeur\n"
                   "IND-1011;D69;;2026-10-01;va;12\nIND-1011;D69;;2026-10-02;va;douze\n", encoding="utf-8")
    tab.get_by_label("Fichier (CSV ou XLSX)").set_input_files(str(csv))
    tab.get_by_role("button", name="Vérifier le fichier").click()
    tab.wait_for_load_state()
    table = tab.locator("table.import-problems")
    assert table.count() == 1
    row = table.locator("tbody tr").first
    assert row.locator("th").inner_text() == "3" and "valeur" in row.inner_text()
    assert axe_violations(tab) == []


@pytest.mark.parametrize("path,role", [
    (POLICY, "local_contributor"),
    ("/saisie/indicateurs/IND-1011?territoire=department-69", "local_contributor"),
    ("/imports/", "local_contributor"),
    ("/propositions/", "central_steering"),
    ("/notifications/", "territorial_coordinator"),
    ("/dialogue/politiques/CH-101?periode=tout", "central_steering"),
    ("/admin/catalogue/indicateurs/IND-1011", "central_steering"),
])
def test_data_entry_pages_have_no_wcag_aa_violations(tab, server, path, role):
    sign_in(tab, server, role)
    tab.goto(server + path)
    for summary in tab.locator("details > summary").all()[:6]:
        summary.click()  # check the forms as they are used, open
    assert axe_violations(tab) == []
