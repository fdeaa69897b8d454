"""Progress gauge: a half ring from 0 to 100 %, the value written in its centre."""

from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext as _

from core.api import RenderedFigure
from plugins.visualisation.charts.fmt import locale_of, number
from plugins.visualisation.charts.svg import MUTED, document, el, num, text, title, uid

FILL = "#1d4f91"
TRACK = "#e3e3fd"
TRACK_EDGE = "#6a6af4"


def _arc(cx: float, cy: float, r: float, start: float, end: float) -> str:
    """An arc of the upper half circle, from ``start`` to ``end`` percent (0 = left, 100 = right)."""
    def point(p):
        angle = math.pi * (1 - p / 100)
        return f"{num(cx + r * math.cos(angle))},{num(cy - r * math.sin(angle))}"
    return f"M{point(start)} A{num(r)},{num(r)} 0 0 1 {point(end)}"


def draw(data: dict[str, Any], options: dict[str, Any]) -> RenderedFigure:
    locale = locale_of(options)
    width, height = float(options.get("width") or 240), float(options.get("height") or 150)
    value = data.get("value")
    value = None if value is None else min(max(float(value), 0.0), 100.0)
    label = data.get("label") or _("Avancement")
    chart_title = data.get("title") or label
    shown = number(value, 0 if value is None or value == int(value) else 1, locale, "%") if value is not None \
        else _("non calculé")
    summary = f"{label} : {shown}."
    ident = uid("gauge", data, options)
    cx, cy = width / 2, height - 40
    r = min(width / 2 - 24, cy - 12) / 1.12
    stroke = r * 0.24
    body = [el("path", d=_arc(cx, cy, r, 0, 100), fill="none", stroke=TRACK_EDGE, stroke_width=stroke + 2),
            el("path", d=_arc(cx, cy, r, 0, 100), fill="none", stroke=TRACK, stroke_width=stroke)]
    if value is not None and value > 0:
        body.append(el("path", title(summary), d=_arc(cx, cy, r, 0, value), fill="none", stroke=FILL,
                       stroke_width=stroke, class_="vis-point vis-gauge__value"))
    for tick, tx in ((0, cx - r), (100, cx + r)):
        body.append(text(tx, cy + 16, f"{tick} %", font_size=10, fill=MUTED, text_anchor="middle"))
    body.append(text(cx, cy - 4, shown, text_anchor="middle", font_size=24 if value is not None else 14,
                     font_weight="bold", fill=FILL if value is not None else MUTED))
    body.append(text(cx, cy + 32, label, text_anchor="middle", font_size=12))
    svg = document(ident=ident, kind="gauge", width=width, height=height, title_text=chart_title, desc=summary,
                   body=body)
    table = {"columns": [_("Mesure"), _("Valeur")], "rows": [[label, shown]]}
    return RenderedFigure(svg=svg, summary=summary, table=table, title=chart_title)
