"""Chart downloads (SVG, PNG, CSV), checked like the policy page they come from."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, request
from flask_babel import gettext as _
from sqlalchemy import select

from core.api import (Indicator, Policy, PolicyFigure, Territory, db_session, instance_config, plugin_settings,
                      public, render_chart, require)
from plugins.visualisation import data as charts_data
from plugins.visualisation.exports import png_available, to_csv, to_png

bp = Blueprint("visualisation", __name__, url_prefix="/visualisation", template_folder="templates",
               static_folder="static")

EXTENSIONS = ("svg", "png", "csv")
FILE_NAMES = {"comparison": "comparaison", "weather_timeline": "meteo", "gauge": "avancement"}


def selected_territory() -> Territory:
    """``?territoire=<level>-<code>``, the top territory of the first grid by default (as pages do)."""
    session = db_session()
    level, _sep, code = request.args.get("territoire", "").partition("-")
    if level and code:
        territory = session.scalar(select(Territory).where(Territory.level == level, Territory.code == code,
                                                           Territory.valid_to.is_(None)))
    else:
        top = instance_config().grids[0]["levels"][0]["key"]
        territory = session.scalar(select(Territory).where(Territory.level == top).order_by(Territory.code).limit(1))
    if territory is None:
        abort(404)
    require("territory.read", territory)
    return territory


def respond(kind: str, data: dict, stem: str, ext: str, **options) -> Response:
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem)
    if ext == "csv":
        return Response(to_csv(kind, data), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    figure = render_chart(kind, data, **options)
    if figure is None:
        abort(404)
    if ext == "png":
        if not png_available():
            abort(404)
        return Response(to_png(figure.svg), mimetype="image/png",
                        headers={"Content-Disposition": f'inline; filename="{stem}.png"'})
    return Response(figure.svg, mimetype="image/svg+xml",
                    headers={"Content-Disposition": f'inline; filename="{stem}.svg"'})


def _rules(path: str, **defaults):
    """One URL per file extension (``….svg``, ``….png``, ``….csv``), the extension as a default."""
    def decorate(view):
        for ext in EXTENSIONS:
            bp.add_url_rule(f"{path}.{ext}", view_func=view, defaults={**defaults, "ext": ext})
        return view
    return decorate


@_rules("/indicateurs/<code>/trajectoire")
@public  # indicator.read, policy.read and territory.read are checked below, like the policy page
def trajectory(code: str, ext: str):
    indicator = db_session().scalar(select(Indicator).where(Indicator.code == code))
    if indicator is None:
        abort(404)
    require("policy.read", indicator.policy)
    require("indicator.read", indicator)
    territory = selected_territory()
    months = plugin_settings("visualisation")["sparkline_months"]
    data = charts_data.trajectory_data(indicator, territory, months)
    return respond("trajectory", data, f"trajectoire-{indicator.code}-{territory.key}", ext)


@_rules("/politiques/<code>/comparaison", chart="comparison")
@_rules("/politiques/<code>/meteo", chart="weather_timeline")
@_rules("/politiques/<code>/avancement", chart="gauge")
@public  # policy.read and territory.read are checked below, like the policy page
def policy_chart(code: str, chart: str, ext: str):
    policy = db_session().scalar(select(Policy).where(Policy.code == code))
    if policy is None:
        abort(404)
    require("policy.read", policy)
    territory = selected_territory()
    if chart == "comparison":
        data = charts_data.comparison_data(policy, territory)
        if data is None:
            abort(404)
    elif chart == "weather_timeline":
        data = charts_data.weather_data(policy, territory)
    else:
        overall = db_session().scalar(select(PolicyFigure.overall).where(
            PolicyFigure.policy_id == policy.id, PolicyFigure.territory_id == territory.id))
        data = charts_data.gauge_data(overall, _("Avancement global"))
    return respond(chart, data, f"{FILE_NAMES[chart]}-{policy.code}-{territory.key}", ext)
