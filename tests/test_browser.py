"""The reference instance in a real headless Chromium: navigation, sign-in, accessibility (axe)."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    return [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]


def sign_in(page, live_server, email):
    page.goto(f"{live_server}/connexion")
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe").fill("pilote-demo")
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{live_server}/")


def test_home_page_lists_policies_for_anonymous_visitors(page, live_server):
    page.goto(live_server + "/")
    assert page.locator("h1").count() == 1
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.locator("table.policies-table tbody tr").count() >= 1


def test_sign_in_then_browse_to_a_policy_and_back(page, live_server, tmp_path):
    sign_in(page, live_server, "central_steering@demo.pilote.example")
    rows = page.locator("table.policies-table tbody tr")
    assert rows.count() >= 15
    page.get_by_label("Territoire").select_option("region-84")
    page.get_by_role("button", name="Filtrer").click()
    assert "Auvergne-Rhône-Alpes" in page.locator("h1").inner_text()
    first = rows.first.locator("th a")
    name = first.inner_text()
    first.click()
    assert page.locator("h1").inner_text() == name
    assert page.locator("article.indicator").count() >= 2
    page.screenshot(path=str(tmp_path / "policy.png"), full_page=True)
    page.get_by_role("link", name="Tableau de bord").first.click()
    assert page.locator("table.policies-table").count() == 1


def test_skip_link_reaches_the_content_with_the_keyboard(page, live_server):
    page.goto(live_server + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"


@pytest.mark.parametrize("path,login_as", [
    ("/", None),
    ("/connexion", None),
    ("/", "central_steering@demo.pilote.example"),
    ("/politiques/{code}?territoire=department-69", "central_steering@demo.pilote.example"),
    ("/?lang=en", None),
])
def test_pages_have_no_wcag_aa_violations(browser, live_server, path, login_as, demo_app):
    # The strict CSP (no inline script) is kept for users; only this audit context bypasses it.
    page = browser.new_context(locale="fr-FR", bypass_csp=True).new_page()
    if login_as:
        sign_in(page, live_server, login_as)
    if "{code}" in path:
        from sqlalchemy import select

        from core.api import Policy, PolicyStatus, db_session

        with demo_app.app_context():
            code = db_session().scalar(select(Policy.code).where(Policy.status == PolicyStatus.PUBLISHED)
                                       .order_by(Policy.code))
        path = path.format(code=code)
    page.goto(live_server + path)
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
