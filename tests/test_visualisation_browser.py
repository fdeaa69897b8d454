"""The charts in a real headless Chromium: tooltips on hover and from the keyboard, and axe-core
finds no WCAG 2.1 AA violation on a policy page full of charts."""

import json

import pytest
from sqlalchemy import select
from core.testing.pytest_plugin import AXE, sign_in

pytestmark = pytest.mark.browser


def open_policy(browser, live_server, demo_app, bypass_csp=False):
    """The first published policy in the Rhône, as central steering."""
    from core.api import Policy, PolicyStatus, db_session

    with demo_app.app_context():
        code = db_session().scalar(select(Policy.code).where(Policy.status == PolicyStatus.PUBLISHED)
                                   .order_by(Policy.code))
    context = browser.new_context(locale="fr-FR", bypass_csp=bypass_csp)
    page = context.new_page()
    sign_in(page, live_server, "central_steering@demo.pilote.example")
    page.goto(f"{live_server}/politiques/{code}?territoire=department-69")
    return context, page


@pytest.fixture
def policy_page(browser, live_server, demo_app):
    """The policy page under the real, strict CSP: the tooltips script is a file of the plugin."""
    context, page = open_policy(browser, live_server, demo_app)
    yield page
    context.close()


@pytest.fixture
def audited_policy_page(browser, live_server, demo_app):
    """The same page where only this audit may inject axe-core inline (CSP bypassed)."""
    context, page = open_policy(browser, live_server, demo_app, bypass_csp=True)
    yield page
    context.close()


def test_tooltip_on_hover_and_with_the_keyboard(policy_page):
    page = policy_page
    chart = page.locator("svg.vis-chart--trajectory").first
    chart.scroll_into_view_if_needed()
    tooltip = page.locator(".vis-figure__chart:has(svg.vis-chart--trajectory) .vis-tooltip").first
    assert tooltip.is_hidden()
    point = chart.locator(".vis-series--territory .vis-point").last
    point.hover()
    assert tooltip.is_visible()
    assert tooltip.inner_text().startswith("Rhône — ")
    assert point.get_attribute("data-tip") == tooltip.inner_text()  # the native title moved into the tooltip
    chart.focus()  # the chart is one tab stop; arrows move between its points
    assert page.evaluate("document.activeElement.classList.contains('vis-chart')")
    page.keyboard.press("Home")
    first = tooltip.inner_text()
    page.keyboard.press("ArrowRight")
    assert tooltip.is_visible() and tooltip.inner_text() != first
    assert chart.locator(".vis-point.is-active").count() == 1
    page.keyboard.press("Escape")
    assert tooltip.is_hidden()


def test_policy_page_with_charts_has_no_wcag_aa_violations(audited_policy_page):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    page = audited_policy_page
    assert page.locator("svg.vis-chart").count() >= 5
    page.locator("details.vis-figure__data").first.evaluate("d => d.open = true")
    page.locator("svg.vis-chart--trajectory").first.focus()
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: "
        "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
    )
    violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
