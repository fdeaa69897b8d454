"""The home dashboard and the policy page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from core.db import session as db_session
from core.engine.recompute import reference_date
from core.figures import policy_views
from core.models import Indicator, Policy, PolicyGroup, PolicyStatus, Territory
from core.permissions import can, public, require, scope

bp = Blueprint("core", __name__)


def selected_territory() -> Territory:
    """The territory of ``?territoire=<level>-<code>``, the top of the first grid by default."""
    session = db_session()
    key = request.args.get("territoire", "")
    level, _, code = key.partition("-")
    territory = None
    if level and code:
        territory = session.scalar(
            select(Territory).where(Territory.level == level, Territory.code == code,
                                    Territory.valid_to.is_(None))
        )
        if territory is None:
            abort(404)
    if territory is None:
        top = current_app.extensions["pilote"].config.grids[0]["levels"][0]["key"]
        territory = session.scalar(
            select(Territory).where(Territory.level == top).order_by(Territory.code).limit(1)
        )
    if territory is None:
        abort(404)
    return territory


def territory_choices() -> list[Territory]:
    levels = current_app.extensions["pilote"].config.level_keys
    rows = db_session().scalars(
        select(Territory).where(Territory.level.in_(levels), Territory.valid_to.is_(None))
    ).all()
    rank = {key: i for i, key in enumerate(levels)}
    return sorted(rows, key=lambda t: (rank[t.level], t.code))


@bp.route("/")
@public
def home():
    session = db_session()
    territory = selected_territory()
    query = (
        select(Policy)
        .where(scope("policy.read", Policy), Policy.status != PolicyStatus.ARCHIVED)
        .options(selectinload(Policy.indicators).selectinload(Indicator.weights),
                 selectinload(Policy.group), selectinload(Policy.organisation))
        .order_by(Policy.code)
    )
    search = request.args.get("q", "").strip()[:100]
    if search:
        like = f"%{search}%"
        query = query.where(or_(Policy.name.ilike(like), Policy.code.ilike(like)))
    group_code = request.args.get("groupe", "")
    if group_code:
        query = query.join(Policy.group).where(PolicyGroup.code == group_code)
    kind = request.args.get("type", "")
    if kind:
        query = query.where(Policy.kind == kind)
    policies = session.scalars(query).all()
    figures = policy_views(session, policies, territory)
    groups = session.scalars(select(PolicyGroup).order_by(PolicyGroup.position)).all()
    progresses = [f.overall for f in figures.values() if f.overall is not None]
    mean = sum(progresses) / len(progresses) if progresses else None
    return render_template(
        "pages/home.html",
        territory=territory,
        territories=territory_choices(),
        policies=policies,
        figures=figures,
        groups=groups,
        mean=mean,
        filters={"q": search, "groupe": group_code, "type": kind},
        today=reference_date(None),
        policy_kinds=current_app.extensions["pilote"].config.policy_kinds,
    )


@bp.route("/politiques/<code>")
@public  # the object check below decides (public policies are readable anonymously)
def policy(code: str):
    session = db_session()
    policy = session.scalar(
        select(Policy).where(Policy.code == code)
        .options(selectinload(Policy.indicators).selectinload(Indicator.weights),
                 selectinload(Policy.contacts))
    )
    if policy is None:
        abort(404)
    require("policy.read", policy)
    territory = selected_territory()
    figure = policy_views(session, [policy], territory, with_indicators=True)[policy.id]
    # anonymous visitors of a public policy see its public indicators only
    figure.indicators = [view for view in figure.indicators if can("indicator.read", view.indicator)]
    return render_template(
        "pages/policy.html", policy=policy, figure=figure, territory=territory,
        territories=territory_choices(),
    )


@bp.route("/healthz")
@public
def healthz():
    db_session().execute(select(1))
    return {"status": "ok", "instance": current_app.config["PILOTE_INSTANCE"]}
