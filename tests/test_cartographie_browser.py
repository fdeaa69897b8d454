"""The map page in headless Chromium: accessibility (axe-core), keyboard and hover."""

import json

import pytest
from core.testing.pytest_plugin import axe_violations, sign_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("query", ["", "?mesure=weather&niveau=region"])
def test_map_page_has_no_wcag_aa_violations(browser, live_server, query):
    page = browser.new_context(locale="fr-FR", bypass_csp=True).new_page()
    sign_in(page, live_server, "central_steering@demo.pilote.example")
    page.goto(f"{live_server}/cartographie/{query}")
    assert page.locator("svg.carto-map").count() == 1
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)


def test_territories_are_reached_with_the_keyboard_and_announced_on_hover(page, live_server):
    page.goto(f"{live_server}/cartographie/?niveau=region")
    first = page.locator("svg.carto-map a").first
    first.focus()
    assert page.evaluate("document.activeElement.tagName.toLowerCase()") == "a"
    label = first.get_attribute("aria-label")
    assert page.locator(".carto-live").inner_text() == first.locator("path title").text_content()
    page.locator("svg.carto-map path[data-code='84']").hover()
    assert "Auvergne-Rhône-Alpes" in page.locator(".carto-live").inner_text()
    first.press("Enter")
    page.wait_for_load_state()
    assert "/politiques/" in page.url and label
