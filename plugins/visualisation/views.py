"""Chart downloads."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from core.api import Indicator, Territory, db_session, plugin_settings, public, require

bp = Blueprint("visualisation", __name__, url_prefix="/visualisation", template_folder="templates")


@bp.route("/indicateurs/<code>/trajectoire.svg")
@public  # the policy.read object check below decides
def sparkline_svg(code: str):
    from plugins.visualisation.sparkline import layout, series

    indicator = db_session().scalar(select(Indicator).where(Indicator.code == code))
    if indicator is None:
        abort(404)
    require("indicator.read", indicator)
    level, _, tcode = request.args.get("territoire", "").partition("-")
    territory = db_session().scalar(select(Territory).where(Territory.level == level, Territory.code == tcode))
    if territory is None:
        abort(404)
    chart = layout(*series(indicator.id, territory.id, plugin_settings("visualisation")["sparkline_months"]))
    if not chart:
        abort(404)
    svg = render_template("visualisation/sparkline.svg", chart=chart, indicator=indicator, territory=territory)
    return Response(svg, mimetype="image/svg+xml")
