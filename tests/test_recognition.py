"""Recognition of the local level: the territory's contribution figures (values entered, comments,
on-time rate) and results, and local successes featured on the national policy page by a
central referent (feature, unfeature, audited; refused to a local contributor)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from core.testing.pytest_plugin import DEMO_TODAY
from core.testing.support import client_as, email, seeded_app

SUCCESS = "Guichet unique ouvert à Villeurbanne : délais divisés par deux 5e2d"


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def figure(html: str, name: str) -> str:
    return re.search(rf'<dd data-figure="{name}">(.*?)</dd>', html, re.S).group(1).strip()


def rhone(app):
    from core.db import session
    from core.models import Territory

    with app.app_context():
        return session().scalar(select(Territory.id).where(Territory.level == "department", Territory.code == "69"))


def test_contribution_figures_and_on_time_rate(app):
    from core.db import session
    from core.engine.completeness import completeness
    from core.models import Comment, Indicator, IndicatorValue, IndicatorValueRevision, Policy
    from core.recognition import contributions

    tid = rhone(app)
    sheet = "/territoires/department/69"
    coordinator = client_as(app, "territorial_coordinator")
    before = coordinator.get(sheet).get_data(as_text=True)
    assert "Contributions et résultats du territoire" in before
    assert figure(before, "values") == "0"  # the demo's values come from the initial load
    with app.test_request_context():
        s = session()
        report = completeness(s, territory_ids=[tid])
        window = dt.datetime.combine(report.start, dt.time(), tzinfo=dt.timezone.utc)
        comments = s.scalar(select(func.count(Comment.id)).where(Comment.territory_id == tid, Comment.created_at >= window))
        policies = list(s.scalars(select(Policy.id)))
        cell = next(c for c in report.cells if c.missing)
        indicator = s.get(Indicator, cell.indicator_id)
        day = cell.missing[0]
    assert figure(before, "comments") == str(comments)
    assert coordinator.post("/saisie/valeur", data={
        "indicator_id": indicator.id, "territory_id": tid, "kind": "actual", "date": day.isoformat(),
        "value": "12"}).status_code == 302
    with app.test_request_context():
        s = session()
        from core.models import Territory

        place = s.get(Territory, tid)
        report = completeness(s, territory_ids=[tid])
        late = contributions(s, place, policies, report, report.today)
        # entered today, after its due date: expected, not on time
        value_id = s.scalar(select(IndicatorValue.id).where(IndicatorValue.indicator_id == indicator.id,
                                                            IndicatorValue.territory_id == tid, IndicatorValue.date == day))
        s.execute(update(IndicatorValueRevision).where(IndicatorValueRevision.value_id == value_id)
                  .values(recorded_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc)))
        s.commit()
        on_time = contributions(s, place, policies, report, report.today)
    assert late["values"] == 1 and on_time["expected"] == late["expected"]
    assert on_time["on_time"] == late["on_time"] + 1
    after = coordinator.get(sheet).get_data(as_text=True)
    assert figure(after, "values") == "1"
    shown = figure(after, "on-time")
    assert f"({on_time['on_time']} sur {on_time['expected']})" in shown


def test_results_in_context(app):
    from core.db import session
    from core.models import Direction, Indicator, IndicatorFigure, Policy, PolicyStatus

    tid = rhone(app)
    html = client_as(app, "central_steering").get("/territoires/department/69").get_data(as_text=True)
    with app.app_context():
        figures = session().scalars(
            select(IndicatorFigure).join(Indicator, Indicator.id == IndicatorFigure.indicator_id)
            .join(Policy, Policy.id == Indicator.policy_id)
            .where(IndicatorFigure.territory_id == tid, IndicatorFigure.baseline.is_not(None),
                   IndicatorFigure.actual.is_not(None), Policy.status != PolicyStatus.ARCHIVED)).all()
        improved = sum(1 for f in figures if (f.actual - f.baseline) * (1 if f.indicator.direction is Direction.INCREASE else -1) > 0)
    assert f"{improved} indicateurs sur {len(figures)} ont progressé" in html
    assert "Meilleures progressions sur un an" in html
    changes = re.findall(r"<td>\+([\d\s\u202f,]+) %</td>", html[html.index("best-year"):])
    values = [float(c.replace("\u202f", "").replace(" ", "").replace(",", ".")) for c in changes]
    assert values and values == sorted(values, reverse=True) and all(v > 0 for v in values)


def _highlight_comment(app) -> int:
    from core.db import session
    from core.models import Comment, Policy

    tid = rhone(app)
    with app.app_context():
        pid = session().scalar(select(Policy.id).where(Policy.code == "CH-201"))
    assert client_as(app, "local_contributor").post("/dialogue/commentaires", data={
        "policy_id": pid, "territory_id": tid, "type": "results_to_highlight", "body": SUCCESS}).status_code == 302
    with app.app_context():
        return session().scalar(select(Comment.id).where(Comment.body == SUCCESS))


def successes(html: str) -> str:
    start = html.index('id="successes-title"')
    return html[start:html.index("</section>", start)]


def test_feature_and_unfeature_a_local_success(app):
    from core.db import session
    from core.models import AuditEntry, FeaturedComment

    comment_id = _highlight_comment(app)
    central = client_as(app, "central_steering")
    national = "/politiques/CH-201"
    page = central.get(national).get_data(as_text=True)
    assert SUCCESS not in successes(page).split("feature-candidates")[0]
    assert f"/reussites/{comment_id}/mettre-en-avant" in page  # offered to the central referent
    response = central.post(f"/reussites/{comment_id}/mettre-en-avant", data={"next": national})
    assert response.status_code == 302
    reader_view = successes(client_as(app, "local_contributor").get(national).get_data(as_text=True))
    featured = reader_view[:reader_view.index(SUCCESS) + len(SUCCESS)]
    assert "Rhône" in featured and "Thomas Girard" in featured
    assert "mettre-en-avant" not in reader_view and "/retirer" not in reader_view
    with app.app_context():
        row = session().scalar(select(FeaturedComment).where(FeaturedComment.comment_id == comment_id))
        assert row is not None
        audit = session().scalar(select(AuditEntry).where(AuditEntry.entity == "featured_comment",
                                                          AuditEntry.action == "insert"))
        assert audit.actor_label == email("central_steering") and audit.channel == "form"
    # the ministry referent of the policy's ministry may unfeature
    referent = client_as(app, "ministry_referent")
    assert referent.post(f"/reussites/{comment_id}/retirer", data={"next": national}).status_code == 302
    assert SUCCESS not in successes(central.get(national).get_data(as_text=True)).split("feature-candidates")[0]
    with app.app_context():
        assert session().scalar(select(FeaturedComment).where(FeaturedComment.comment_id == comment_id)) is None
        assert session().scalar(select(AuditEntry).where(AuditEntry.entity == "featured_comment",
                                                         AuditEntry.action == "delete")) is not None


def test_a_local_contributor_cannot_feature(app):
    from core.db import session
    from core.models import AuditEntry, Comment, FeaturedComment, Policy

    comment_id = _highlight_comment(app) if not _existing(app) else _existing(app)
    with app.app_context():
        audits = session().scalar(select(func.count(AuditEntry.id)).where(AuditEntry.entity == "featured_comment"))
    contributor = client_as(app, "local_contributor")
    assert contributor.post(f"/reussites/{comment_id}/mettre-en-avant").status_code == 403
    assert client_as(app, "reader").post(f"/reussites/{comment_id}/mettre-en-avant").status_code == 403
    assert app.test_client().post(f"/reussites/{comment_id}/mettre-en-avant").status_code in (302, 401)
    assert "mettre-en-avant" not in contributor.get("/politiques/CH-201?territoire=department-69").get_data(as_text=True)
    with app.app_context():
        s = session()
        assert s.scalar(select(func.count(FeaturedComment.id))) == 0
        assert s.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.entity == "featured_comment")) == audits
        # the ministry referent of another ministry's policy is refused too; other types are not featured
        other = s.scalar(select(Comment.id).join(Policy, Policy.id == Comment.policy_id)
                         .where(Policy.code == "CH-101", Comment.type == "results_to_highlight", Comment.parent_id.is_(None)))
        obstacle = s.scalar(select(Comment.id).join(Policy, Policy.id == Comment.policy_id)
                            .where(Policy.code == "CH-201", Comment.type == "obstacles", Comment.parent_id.is_(None)))
    if other is not None:
        assert client_as(app, "ministry_referent").post(f"/reussites/{other}/mettre-en-avant").status_code == 403
    assert client_as(app, "central_steering").post(f"/reussites/{obstacle}/mettre-en-avant").status_code == 400


def _existing(app):
    from core.db import session
    from core.models import Comment

    with app.app_context():
        return session().scalar(select(Comment.id).where(Comment.body == SUCCESS))


@pytest.mark.browser
def test_pages_in_a_browser_feature_a_success_and_pass_axe(app, browser):
    """Activity feed, directory, territory sheet and the policy page's « Réussites locales » in
    Chromium: no WCAG 2.1 AA violation; a referent features a success with the button."""
    import threading

    from werkzeug.serving import make_server

    from core.testing.pytest_plugin import axe_violations

    comment_id = _existing(app) or _highlight_comment(app)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server = f"http://127.0.0.1:{httpd.server_port}"
    context = browser.new_context(locale="fr-FR", bypass_csp=True)  # bypass: axe is injected
    tab = context.new_page()
    try:
        tab.goto(f"{server}/connexion")
        tab.get_by_label("Adresse électronique").fill(email("central_steering"))
        tab.get_by_label("Mot de passe").fill("pilote-demo")
        tab.get_by_role("button", name="Se connecter").click()
        tab.wait_for_url(f"{server}/")
        for path in ("/activite/territoire/region/84", "/annuaire?politique=CH-201",
                     "/territoires/department/69"):
            tab.goto(server + path)
            assert axe_violations(tab) == [], path
        tab.goto(f"{server}/politiques/CH-201")
        tab.locator("details.feature-candidates > summary").click()
        tab.locator(f"form[action='/reussites/{comment_id}/mettre-en-avant'] button").click()
        tab.wait_for_load_state()
        featured = tab.locator("article.featured-comment", has_text=SUCCESS)
        assert featured.count() == 1 and "Rhône" in featured.inner_text()
        assert axe_violations(tab) == []
        tab.locator(f"form[action='/reussites/{comment_id}/retirer'] button").click()
        tab.wait_for_load_state()
        assert tab.locator("article.featured-comment", has_text=SUCCESS).count() == 0
    finally:
        context.close()
        httpd.shutdown()


def test_contributions_on_a_wider_territory_count_only_the_viewers_scope(app):
    from core.db import session
    from core.engine.completeness import default_window
    from core.models import Comment, Policy, Territory

    with app.app_context():
        s = session()
        nation = s.scalar(select(Territory).where(Territory.parent_id.is_(None), Territory.level == "nation"))
        places = [nation.id, *s.scalars(select(Territory.id).where(
            ((Territory.level == "department") & (Territory.code == "69")) | ((Territory.level == "region") & (Territory.code == "84"))))]
        policies = list(s.scalars(select(Policy.id).where(Policy.code.in_(["CH-101", "CH-201", "CH-302", "CH-401", "CH-901"]),
                                                          Policy.status == "published")))
        start = dt.datetime.combine(default_window(DEMO_TODAY)[0], dt.time(), tzinfo=dt.timezone.utc)
        mine = s.scalar(select(func.count(Comment.id)).where(
            Comment.territory_id.in_(places), Comment.policy_id.in_(policies), Comment.created_at >= start))
        everywhere = s.scalar(select(func.count(Comment.id)).where(
            Comment.policy_id.in_(policies), Comment.created_at >= start))
        url = f"/territoires/{nation.level}/{nation.code}"
    assert everywhere > mine
    html = client_as(app, "local_contributor").get(url).get_data(as_text=True)
    assert figure(html, "comments") == str(mine)
