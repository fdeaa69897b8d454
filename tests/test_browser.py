"""The reference instance in a real headless Chromium: navigation, sign-in, accessibility (axe)."""

import json

import pytest
from core.testing.pytest_plugin import AXE, axe_violations, sign_in

pytestmark = pytest.mark.browser


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


def test_filter_the_dashboard_then_open_a_policy_a_territory_and_an_indicator(page, live_server):
    sign_in(page, live_server, "central_steering@demo.pilote.example")
    rows = page.locator("table.policies-table tbody tr")
    everything = rows.count()
    page.get_by_label("Ministère").select_option("MIN-ECOLOGIE")
    page.get_by_label("Trier par").select_option("progress")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**ministere=MIN-ECOLOGIE**")
    page.wait_for_load_state()
    assert "ministere=MIN-ECOLOGIE" in page.url and "tri=progress" in page.url
    assert 0 < rows.count() < everything
    export = page.get_by_role("link", name="CSV")
    assert "ministere=MIN-ECOLOGIE" in export.get_attribute("href")
    page.get_by_label("Territoire", exact=True).select_option("department-69")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url("**territoire=department-69**")
    page.wait_for_load_state()
    first = rows.first.locator("th a")
    name = first.inner_text()
    first.click()
    page.wait_for_url("**/politiques/**")
    assert page.locator("h1").inner_text() == name
    assert page.locator("table.territories-table tbody tr").count() >= 1
    page.locator("article.indicator h3 a").first.click()
    page.wait_for_url("**/indicateurs/**")
    assert page.get_by_role("heading", name="Historique des valeurs").count() == 1
    assert "Périodicité" in page.locator("main").inner_text()
    page.goto(live_server + "/territoires/department/69")
    assert page.locator("h1").inner_text() == "Rhône"
    statuses = page.locator("table.territory-table [data-status]")
    assert statuses.count() >= 1
    # colour is never alone: every status badge carries words
    assert all(len(t.strip()) > 3 for t in statuses.all_inner_texts())


STEERING_PAGES = [
    "/?territoire=department-69&tri=progress",
    "/politiques/CH-101?territoire=department-69",
    "/territoires/department/69",
    "/indicateurs/IND-1011?territoire=department-69",
    "/completude?territoire=region-84",
    "/completude/mes-saisies",
    "/territoires/region/84/feuille-de-route",
    "/territoires/region/84/projets/nouveau",
]


@pytest.mark.parametrize("path", STEERING_PAGES)
def test_steering_pages_have_no_serious_accessibility_violations(browser, live_server, path):
    page = browser.new_context(locale="fr-FR", bypass_csp=True).new_page()
    sign_in(page, live_server, "territorial_coordinator@demo.pilote.example")
    response = page.goto(live_server + path)
    assert response.status == 200
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    serious = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, ensure_ascii=False, indent=1)
