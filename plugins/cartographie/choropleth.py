"""Choropleth maps drawn on the server as SVG: Lambert-93-like projection for metropolitan
France, the overseas departments in labelled insets, a classed legend written as text, a
``<title>`` per territory and, with ``link``, one keyboard-focusable link per territory."""

from __future__ import annotations

import bisect
import functools
import math
import secrets
import statistics
from dataclasses import dataclass, field

import numpy as np
import shapely
from babel import Locale, numbers
from flask_babel import get_locale, gettext as _
from markupsafe import Markup, escape
from shapely.geometry import shape

from core.api import RenderedFigure
from plugins.cartographie.layers import DROM_DEPARTMENTS, SOURCE

WIDTH, MAP_WIDTH, MAP_HEIGHT = 860, 600, 560
INSET_HEIGHT, MARGIN = 110, 10
# reversed viridis: light (low) to dark (high), readable with every colour-vision deficiency
PALETTES = {
    5: ["#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"],
    10: ["#fde725", "#b5de2b", "#6ece58", "#35b779", "#1f9e89", "#26828e", "#31688e",
         "#3e4989", "#482878", "#440154"],
}
WEATHER_COLOURS = {"secured": "#2166ac", "achievable": "#92c5de", "support_needed": "#f4a582",
                   "compromised": "#b2182b"}
# Okabe–Ito qualitative colours, for categories (``scale="categories"``)
CATEGORY_COLOURS = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442"]
NO_DATA_FILL = "#f2f2f2"
# rough extents used to put a shape in its frame (lon min, lon max, lat min, lat max)
DROM_EXTENTS = {"971": (-62.0, -60.8, 15.7, 16.7), "972": (-61.4, -60.7, 14.3, 15.0),
                "973": (-55.0, -51.0, 2.0, 6.0), "974": (55.0, 56.0, -21.5, -20.7),
                "976": (44.8, 45.5, -13.2, -12.5)}


def weather_labels() -> dict[str, str]:
    return {"secured": _("Sécurisé"), "achievable": _("Atteignable"),
            "support_needed": _("Appui nécessaire"), "compromised": _("Compromis")}


@dataclass
class LegendClass:
    label: str
    colour: str
    codes: list[str] = field(default_factory=list)


@dataclass
class Classification:
    classes: list[LegendClass]
    class_of: dict[str, int]  # code -> index in classes (codes without data are absent)
    kind: str  # quantiles, deciles, weather


