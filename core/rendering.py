"""Charts, maps and geometries drawn by plugins, read through one entry point each.

Pages, reports and downloads call these; when no enabled plugin answers they get None (or an
empty layer) and show the data table alone, so the core works with no drawing plugin at all.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from core.plugins import call_in_order
from core.specs import RenderedFigure


def _pm():
    return current_app.extensions["pilote"].pm


def render_chart(kind: str, data: dict[str, Any], **options: Any) -> RenderedFigure | None:
    """A chart of ``kind`` (see ``docs/charts.md``) from the first plugin that draws it."""
    return _pm().hook.render_chart(kind=kind, data=data, options=options)


def render_map(level: str, values: dict[str, Any], **options: Any) -> RenderedFigure | None:
    """A map of the territories of ``level`` coloured by ``values`` (code -> value)."""
    return _pm().hook.render_map(level=level, values=values, options=options)


def territory_layer(level: str, within: str | None = None) -> dict[str, Any] | None:
    """The GeoJSON FeatureCollection of ``level`` (inside ``within``), merged over every
    plugin that provides shapes: for each territory code the first plugin in precedence wins.
    None when no plugin has shapes for that level."""
    features: dict[str, dict[str, Any]] = {}
    answered = False
    for _plugin, collection in call_in_order(_pm(), "territory_layers", level=level, within=within):
        if not collection:
            continue
        answered = True
        for feature in collection.get("features", []):
            features.setdefault(str(feature["properties"]["code"]), feature)
    if not answered:
        return None
    return {"type": "FeatureCollection", "features": list(features.values())}
