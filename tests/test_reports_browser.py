"""The reports page in a real headless Chromium: request form, progress, download, axe."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from core.api import db_session
from core.models import ReportRequest
from core.testing.pytest_plugin import axe_violations, sign_in

pytestmark = pytest.mark.browser


def test_request_a_report_follow_its_progress_and_download_it(browser, live_server, demo_app,
                                                             tmp_path, monkeypatch):
    monkeypatch.setitem(demo_app.config, "PILOTE_REPORTS_DIR", str(tmp_path))
    with demo_app.app_context():
        before = set(db_session().scalars(select(ReportRequest.id)))
    # the audit context bypasses the CSP to inject axe; the page's own script is a file
    page = browser.new_context(locale="fr-FR", bypass_csp=True, accept_downloads=True).new_page()
    try:
        sign_in(page, live_server, "local_contributor@demo.pilote.example")
        page.get_by_role("link", name="Rapports").first.click()
        page.wait_for_url(f"{live_server}/rapports/")
        assert axe_violations(page) == []
        page.get_by_label("Développer l'apprentissage").check()
        page.get_by_label("Territoires").select_option("department-69")
        page.get_by_role("button", name="Produire le PDF").click()
        page.wait_for_url(f"{live_server}/rapports/demandes/*")
        status = page.get_by_role("status")
        status.filter(has_text="Le document est prêt").wait_for()
        assert page.locator("#report-progress").get_attribute("value") == "100"
        violations = axe_violations(page)
        assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
        with page.expect_download() as info:
            page.get_by_role("link", name="Télécharger le PDF").click()
        path = info.value.path()
        with open(path, "rb") as fh:
            assert fh.read(5) == b"%PDF-"
    finally:
        page.context.close()
        with demo_app.app_context():
            db_session().execute(delete(ReportRequest).where(ReportRequest.id.not_in(before)))
            db_session().commit()