def fmt(value, decimals: int | None = None, unit: str = "", symbols: tuple[str, str] | None = None) -> str:
    """A value as the current locale writes it (``12,5 %`` in French), ``–`` for None."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return weather_labels().get(value, value)
    decimal_sign, group_sign = symbols or _symbols()
    text = f"{float(value):,.{2 if decimals is None else decimals}f}"
    if decimals is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    text = text.replace(",", "\0").replace(".", decimal_sign).replace("\0", group_sign)
    return f"{text}\u00a0{unit}" if unit else text


def _symbols() -> tuple[str, str]:
    return _locale_symbols(str(get_locale() or "fr"))


@functools.lru_cache(maxsize=8)
def _locale_symbols(locale: str) -> tuple[str, str]:
    parsed = Locale.parse(locale)
    return numbers.get_decimal_symbol(parsed), numbers.get_group_symbol(parsed)


def classify(values: dict, scale: str, decimals: int | None = None, unit: str = "",
             categories=None) -> Classification:
    """Legend classes of ``values`` (code -> number, weather key, category key or None)."""
    if scale == "categories":
        pairs = [(key, str(label)) for key, label in (categories or [])]
        classes = [LegendClass(label, CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)])
                   for i, (_key, label) in enumerate(pairs)]
        keys = [key for key, _label in pairs]
        class_of = {code: keys.index(v) for code, v in values.items() if v in keys}
    elif scale == "weather":
        labels = weather_labels()
        classes = [LegendClass(labels[key], colour) for key, colour in WEATHER_COLOURS.items()]
        keys = list(WEATHER_COLOURS)
        class_of = {code: keys.index(v) for code, v in values.items() if v in keys}
    else:
        numbers = {code: float(v) for code, v in values.items()
                   if v is not None and not isinstance(v, str)}
        wanted = 10 if scale == "deciles" else 5
        distinct = sorted(set(numbers.values()))
        if len(distinct) <= wanted:  # one class per distinct value
            cuts = distinct[:-1]
            palette = _palette(len(distinct))
            classes = [LegendClass(fmt(v, decimals, unit), palette[i]) for i, v in enumerate(distinct)]
        else:
            cuts = sorted(set(statistics.quantiles(sorted(numbers.values()), n=wanted,
                                                   method="inclusive")))
            cuts = [c for c in cuts if c < distinct[-1]]
            bounds = [distinct[0]] + cuts + [distinct[-1]]
            palette = _palette(len(bounds) - 1)
            classes = []
            for i, (low, high) in enumerate(zip(bounds, bounds[1:])):
                if i == 0:
                    label = _("de %(low)s à %(high)s", low=fmt(low, decimals),
                              high=fmt(high, decimals, unit))
                else:
                    label = _("plus de %(low)s à %(high)s", low=fmt(low, decimals),
                              high=fmt(high, decimals, unit))
                classes.append(LegendClass(label, palette[i]))
        class_of = {code: bisect.bisect_left(cuts, v) for code, v in numbers.items()}
    for code, index in class_of.items():
        classes[index].codes.append(code)
    return Classification(classes, class_of,
                          scale if scale in ("weather", "deciles", "categories") else "quantiles")


def _palette(n: int) -> list[str]:
    if n <= 5:
        base = PALETTES[5]
        return [base[round(i * 4 / (n - 1))] for i in range(n)] if n > 1 else [base[2]]
    return [PALETTES[10][round(i * 9 / (n - 1))] for i in range(n)]


# ----------------------------------------------------------------------------- projections
def lambert(coords: np.ndarray) -> np.ndarray:
    """Lambert conformal conic on a sphere with the parameters of Lambert-93 (EPSG:2154)."""
    lon, lat = np.radians(coords[:, 0]), np.radians(coords[:, 1])
    p1, p2, p0, l0 = map(math.radians, (44.0, 49.0, 46.5, 3.0))
    n = (math.log(math.cos(p1) / math.cos(p2))
         / math.log(math.tan(math.pi / 4 + p2 / 2) / math.tan(math.pi / 4 + p1 / 2)))
    f = math.cos(p1) * math.tan(math.pi / 4 + p1 / 2) ** n / n
    rho = f / np.tan(np.pi / 4 + lat / 2) ** n
    rho0 = f / math.tan(math.pi / 4 + p0 / 2) ** n
    return np.column_stack([rho * np.sin(n * (lon - l0)), -(rho0 - rho * np.cos(n * (lon - l0)))])


def equirectangular(lat0: float):
    k = math.cos(math.radians(lat0))

    def project(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([coords[:, 0] * k, -coords[:, 1]])

    return project


def area_of(geometry) -> str:
    """``metro`` or the DROM department code whose extent holds the shape's centre."""
    x0, y0, x1, y1 = geometry.bounds
    x, y = (x0 + x1) / 2, (y0 + y1) / 2
    for code, (a, b, c, d) in DROM_EXTENTS.items():
        if a <= x <= b and c <= y <= d:
            return code
    return "metro"


@dataclass
class Frame:
    area: str
    box: tuple[float, float, float, float]  # x, y, width, height in the SVG
    label: str = ""


