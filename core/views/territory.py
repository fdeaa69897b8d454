"""The territory sheet: every policy of one territory against the national value."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import session as db_session
from core.engine.completeness import completeness
from core.figures import compare_to_national, policy_views
from core.models import Policy, PolicyContact, PolicyStatus, RoadmapEntry, Territory
from core.permissions import can, public, require, scope
from core.views.pages import report_url

bp = Blueprint("territory", __name__)


def find_territory(level: str, code: str) -> Territory:
    """The current territory ``level``/``code``, or 404."""
    territory = db_session().scalar(select(Territory).where(
        Territory.level == level, Territory.code == code, Territory.valid_to.is_(None)))
    if territory is None:
        abort(404)
    return territory


def root_of(territory: Territory) -> Territory:
    node = territory
    while node.parent is not None:
        node = node.parent
    return node


def readable_policies(session, **criteria) -> list[Policy]:
    query = (select(Policy).where(scope("policy.read", Policy), Policy.status != PolicyStatus.ARCHIVED)
             .options(selectinload(Policy.organisation), selectinload(Policy.group))
             .order_by(Policy.code))
    for column, value in criteria.items():
        query = query.where(getattr(Policy, column) == value)
    return list(session.scalars(query))


@bp.route("/territoires/<level>/<code>")
@public  # anonymous visitors see public policies; signed-in users their territorial scope
def sheet(level: str, code: str):
    session = db_session()
    territory = find_territory(level, code)
    require("territory.read", territory)
    nation = root_of(territory)
    policies = readable_policies(session)
    local = policy_views(session, policies, territory)
    national = policy_views(session, policies, nation) if nation.id != territory.id else local
    rows = [{"view": local[p.id], "national": national[p.id].overall,
             "status": compare_to_national(local[p.id].overall, national[p.id].overall)}
            for p in policies if local[p.id].figure is not None]
    roadmap_ids = set(session.scalars(select(RoadmapEntry.policy_id)
                                      .where(RoadmapEntry.territory_id == territory.id)))
    roadmap = [local[p.id] for p in policies if p.id in roadmap_ids]
    projects = [local[p.id] for p in policies
                if p.kind == "structuring_project" and p.territory_id == territory.id]
    report = completeness(session, policy_ids=[p.id for p in policies], territory_ids=[territory.id])
    contacts = session.scalars(
        select(PolicyContact).where(PolicyContact.territory_id == territory.id,
                                    PolicyContact.policy_id.in_([p.id for p in policies]))
        .options(selectinload(PolicyContact.policy)).order_by(PolicyContact.name)).all()
    return render_template(
        "pages/territory.html", territory=territory, nation=nation, rows=rows,
        roadmap=roadmap, projects=projects, report=report,
        territory_counts=report.territories.get(territory.id), contacts=contacts,
        children=sorted((t for t in territory.children if t.valid_to is None), key=lambda t: t.code),
        may_manage=can("roadmap.manage", territory), policy=None,
        brief_url=report_url("reports.territory_brief", territoire=territory.key),
    )
