"""The territorial reference a map needs: the territories of a level, with their parents."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify
from sqlalchemy import select
from sqlalchemy.orm import aliased

from core.api import Territory, db_session, instance_config, plugin_settings, public

bp = Blueprint("cartographie", __name__, url_prefix="/cartographie")


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