def _fit(geometries, box, projection):
    """Project ``geometries`` and scale them into ``box``, in tenths of a pixel (the map group
    is drawn at ``scale(0.1)`` so that paths hold small integers)."""
    projected = shapely.transform(np.array(geometries, dtype=object), projection)
    x0, y0, x1, y1 = shapely.total_bounds(projected)
    bx, by, bw, bh = box
    scale = min(bw / max(x1 - x0, 1e-9), bh / max(y1 - y0, 1e-9))
    offset = np.array([bx + (bw - (x1 - x0) * scale) / 2 - x0 * scale,
                       by + (bh - (y1 - y0) * scale) / 2 - y0 * scale])
    fitted = shapely.transform(projected, lambda c: (c * scale + offset) * 10)
    simple = shapely.simplify(fitted, 3.5, preserve_topology=False)  # for the eye only
    collapsed = shapely.is_empty(simple)
    simple[collapsed] = fitted[collapsed]  # tiny territories keep their full outline
    return simple


def _paths(geometries) -> list[str]:
    """SVG path data of each geometry: every ring as a move then relative lines, in integer
    tenths of a pixel (computed for all geometries at once)."""
    parts, part_owner = shapely.get_parts(geometries, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    points = np.rint(coords).astype(np.int64)
    starts = np.searchsorted(coord_ring, np.arange(len(rings)), side="left")
    ends = np.searchsorted(coord_ring, np.arange(len(rings)), side="right")
    out: list[list[str]] = [[] for _ in range(len(geometries))]
    for ring, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
        if end - start < 4:
            continue
        ring_points = points[start:end]
        steps = np.diff(ring_points[:-1], axis=0)
        steps = steps[(steps != 0).any(axis=1)]
        out[part_owner[ring_part[ring]]].append(
            f"M{ring_points[0, 0]} {ring_points[0, 1]}l" + " ".join(map(str, steps.ravel().tolist())) + "z")
    return ["".join(p) for p in out]


_SHAPES: dict[int, tuple[dict, object]] = {}


def _shape(geometry: dict):
    """The shapely shape of a GeoJSON geometry, cached while the (cached) layer lives."""
    key = id(geometry)
    cached = _SHAPES.get(key)
    if cached is None or cached[0] is not geometry:
        if len(_SHAPES) > 200_000:
            _SHAPES.clear()
        cached = _SHAPES[key] = (geometry, shape(geometry))
    return cached[1]


# ----------------------------------------------------------------------------- the map
def render(level: str, layer: dict, values: dict, expected: dict[str, str], options: dict) -> RenderedFigure:
    """The SVG choropleth of ``layer`` coloured by ``values``; ``expected`` maps every code the
    map must account for to its name (shapes missing from the layer are listed as such)."""
    scale = options.get("scale") or "quantiles"
    unit, decimals = options.get("unit") or "", options.get("decimals")
    title = options.get("title") or _("Carte")
    link = options.get("link")
    uid = "carto-" + secrets.token_hex(4)
    classification = classify(values, scale, decimals, unit, options.get("categories"))

    shapes, names = {}, dict(expected)
    for feature in layer["features"]:
        code = str(feature["properties"]["code"])
        names.setdefault(code, feature["properties"].get("name") or code)
        if feature.get("geometry"):
            shapes[code] = _shape(feature["geometry"])
    for code in values:
        names.setdefault(code, code)
    without_geometry = sorted(code for code in names if code not in shapes)

    symbols = _symbols()
    shown = {code: fmt(value, decimals, unit, symbols) for code, value in values.items()}
    if scale == "categories":
        labels = {key: str(label) for key, label in options.get("categories") or []}
        shown = {code: labels.get(value, "–") for code, value in values.items()}
    by_area: dict[str, list[str]] = {}
    for code, geometry in shapes.items():
        by_area.setdefault(area_of(geometry), []).append(code)
    frames = _layout(by_area)

    body, bottom = [], MARGIN
    for frame in frames:
        codes = by_area[frame.area]
        projection = lambert if frame.area == "metro" else equirectangular(
            (shapes[codes[0]].bounds[1] + shapes[codes[0]].bounds[3]) / 2)
        inner = frame.box if not frame.label else (frame.box[0] + 4, frame.box[1] + 18,
                                                   frame.box[2] - 8, frame.box[3] - 22)
        fitted = _fit([shapes[c] for c in codes], inner, projection)
        if frame.label:
            x, y, w, h = frame.box
            body.append(f'<g class="carto-inset"><rect x="{x}" y="{y}" width="{w}" height="{h}" '
                        f'fill="none" stroke="#767676" stroke-width="0.8"/>'
                        f'<text x="{x + 4}" y="{y + 13}" font-size="12" fill="#161616">'
                        f'{escape(frame.label)}</text></g>')
        stroke = 2.5 if len(codes) > 300 else 6
        body.append('<g transform="scale(0.1)">')
        for code, path in zip(codes, _paths(fitted)):
            body.append(_territory(code, path, names[code], shown.get(code), classification,
                                   uid, link, stroke))
        body.append("</g>")
        bottom = max(bottom, frame.box[1] + frame.box[3])

    no_data = sum(1 for code in names if code not in classification.class_of)
    legend, legend_bottom = _legend(classification, no_data, without_geometry, uid, scale, unit)
    height = max(bottom, legend_bottom) + 44
    source = [_("Source : %(source)s, %(vintage)s.", **SOURCE),
              _("%(licence)s ; contours lus dans %(package)s.", **SOURCE)]
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="carto-map" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="{"group" if link else "img"}" aria-labelledby="{uid}-t {uid}-d" '
        f'data-level="{escape(level)}" style="max-width:{WIDTH}px;height:auto" font-family="sans-serif">'
        f'<title id="{uid}-t">{escape(title)}</title>'
        f'<desc id="{uid}-d">{escape(_summary(level, values, classification, without_geometry, names, decimals, unit))}</desc>'
        f'<defs><pattern id="{uid}-nodata" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{NO_DATA_FILL}"/>'
        f'<line x1="0" y1="0" x2="0" y2="6" stroke="#8a8a8a" stroke-width="1.2"/></pattern>'
        f'<pattern id="{uid}-nodata-map" width="60" height="60" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="60" height="60" fill="{NO_DATA_FILL}"/>'
        f'<line x1="0" y1="0" x2="0" y2="60" stroke="#8a8a8a" stroke-width="12"/></pattern></defs>'
        f'<style>.carto-map a:hover path,.carto-map a:focus path,.carto-map path.is-active'
        f'{{stroke:#000;stroke-width:20}}.carto-map a:focus{{outline:none}}</style>'
        + "".join(body) + legend
        + "".join(f'<text x="{MARGIN}" y="{height - 26 + 14 * i}" font-size="11" fill="#3a3a3a">'
                  f'{escape(line)}</text>' for i, line in enumerate(source))
        + "</svg>"
    )
    return RenderedFigure(svg=Markup(svg), title=title,
                          summary=_summary(level, values, classification, without_geometry, names,
                                           decimals, unit),
                          table=_table(names, shown, classification, without_geometry))


