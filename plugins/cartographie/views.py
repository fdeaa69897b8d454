"""The map page, the GeoJSON export of a map's data, and the territorial reference a map needs."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import aliased

from core.api import Territory, db_session, instance_config, plugin_settings, public, render_map

bp = Blueprint("cartographie", __name__, url_prefix="/cartographie", template_folder="templates",
               static_folder="static")


@bp.route("/")
@public  # only the policies (scope/can) and territories (territory.read) the viewer may read
def map_page():
    from plugins.cartographie.maps import MEASURES, map_levels, measure_labels, parse, readable_policies

    query = parse(request.args)
    figure = None
    if not query.errors and query.policy is not None:
        figure = render_map(query.level, query.values, **query.options)
    status = 400 if query.errors else 200
    return render_template(
        "cartographie/map.html", query=query, figure=figure, policies=readable_policies(),
        measures=[(m, measure_labels()[m]) for m in MEASURES], levels=map_levels(),
        parents=_parents(),
    ), status


@bp.route("/export.geojson")
@public  # same checks as the map page: unreadable policies are refused, territories filtered
def export():
    from plugins.cartographie.maps import geojson, parse

    query = parse(request.args)
    if query.errors or query.policy is None:
        return jsonify(errors=query.errors or {"politique": "aucune politique lisible"}), 400
    response = jsonify(geojson(query))
    response.mimetype = "application/geo+json"
    name = "-".join(str(v) for v in query.query_args().values())
    response.headers["Content-Disposition"] = f'attachment; filename="carte-{name}.geojson"'
    return response


def _parents() -> list[Territory]:
    """Regions and departments a commune map can be drawn inside."""
    return db_session().scalars(
        select(Territory).where(Territory.level.in_(["region", "department"]),
                                Territory.valid_to.is_(None)).order_by(Territory.level.desc(), Territory.code)
    ).all()


@bp.route("/territoires.json", defaults={"level": None})
@bp.route("/territoires/<level>.json")
@public  # official code lists are public information
def territories(level: str | None):
    level = level or plugin_settings("cartographie")["default_level"]
    if level not in instance_config().level_keys:
        abort(404)
    parent = aliased(Territory)
    rows = db_session().execute(
        select(Territory.code, Territory.name, parent.level, parent.code)
        .outerjoin(parent, Territory.parent_id == parent.id)
        .where(Territory.level == level, Territory.valid_to.is_(None))
        .order_by(Territory.code)
    )
    return jsonify(
        level=level,
        territories=[
            {"code": code, "name": name, "parent": f"{plevel}-{pcode}" if pcode else None}
            for code, name, plevel, pcode in rows
        ],
    )
