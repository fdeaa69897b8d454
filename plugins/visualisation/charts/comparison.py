"""Comparison: one horizontal bar per territory of a level, the selected one highlighted (colour,
hatching and a bold label), with an optional reference line (nation, median)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from core.api import RenderedFigure
from plugins.visualisation.charts.fmt import locale_of, number
from plugins.visualisation.charts.svg import (BACKGROUND, GRID, INK, MUTED, Scale, document, el, nice_ticks, text,
                                              text_width, title, uid)

BAR = "#1d4f91"
HIGHLIGHT = "#a94300"
MAX_LABEL = 26


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[:MAX_LABEL - 1] + "…"


def draw(data: dict[str, Any], options: dict[str, Any]) -> RenderedFigure:
    locale = locale_of(options)
    unit, decimals = data.get("unit") or "", data.get("decimals") or 0
    fmt = lambda v: number(v, decimals, locale, unit)  # noqa: E731
    bars = [dict(b, value=None if b.get("value") is None else float(b["value"])) for b in data.get("bars") or []]
    reference = data.get("reference") if (data.get("reference") or {}).get("value") is not None else None
    chart_title = data.get("title") or _("Comparaison des territoires")
    summary = summarise(chart_title, bars, reference, fmt)
    table = tabulate(bars, reference, fmt)
    ident = uid("comparison", data, options)
    row = float(options.get("row_height") or 18)
    width = float(options.get("width") or 640)
    top = 44.0 if reference else 30.0
    height = float(options.get("height") or top + max(len(bars), 1) * row + 12)
    if not bars:
        body = [text(width / 2, height / 2 + 4, _("Aucune donnée à représenter"), text_anchor="middle", fill=MUTED)]
        svg = document(ident=ident, kind="comparison", width=width, height=height, title_text=chart_title,
                       desc=summary, body=body)
        return RenderedFigure(svg=svg, summary=summary, table=table, title=chart_title)

    values = [b["value"] for b in bars if b["value"] is not None] + ([float(reference["value"])] if reference else [])
    lo, hi = min(values + [0.0]), max(values + [0.0])
    if unit == "%" and lo >= 0 and hi <= 100:
        lo, hi = 0.0, 100.0  # rates and progress: the whole scale
    ticks = nice_ticks(lo, hi if hi > lo else lo + 1, 5)
    left = min(max(text_width(_short(b.get("label", "")), 12) for b in bars) + 20, width * 0.4)
    value_room = text_width(fmt(ticks[-1]), 11) + 10
    x = Scale(ticks[0], ticks[-1], left, width - value_room)
    bottom = top + len(bars) * row
    defs = el("pattern", el("rect", width=6, height=6, fill=HIGHLIGHT)
              + el("path", d="M0,6 L6,0 M-1,1 L1,-1 M5,7 L7,5", stroke=BACKGROUND, stroke_width=1.5),
              id=f"{ident}-hatch", width=6, height=6, patternUnits="userSpaceOnUse")
    body = []
    for tick in ticks:
        body.append(el("line", x1=x(tick), x2=x(tick), y1=top - 4, y2=bottom, stroke=GRID, stroke_width=1))
        body.append(text(x(tick), top - 8, number(tick, 0 if ticks[-1] - ticks[0] >= 10 else decimals, locale),
                         text_anchor="middle", font_size=11, fill=MUTED))
    zero = x(max(ticks[0], min(0.0, ticks[-1])))
    rows = []
    for index, bar in enumerate(bars):
        cy = top + index * row
        label, value, highlight = bar.get("label", ""), bar["value"], bool(bar.get("highlight"))
        shown = fmt(value) if value is not None else _("non disponible")
        tip = title(f"{label} : {shown}")
        weight = "bold" if highlight else None
        parts = [text(left - 8, cy + row * 0.68, ("▶ " if highlight else "") + _short(label), text_anchor="end",
                      font_weight=weight)]
        if value is None:
            parts.append(text(left + 4, cy + row * 0.68, _("n.d."), fill=MUTED, font_size=11, font_style="italic"))
        else:
            x0, x1 = sorted((zero, x(value)))
            parts.append(el("rect", tip, x=x0, y=cy + 3, width=max(x1 - x0, 1.0), height=row - 6,
                            fill=f"url(#{ident}-hatch)" if highlight else BAR,
                            stroke=HIGHLIGHT if highlight else None, stroke_width=1.5 if highlight else None,
                            class_="vis-point"))
            shown = fmt(value)  # on a white ground, so that the reference line never crosses it
            parts.append(el("rect", x=x1 + 2, y=cy + 3, width=text_width(shown, 11) + 4, height=row - 6,
                            fill=BACKGROUND))
            parts.append(text(x1 + 4, cy + row * 0.68, shown, font_size=11, font_weight=weight))
        rows.append(el("g", "".join(parts), class_="vis-bar" + (" vis-bar--highlight" if highlight else "")))
    if reference:  # under the bars, so that it never hides a value
        rx = x(float(reference["value"]))
        label = f"{reference.get('label', '')} : {fmt(reference['value'])}"
        body.append(el("g", el("line", x1=rx, x2=rx, y1=top - 22, y2=bottom, stroke=INK, stroke_width=2,
                               stroke_dasharray="5 3")
                       + text(rx + (4 if rx < width * 0.6 else -4), top - 26, label, font_size=11, font_weight="bold",
                              text_anchor="start" if rx < width * 0.6 else "end"),
                       class_="vis-reference"))
    body.append(el("g", "".join(rows), class_="vis-bars"))
    body.append(el("line", x1=zero, x2=zero, y1=top - 4, y2=bottom, stroke=INK, stroke_width=1))
    svg = document(ident=ident, kind="comparison", width=width, height=height, title_text=chart_title,
                   desc=summary, body=body, defs=defs)
    return RenderedFigure(svg=svg, summary=summary, table=table, title=chart_title)


def summarise(chart_title: str, bars: list[dict], reference: dict | None, fmt) -> str:
    known = sorted((b for b in bars if b["value"] is not None), key=lambda b: -b["value"])
    if not known:
        return _("%(title)s : aucune valeur pour les %(count)s territoires.", title=chart_title, count=len(bars))
    parts = [_("%(known)s territoires renseignés sur %(count)s, de %(low)s (%(low_label)s) à %(high)s (%(high_label)s)",
               known=len(known), count=len(bars), low=fmt(known[-1]["value"]), low_label=known[-1].get("label", ""),
               high=fmt(known[0]["value"]), high_label=known[0].get("label", ""))]
    for bar in bars:
        if bar.get("highlight"):
            if bar["value"] is None:
                parts.append(_("%(label)s : non disponible", label=bar.get("label", "")))
            else:
                rank = 1 + sum(1 for b in known if b["value"] > bar["value"])
                parts.append(_("%(label)s : %(value)s, rang %(rank)s sur %(known)s", label=bar.get("label", ""),
                               value=fmt(bar["value"]), rank=rank, known=len(known)))
    if reference:
        parts.append(f"{reference.get('label', '')} : {fmt(reference['value'])}")
    return f"{chart_title}. " + " ; ".join(parts) + "."


def tabulate(bars: list[dict], reference: dict | None, fmt) -> dict[str, list]:
    rows = [[b.get("code", ""), b.get("label", "") + (" " + _("(sélectionné)") if b.get("highlight") else ""),
             fmt(b["value"])] for b in bars]
    if reference:
        rows.append(["", reference.get("label", ""), fmt(reference["value"])])
    return {"columns": [_("Code"), _("Territoire"), _("Valeur")], "rows": rows}