def _layout(by_area: dict[str, list[str]]) -> list[Frame]:
    insets = [a for a in DROM_DEPARTMENTS if a in by_area]
    if "metro" not in by_area:
        if len(insets) == 1:
            return [Frame(insets[0], (MARGIN, MARGIN, MAP_WIDTH, MAP_HEIGHT))]
        main_height = 0
    else:
        main_height = MAP_HEIGHT if not insets else MAP_HEIGHT - INSET_HEIGHT - MARGIN
    frames = [Frame("metro", (MARGIN, MARGIN, MAP_WIDTH, main_height))] if "metro" in by_area else []
    if insets:
        gap = 6
        width = (MAP_WIDTH - gap * (len(insets) - 1)) / len(insets)
        y = MARGIN + (main_height + MARGIN if main_height else 0)
        frames += [Frame(a, (round(MARGIN + i * (width + gap), 1), y, round(width, 1), INSET_HEIGHT),
                         DROM_DEPARTMENTS[a]) for i, a in enumerate(insets)]
    return frames


def _territory(code, path_data, name, shown, classification, uid, link, stroke) -> str:
    index = classification.class_of.get(code)
    fill = classification.classes[index].colour if index is not None else f"url(#{uid}-nodata-map)"
    value = shown if index is not None else _("pas de donnée")
    label = f"{name} ({code}) : {value}"
    path = (f'<path d="{path_data}" fill="{fill}" fill-rule="evenodd" stroke="#ffffff" '
            f'stroke-width="{stroke}" data-code="{escape(code)}"><title>{escape(label)}</title></path>')
    if link:
        href = link.replace("{code}", code)
        return f'<a href="{escape(href)}" aria-label="{escape(label)}">{path}</a>'
    return path


