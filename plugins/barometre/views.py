"""The public barometer: overview, policy and territory pages, embeddable with ``?embed=1``.

Every page here is open to anonymous visitors and reads the published snapshots only.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from core.api import (
    CONTENT_SECURITY_POLICY,
    db_session,
    instance_config,
    plugin_settings,
    public,
    render_chart,
    render_map,
)
from plugins.barometre.public import (
    ordered_territories,
    public_children,
    public_parent,
    public_policies,
    public_policy,
    public_territory,
    search_territories,
    series_points,
    territory_from_key,
    weather_of,
)
from plugins.barometre.snapshot import figures_of, public_levels, series_of

bp = Blueprint("barometre", __name__, url_prefix="/barometre", template_folder="templates",
               static_folder="static")
EMBEDDABLE = {"barometre.overview", "barometre.policy", "barometre.territory"}
EMBED_CSP = "; ".join([d for d in CONTENT_SECURITY_POLICY.split("; ")
                       if not d.strip().startswith("frame-ancestors")] + ["frame-ancestors *"])


def embedded() -> bool:
    return request.endpoint in EMBEDDABLE and request.args.get("embed") == "1"


def page_url(endpoint: str, **values) -> str:
    """A link between barometer pages that stays in the embedded mode when it is on."""
    if embedded() and endpoint in EMBEDDABLE:
        values["embed"] = "1"
    return url_for(endpoint, **values)


@bp.context_processor
def _helpers():
    return {"embed": embedded(), "page_url": page_url, "level_label": level_label,
            "weather_of": weather_of}


@bp.after_request
def _frame_policy(response):
    """Only the embeddable pages, in embedded mode, may be framed by other sites."""
    if embedded():
        response.headers["Content-Security-Policy"] = EMBED_CSP
    return response


def level_label(key: str) -> dict | str:
    for level in instance_config().levels:
        if level["key"] == key:
            return level["label"]
    return key


def full_url() -> str:
    """The current page outside the embedded mode (for the "open in the barometer" link)."""
    args = {k: v for k, v in request.args.items() if k != "embed"}
    return url_for(request.endpoint, **(request.view_args or {}), **args)


@bp.route("/")
@public
def overview():
    session = db_session()
    territory = territory_from_key(session, request.args.get("territoire"))
    policies = public_policies(session, territory)
    groups = {}
    for item in policies:
        group = item.content.get("group")
        if group:
            groups[group["code"]] = group["name"]
    group_code = request.args.get("groupe", "")[:40]
    search = request.args.get("q", "").strip()[:100]
    shown = [p for p in policies
             if (not group_code or (p.content.get("group") or {}).get("code") == group_code)
             and (not search or search.casefold() in (p.content["name"] + " " + p.code).casefold())]
    return render_template(
        "barometre/overview.html", territory=territory, policies=shown, total=len(policies),
        groups=sorted(groups.items()), filters={"groupe": group_code, "q": search},
        territories=ordered_territories(session), full_url=full_url(),
    )


@bp.route("/politiques/<code>")
@public  # reads published snapshots only: a policy never published is not found
def policy(code: str):
    session = db_session()
    territory = territory_from_key(session, request.args.get("territoire"))
    item = public_policy(session, code, territory)
    top = territory_from_key(session, None)
    series = series_of(session, item.publication.id)
    indicators = []
    for ind in item.indicators:
        rows = series.get(ind["code"], [])
        here = series_points(rows, territory.key)
        chart_series = [{"key": "territory", "label": territory.name, "points": here["points"]}]
        if territory.id != top.id:
            chart_series.append({"key": "nation", "label": top.name,
                                 "points": series_points(rows, top.key)["points"]})
        chart = render_chart("trajectory", {
            "title": ind["name"], "unit": ind["unit"], "direction": ind["direction"],
            "decimals": ind["decimals"], "series": chart_series, "baseline": here["baseline"],
            "targets": here["targets"],
        })
        indicators.append({"meta": ind, "figure": item.indicator_figures.get(ind["code"]),
                           "points": here["points"], "baseline": here["baseline"],
                           "targets": here["targets"], "chart": chart})
    map_level = plugin_settings("barometre").get("map_level", "department")
    map_figures, drawn_map = [], None
    if map_level in public_levels():
        names = {t.code: t.name for t in ordered_territories(session, [map_level])}
        map_figures = sorted(
            (f for f in figures_of(session, [item.publication.id], level=map_level)
             if not f.indicator_code and f.code in names),
            key=lambda f: f.code)
        map_figures = [(f, names[f.code]) for f in map_figures]
        drawn_map = render_map(
            map_level, {f.code: (float(f.progress) if f.progress is not None else None)
                        for f, _name in map_figures},
            title=_("Avancement de %(name)s", name=item.content["name"]), unit="%",
            link=url_for("barometre.territory", level=map_level, code="CODE").replace("CODE", "{code}"),
        )
    return render_template(
        "barometre/policy.html", item=item, territory=territory, indicators=indicators,
        territories=ordered_territories(session), map_level=map_level, map_figures=map_figures,
        drawn_map=drawn_map, full_url=full_url(),
    )


@bp.route("/territoires")
@public
def territories():
    session = db_session()
    search = request.args.get("q", "").strip()[:100]
    results = search_territories(session, search) if search else []
    levels = public_levels()
    browse = ordered_territories(session, levels[1:2] or levels[:1])
    return render_template("barometre/territories.html", search=search, results=results,
                           browse=browse, browse_level=(levels[1:2] or levels[:1])[0])


@bp.route("/territoires/<level>/<code>")
@public  # public territories only (levels of the barometer), published snapshots only
def territory(level: str, code: str):
    session = db_session()
    place = public_territory(session, level, code)
    policies = public_policies(session, place)
    return render_template(
        "barometre/territory.html", territory=place, policies=policies,
        parent=public_parent(place), children=public_children(session, place), full_url=full_url(),
    )


from plugins.barometre import downloads, publishing  # noqa: E402,F401  (routes of the blueprint)
