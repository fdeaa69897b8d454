"""The home dashboard and the policy page (their data: core.views.dashboard, policy_context)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.routing import BuildError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import session as db_session
from core.engine.recompute import reference_date
from core.engine.alerts import alerts_for
from core.figures import Spread, latest_weather, level_figures, policy_views
from core.models import (
    Comment,
    Indicator,
    Organisation,
    Policy,
    PolicyFigure,
    PolicyGroup,
    RoadmapEntry,
    Territory,
    Weather,
    WeatherReport,
)
from core.rendering import render_map
from core.permissions import can, effective_grants, public, require
from core.views.dashboard import DashboardFilters, alert_labels, build_dashboard

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
    """The current territories of every level that the user may open (selector options)."""
    levels = current_app.extensions["pilote"].config.level_keys
    rows = db_session().scalars(
        select(Territory).where(Territory.level.in_(levels), Territory.valid_to.is_(None))
    ).all()
    rank = {key: i for i, key in enumerate(levels)}
    visible = visible_territory_ids()
    return sorted((t for t in rows if visible is None or t.id in visible),
                  key=lambda t: (rank[t.level], t.code))


def visible_territory_ids() -> set[int] | None:
    """Territories the current user may open (``territory.read``) for listings, computed once
    per request: None means all. Same rule as the object check: the subtrees of the user's
    grants and their ancestors."""
    if "pilote_visible_territories" in g:
        return g.pilote_visible_territories
    roots = {grant.territory_id for grant in effective_grants(current_user)}
    visible: set[int] | None = None
    if current_user.is_authenticated and None not in roots:
        parent = dict(db_session().execute(select(Territory.id, Territory.parent_id)).all())
        visible = set()
        for tid in parent:
            chain, node = [], tid
            while node is not None:
                chain.append(node)
                node = parent.get(node)
            if roots.intersection(chain):
                visible.add(tid)  # inside a grant's subtree
        for root in roots:
            node = root
            while node is not None:
                visible.add(node)  # and the ancestors of each grant territory
                node = parent.get(node)
    g.pilote_visible_territories = visible
    return visible


@bp.route("/")
@public
def home():
    session = db_session()
    territory = selected_territory()
    require("territory.read", territory)
    filters = DashboardFilters.from_args(request.args)
    board = build_dashboard(session, territory, filters)
    config = current_app.extensions["pilote"].config
    return render_template(
        "pages/home.html",
        board=board,
        territory=territory,
        territories=territory_choices(),
        policies=[row.policy for row in board.rows],
        figures={row.policy.id: row for row in board.rows},
        groups=session.scalars(select(PolicyGroup).order_by(PolicyGroup.position)).all(),
        organisations=session.scalars(select(Organisation).order_by(Organisation.acronym)).all(),
        alert_labels=alert_labels(),
        weathers=[w for w in Weather],
        levels=config.levels,
        level_keys=config.level_keys,
        filters=filters,
        today=reference_date(None),
        policy_kinds=config.policy_kinds,
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
    require("territory.read", territory)
    figure = policy_views(session, [policy], territory, with_indicators=True)[policy.id]
    # anonymous visitors of a public policy see its public indicators only
    figure.indicators = [view for view in figure.indicators if can("indicator.read", view.indicator)]
    figure.alerts = alerts_for(session, [policy.id], [territory.id])
    return render_template(
        "pages/policy.html", policy=policy, figure=figure, territory=territory,
        territories=territory_choices(), **policy_context(session, policy, territory),
    )


def report_url(endpoint: str, **values) -> str | None:
    """The URL of a PDF report endpoint when the reports module provides it (signed-in users
    only), else None."""
    if endpoint not in current_app.view_functions or not current_user.is_authenticated:
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def child_level(territory: Territory, wanted: str = "") -> str:
    """``wanted`` when it is a level of the instance, else the level under ``territory``'s."""
    keys = current_app.extensions["pilote"].config.level_keys
    if wanted in keys:
        return wanted
    index = keys.index(territory.level) if territory.level in keys else 0
    return keys[min(index + 1, len(keys) - 1)]


TERRITORY_SORTS = ("name", "progress", "weather", "alerts")