def _legend(classification, no_data, without_geometry, uid, scale, unit) -> tuple[str, int]:
    x, y = MARGIN * 2 + MAP_WIDTH, MARGIN + 14
    heading = {"weather": _("Météo"), "deciles": _("Déciles"), "quantiles": _("Quintiles"),
               "categories": _("Légende")}[classification.kind]
    if unit and scale in ("quantiles", "deciles"):
        heading += f" ({unit})"
    items = [f'<text x="{x}" y="{y}" font-size="15" font-weight="bold" fill="#161616">{escape(heading)}</text>']
    y += 10
    rows = [(c.colour, c.label, len(c.codes)) for c in classification.classes]
    rows.append((f"url(#{uid}-nodata)", _("Pas de donnée"), no_data))
    for colour, label, count in rows:
        items.append(f'<rect x="{x}" y="{y}" width="20" height="16" fill="{colour}" stroke="#767676" stroke-width="0.5"/>'
                     f'<text x="{x + 26}" y="{y + 13}" font-size="13" fill="#161616">'
                     f'{escape(label)} ({count})</text>')
        y += 22
    if without_geometry:
        y += 6
        heading = _("Sans géométrie : %(count)s", count=len(without_geometry))
        items.append(f'<text x="{x}" y="{y + 11}" font-size="13" fill="#161616">{escape(heading)}</text>')
        for code in without_geometry[:12]:
            y += 15
            items.append(f'<text x="{x + 8}" y="{y + 11}" font-size="12" fill="#3a3a3a">× {escape(code)}</text>')
        if len(without_geometry) > 12:
            y += 15
            items.append(f'<text x="{x + 8}" y="{y + 11}" font-size="12" fill="#3a3a3a">…</text>')
        y += 20
    return f'<g class="carto-legend">{"".join(items)}</g>', y


def _summary(level, values, classification, without_geometry, names, decimals, unit) -> str:
    with_data = len(classification.class_of)
    parts = [_("%(count)s territoires sur %(total)s ont une donnée.", count=with_data, total=len(names))]
    if classification.kind in ("quantiles", "deciles") and with_data:
        numbers = sorted(float(values[c]) for c in classification.class_of)
        parts.append(_("Valeurs de %(low)s à %(high)s, médiane %(median)s.",
                       low=fmt(numbers[0], decimals, unit), high=fmt(numbers[-1], decimals, unit),
                       median=fmt(statistics.median(numbers), decimals, unit)))
    parts.append(_("Légende : %(classes)s.", classes=" ; ".join(
        f"{c.label} ({len(c.codes)})" for c in classification.classes) or _("aucune classe")))
    if without_geometry:
        shown = ", ".join(f"{names[c]} ({c})" for c in without_geometry[:10])
        parts.append(_("Sans géométrie dans la source : %(list)s.", list=shown
                       + (" …" if len(without_geometry) > 10 else "")))
    return " ".join(parts)


def _table(names, shown, classification, without_geometry) -> dict:
    missing = set(without_geometry)
    rows = []
    for code in sorted(names):
        index = classification.class_of.get(code)
        legend = classification.classes[index].label if index is not None else _("Pas de donnée")
        if code in missing:
            legend += " · " + _("sans géométrie")
        rows.append([code, names[code], shown.get(code, "–"), legend])
    return {"columns": [_("Code"), _("Territoire"), _("Valeur"), _("Classe")], "rows": rows}
