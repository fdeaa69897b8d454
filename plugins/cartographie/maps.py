"""What a map shows: the values of one measure for the territories of a level, limited to what
the current user may read; drawn by :func:`draw` (the ``render_map`` hook)."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from core.api import (
    Indicator,
    IndicatorFigure,
    Policy,
    PolicyFigure,
    RoadmapEntry,
    Territory,
    WeatherReport,
    can,
    completeness,
    db_session,
    instance_config,
    plugin_settings,
    render_map,
    scope,
    territory_layer,
)
from plugins.cartographie.choropleth import render
from plugins.cartographie.layers import communes_available, territories_of

MEASURES = ("progress", "value", "weather", "completeness", "roadmap")
SCALES = ("quantiles", "deciles")


def measure_labels() -> dict[str, str]:
    return {"progress": _("Taux d'avancement"), "value": _("Valeur de l'indicateur"),
            "weather": _("Météo"), "completeness": _("Complétude des saisies"),
            "roadmap": _("Feuilles de route")}


def roadmap_categories() -> list[tuple[str, str]]:
    return [("selected", _("Retenue dans la feuille de route")), ("not_selected", _("Non retenue"))]


def draw(level: str, values: dict, options: dict):
    """The ``render_map`` hook: None when there are no shapes for ``level``."""
    layer = territory_layer(level, options.get("within"))
    if layer is None:
        return None
    expected = {t.code: t.name for t in territories_of(level, options.get("within"))}
    return render(level, layer, values, expected, options)


def map_levels() -> list[tuple[str, str]]:
    """(key, label) of the levels a map can show in this instance."""
    config = instance_config()
    levels = [(key, _label(level)) for grid in config.grids for level in grid["levels"]
              for key in [level["key"]] if key != "nation"]
    keys = [k for k, _ in levels]
    if "commune" not in keys and "department" in keys and communes_available():
        levels.append(("commune", _("Commune")))
    return list(dict.fromkeys(levels))


def _label(level: dict) -> str:
    from flask_babel import get_locale

    label = level.get("label", level["key"])
    if isinstance(label, dict):
        return label.get(str(get_locale()), next(iter(label.values())))
    return label


@dataclass
class MapRequest:
    """A validated map query (``?politique=…&mesure=…&niveau=…&dans=…``)."""

    policy: Policy | None = None
    indicator: Indicator | None = None
    measure: str = "progress"
    level: str = "department"
    within: str | None = None
    scale: str = "quantiles"
    errors: dict[str, str] = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    territories: list[Territory] = field(default_factory=list)

    @property
    def options(self) -> dict:
        title = self.title
        options = {"title": title, "scale": "weather" if self.measure == "weather" else self.scale,
                   "within": self.within}
        if self.measure == "roadmap":
            options.update(scale="categories", categories=roadmap_categories())
        if self.measure in ("progress", "completeness"):
            options.update(unit="%", decimals=1)
        elif self.indicator is not None:
            options.update(unit=self.indicator.unit or "", decimals=self.indicator.decimals)
        if self.policy is not None and self.level in instance_config().level_keys:
            template = url_for("core.policy", code=self.policy.code, territoire=f"{self.level}-CODE")
            options["link"] = template.replace("CODE", "{code}")
        return options

    @property
    def title(self) -> str:
        subject = self.indicator.name if self.indicator is not None and self.measure == "value" else (
            self.policy.name if self.policy else "")
        level = dict(map_levels()).get(self.level, self.level)
        return f"{measure_labels()[self.measure]} – {subject} ({level})"

    def query_args(self) -> dict:
        args = {"politique": self.policy.code if self.policy else None, "mesure": self.measure,
                "niveau": self.level, "dans": self.within, "echelle": self.scale}
        if self.indicator is not None:
            args["indicateur"] = self.indicator.code
        return {k: v for k, v in args.items() if v}


def readable_policies() -> list[Policy]:
    session = db_session()
    rows = session.scalars(select(Policy).where(scope("policy.read", Policy)).order_by(Policy.code)).all()
    return [p for p in rows if can("policy.read", p)]


def parse(args) -> MapRequest:
    """Read and check the query; errors are keyed by parameter, values filled when valid."""
    request = MapRequest()
    policies = {p.code: p for p in readable_policies()}
    code = args.get("politique", "")
    if code:
        request.policy = policies.get(code)
        if request.policy is None:
            request.errors["politique"] = _("Cette politique n'existe pas ou vous n'y avez pas accès.")
    elif policies:
        request.policy = next(iter(policies.values()))
    request.measure = args.get("mesure", "progress")
    if request.measure not in MEASURES:
        request.errors["mesure"] = _("Mesure inconnue.")
        request.measure = "progress"
    levels = dict(map_levels())
    request.level = args.get("niveau") or plugin_settings("cartographie")["default_level"]
    if request.level not in levels:
        request.errors["niveau"] = _("Niveau inconnu.")
        request.level = next(iter(levels), "department")
    request.within = args.get("dans") or None
    if request.level == "commune" and not request.within:
        request.errors["dans"] = _("Choisissez un département ou une région pour la carte des communes.")
    scale = args.get("echelle", "quantiles")
    request.scale = scale if scale in SCALES else "quantiles"
    if request.policy is not None:
        indicators = [i for i in request.policy.indicators if can("indicator.read", i)]
        wanted = args.get("indicateur", "")
        request.indicator = next((i for i in indicators if i.code == wanted), None)
        if wanted and request.indicator is None:
            request.errors["indicateur"] = _("Cet indicateur n'existe pas ou vous n'y avez pas accès.")
        if request.measure == "value" and request.indicator is None and not wanted:
            request.indicator = indicators[0] if indicators else None
            if request.indicator is None:
                request.errors["indicateur"] = _("Cette politique n'a pas d'indicateur visible.")
    if not request.errors and request.policy is not None:
        fill_values(request)
    return request


def fill_values(request: MapRequest) -> None:
    """The values of the measure for the readable territories of the level."""
    territories = [t for t in territories_of(request.level, request.within) if can("territory.read", t)]
    request.territories = territories
    by_id = {t.id: t.code for t in territories}
    ids = list(by_id)
    values: dict = {code: None for code in by_id.values()}
    session = db_session()
    if not ids:
        request.values = values
        return
    if request.measure == "progress" and request.indicator is None:
        rows = session.execute(select(PolicyFigure.territory_id, PolicyFigure.overall)
                               .where(PolicyFigure.policy_id == request.policy.id,
                                      PolicyFigure.territory_id.in_(ids)))
    elif request.measure in ("progress", "value"):
        column = IndicatorFigure.overall if request.measure == "progress" else IndicatorFigure.actual
        rows = session.execute(select(IndicatorFigure.territory_id, column)
                               .where(IndicatorFigure.indicator_id == request.indicator.id,
                                      IndicatorFigure.territory_id.in_(ids)))
    elif request.measure == "weather":
        latest = (select(func.max(WeatherReport.id))
                  .where(WeatherReport.policy_id == request.policy.id,
                         WeatherReport.territory_id.in_(ids))
                  .group_by(WeatherReport.territory_id))
        rows = [(tid, weather.value if weather.value != "not_set" else None) for tid, weather in
                session.execute(select(WeatherReport.territory_id, WeatherReport.weather)
                                .where(WeatherReport.id.in_(latest)))]
    elif request.measure == "roadmap":
        selected = set(session.scalars(select(RoadmapEntry.territory_id).where(
            RoadmapEntry.policy_id == request.policy.id, RoadmapEntry.territory_id.in_(ids))))
        rows = [(tid, "selected" if tid in selected else "not_selected") for tid in ids]
    else:
        report = completeness(session, policy_ids=[request.policy.id], territory_ids=ids)
        rows = [(tid, report.territories[tid].rate) for tid in ids if tid in report.territories]
    for tid, value in rows:
        values[by_id[tid]] = float(value) if value is not None and not isinstance(value, str) else value
    request.values = values


def geojson(request: MapRequest) -> dict:
    """The map's data as GeoJSON: the layer's features with the value of each territory."""
    layer = territory_layer(request.level, request.within) or {"features": []}
    names = {t.code: t.name for t in request.territories}
    features = []
    seen = set()
    for feature in layer["features"]:
        code = str(feature["properties"]["code"])
        seen.add(code)
        features.append({"type": "Feature", "geometry": feature.get("geometry"),
                         "properties": {"code": code, "name": names.get(code, feature["properties"].get("name")),
                                        "value": request.values.get(code)}})
    features += [{"type": "Feature", "geometry": None,
                  "properties": {"code": code, "name": names.get(code, code), "value": value}}
                 for code, value in sorted(request.values.items()) if code not in seen]
    from plugins.cartographie.build import SOURCE

    return {"type": "FeatureCollection",
            "metadata": {**SOURCE, "title": request.title, "measure": request.measure,
                         "level": request.level, "within": request.within,
                         "policy": request.policy.code if request.policy else None,
                         "indicator": request.indicator.code if request.indicator else None},
            "features": features}


def policy_widget_context(policy=None, territory=None, **_context):
    """The policy page's map: the policy's progress by department (or the default level)."""
    if policy is None:
        return None
    level = plugin_settings("cartographie")["default_level"]
    if level not in instance_config().level_keys:
        return None
    request = MapRequest(policy=policy, measure="progress", level=level)
    fill_values(request)
    figure = render_map(level, request.values, **request.options)
    if figure is None:
        return None
    return {"map_figure": figure, "map_args": request.query_args()}