def territory_rows(session, policy: Policy, level: str, sort: str, desc: bool) -> list[dict]:
    """Every current territory of ``level`` with the policy's progress, weather and alerts."""
    visible = visible_territory_ids()
    territories = [t for t in session.scalars(select(Territory).where(
        Territory.level == level, Territory.valid_to.is_(None)).order_by(Territory.code))
        if visible is None or t.id in visible]
    ids = [t.id for t in territories]
    figures = {f.territory_id: f for f in level_figures(session, [policy.id], level)}
    weather = latest_weather(session, [policy.id], ids)
    alerts: dict[int, list] = {}
    for alert in alerts_for(session, [policy.id], ids):
        alerts.setdefault(alert.territory_id, []).append(alert)
    rows = [{"territory": t, "figure": figures.get(t.id),
             "overall": figures[t.id].overall if t.id in figures else None,
             "weather": weather[(policy.id, t.id)].weather if (policy.id, t.id) in weather else Weather.NOT_SET,
             "alerts": alerts.get(t.id, [])} for t in territories]
    keys = {
        "name": lambda r: (0, r["territory"].code),
        "progress": lambda r: (r["overall"] is None, r["overall"] or 0),
        "weather": lambda r: (0, r["weather"].rank),
        "alerts": lambda r: (0, len(r["alerts"])),
    }
    rows.sort(key=keys.get(sort, keys["name"]), reverse=desc)
    return rows


def policy_context(session, policy: Policy, territory: Territory) -> dict:
    """What the policy page shows besides the figures of the selected territory."""
    nation = _root(territory)
    nation_figure = session.scalar(select(PolicyFigure).where(
        PolicyFigure.policy_id == policy.id, PolicyFigure.territory_id == nation.id))
    same_level = Spread.of(f.overall for f in level_figures(session, [policy.id], territory.level))
    level = child_level(territory, request.args.get("niveau", ""))
    sort = request.args.get("tri", "name")
    desc = request.args.get("desc") == "1"
    history = session.scalars(
        select(WeatherReport).where(WeatherReport.policy_id == policy.id,
                                    WeatherReport.territory_id == territory.id)
        .options(selectinload(WeatherReport.author))
        .order_by(WeatherReport.created_at.desc(), WeatherReport.id.desc()).limit(24)).all()
    decisions = session.scalars(
        select(Comment).where(Comment.policy_id == policy.id, Comment.territory_id == territory.id,
                              Comment.type == "decision", Comment.parent_id.is_(None))
        .options(selectinload(Comment.author))
        .order_by(Comment.created_at.desc())).all()
    roadmap = session.scalars(
        select(Territory).join(RoadmapEntry, RoadmapEntry.territory_id == Territory.id)
        .where(RoadmapEntry.policy_id == policy.id).order_by(Territory.level, Territory.code)).all()
    roadmap_maps = []
    for level_key in dict.fromkeys(t.level for t in roadmap):
        rendered = render_map(level_key, {t.code: "selected" for t in roadmap if t.level == level_key},
                              title=_("Territoires ayant retenu la politique dans leur feuille de route"),
                              scale="categories", categories=[("selected", _("Retenue dans la feuille de route"))])
        if rendered is not None:
            roadmap_maps.append(rendered)
    rows = territory_rows(session, policy, level, sort, desc)
    return {
        "nation": nation, "nation_figure": nation_figure, "median": same_level.median,
        "level": level, "level_rows": rows, "config_levels": current_app.extensions["pilote"].config.levels, "sort": sort, "desc": desc,
        "weather_history": history, "decisions": decisions, "roadmap_territories": roadmap,
        "roadmap_maps": roadmap_maps,
        "report_url": report_url("reports.policy_pdf", code=policy.code, territoire=territory.key),
        "brief_url": report_url("reports.policy_brief", code=policy.code, territoire=territory.key),
    }


def _root(territory: Territory) -> Territory:
    node = territory
    while node.parent is not None:
        node = node.parent
    return node


@bp.route("/healthz")
@public
def healthz():
    db_session().execute(select(1))
    return {"status": "ok", "instance": current_app.config["PILOTE_INSTANCE"]}
