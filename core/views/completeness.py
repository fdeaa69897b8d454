"""Completeness and freshness pages: expected, received and late entries, and who owes them."""

from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from core.db import session as db_session
from core.engine.completeness import CompletenessReport, completeness
from core.engine.freshness import freshness, late
from core.models import Indicator, Policy, PolicyStatus, Territory, User
from core.permissions import can, effective_grants, require, requires, scope

bp = Blueprint("completeness", __name__)


def scoped_roots(territory: Territory) -> list[int]:
    """The subtrees of ``territory`` the current user may see: all of it when a grant covers
    it, else the grant territories inside it (a department's contributor on the nation)."""
    grants = effective_grants(current_user)
    roots = [g.territory_id for g in grants]
    if not roots or None in roots:
        return [territory.id]
    node = territory
    while node is not None:
        if node.id in roots:
            return [territory.id]
        node = node.parent
    inside = []
    for root in set(roots):
        node = db_session().get(Territory, root)
        while node is not None and node.id != territory.id:
            node = node.parent
        if node is not None:
            inside.append(root)
    return sorted(inside)


def readable_policy_ids(session) -> dict[int, Policy]:
    return {p.id: p for p in session.scalars(
        select(Policy).where(scope("policy.read", Policy), Policy.status == PolicyStatus.PUBLISHED)
        .order_by(Policy.code))}


def late_cells(session, report: CompletenessReport, only_user: int | None = None) -> list[dict]:
    """Cells missing at least one expected period, with their indicator, territory and owers."""
    cells = [c for c in report.cells if c.missing and (only_user is None or only_user in c.contributor_ids)]
    if not cells:
        return []
    indicators = {i.id: i for i in session.scalars(
        select(Indicator).where(Indicator.id.in_({c.indicator_id for c in cells})))}
    territories = {t.id: t for t in session.scalars(
        select(Territory).where(Territory.id.in_({c.territory_id for c in cells})))}
    users = {u.id: u for u in session.scalars(
        select(User).where(User.id.in_({uid for c in cells for uid in c.contributor_ids})))}
    rows = [{"cell": c, "indicator": indicators[c.indicator_id], "territory": territories[c.territory_id],
             "owers": [users[uid] for uid in c.contributor_ids if uid in users]} for c in cells]
    rows.sort(key=lambda r: (r["indicator"].policy_id, r["indicator"].code, r["territory"].code))
    return rows


def _render(template: str, session, report: CompletenessReport, **context):
    policies = readable_policy_ids(session)
    territories = {t.id: t for t in session.scalars(
        select(Territory).where(Territory.id.in_(list(report.territories))))} if report.territories else {}
    return render_template(
        template, report=report, policies=policies, territories_by_id=territories,
        show_emails=can("contributor.email"), **context)


@bp.route("/completude")
@requires("territory.read")
def overview():
    from core.views.pages import selected_territory, territory_choices

    session = db_session()
    territory = selected_territory()
    require("territory.read", territory)
    policies = readable_policy_ids(session)
    roots = scoped_roots(territory)
    report = completeness(session, policy_ids=list(policies), territory_ids=roots)
    stale = late(freshness(session, territory_ids=roots))
    stale_by_policy: dict[int, int] = defaultdict(int)
    if stale:
        owner = dict(session.execute(select(Indicator.id, Indicator.policy_id)
                                     .where(Indicator.id.in_({f.indicator_id for f in stale}))).all())
        for item in stale:
            if owner.get(item.indicator_id) in policies:
                stale_by_policy[owner[item.indicator_id]] += 1
    return _render("pages/completeness.html", session, report, territory=territory,
                   territories=territory_choices(), late_rows=late_cells(session, report)[:300],
                   stale_by_policy=stale_by_policy, subject=None)


@bp.route("/completude/politiques/<code>")
@requires("territory.read")
def policy(code: str):
    from core.views.pages import selected_territory, territory_choices

    session = db_session()
    subject = session.scalar(select(Policy).where(Policy.code == code))
    if subject is None or not can("policy.read", subject):
        abort(404)  # an unreadable policy is not revealed
    territory = selected_territory()
    require("territory.read", territory)
    report = completeness(session, policy_ids=[subject.id], territory_ids=scoped_roots(territory),
                          include_unpublished=True)
    return _render("pages/completeness.html", session, report, territory=territory,
                   territories=territory_choices(), late_rows=late_cells(session, report)[:300],
                   stale_by_policy={}, subject=subject)


@bp.route("/completude/territoires/<level>/<code>")
@requires("territory.read")
def territory(level: str, code: str):
    from core.views.territory import find_territory

    session = db_session()
    place = find_territory(level, code)
    require("territory.read", place)
    policies = readable_policy_ids(session)
    report = completeness(session, policy_ids=list(policies), territory_ids=scoped_roots(place))
    return _render("pages/completeness.html", session, report, territory=place, territories=None,
                   late_rows=late_cells(session, report)[:300], stale_by_policy={}, subject=None)


@bp.route("/completude/mes-saisies")
@requires("territory.read")
def mine():
    session = db_session()
    policies = readable_policy_ids(session)
    roots = {g.territory_id for g in effective_grants(current_user)}
    # a contributor only owes cells inside their grants' subtrees: compute only those
    report = completeness(session, policy_ids=list(policies),
                          territory_ids=None if None in roots else sorted(roots))
    rows = late_cells(session, report, only_user=current_user.id)
    return render_template("pages/owed.html", rows=rows, report=report, policies=policies,
                           counts=report.contributors.get(current_user.id))
