"""Weather timeline: each rating at its place in time, with a shape, a colour and a label per
weather, so that colour is never the only carrier."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from core.api import RenderedFigure
from plugins.visualisation.charts.fmt import as_date, day, locale_of, month
from plugins.visualisation.charts.svg import INK, MUTED, document, el, marker, text, text_width, title, uid

# weather key: colour, shape, hollow
WEATHER = {
    "secured": ("#18753c", "circle", False),
    "achievable": ("#1d4f91", "square", False),
    "support_needed": ("#a94300", "triangle", False),
    "compromised": ("#ce0500", "cross", False),
    "not_set": ("#666666", "circle", True),
}


def draw(data: dict[str, Any], options: dict[str, Any]) -> RenderedFigure:
    locale = locale_of(options)
    width, height = float(options.get("width") or 640), float(options.get("height") or 110)
    entries = sorted(data.get("entries") or [], key=lambda e: as_date(e["date"]))
    chart_title = data.get("title") or _("Historique de la météo")
    ident = uid("weather_timeline", data, options)
    summary = summarise(chart_title, entries, locale)
    table = {"columns": [_("Date"), _("Météo")],
             "rows": [[day(e["date"], locale), e.get("label") or e.get("weather", "")] for e in entries]}
    if not entries:
        body = [text(width / 2, height / 2, _("Aucune météo renseignée"), text_anchor="middle", fill=MUTED)]
        svg = document(ident=ident, kind="weather_timeline", width=width, height=height, title_text=chart_title,
                       desc=summary, body=body)
        return RenderedFigure(svg=svg, summary=summary, table=table, title=chart_title)

    seen: dict[str, str] = {}
    for entry in entries:
        seen.setdefault(entry.get("weather", "not_set"), entry.get("label") or entry.get("weather", ""))
    legend, cx, row = [], 8.0, 0
    for key in WEATHER:
        if key in seen:
            span = 16 + text_width(seen[key]) + 14
            if cx + span > width - 8 and cx > 8:
                cx, row = 8.0, row + 1
            colour, shape, hollow = WEATHER[key]
            legend.append(marker(shape, cx + 6, 14 + row * 20, 11, colour, hollow=hollow))
            legend.append(text(cx + 16, 18 + row * 20, seen[key]))
            cx += span
    if not options.get("height"):
        height = 110.0 + row * 20
    axis_y, left, right = height - 56, 44.0, width - 44
    step = (right - left) / max(len(entries) - 1, 1)
    every = max(1, int(70 // max(step, 1)) + (1 if step < 70 else 0)) if len(entries) > 1 else 1
    body = [el("g", "".join(legend), class_="vis-legend"),
            el("line", x1=left, x2=right, y1=axis_y, y2=axis_y, stroke=INK, stroke_width=1)]
    points = []
    for index, entry in enumerate(entries):
        px = left + index * step if len(entries) > 1 else (left + right) / 2
        colour, shape, hollow = WEATHER.get(entry.get("weather", ""), WEATHER["not_set"])
        tip = title(f"{day(entry['date'], locale)} : {entry.get('label') or entry.get('weather', '')}")
        points.append(marker(shape, px, axis_y, 14, colour, hollow=hollow, content=tip, class_="vis-point"))
        if index % every == 0 or index == len(entries) - 1 and (index % every) * step >= 60:
            points.append(el("line", x1=px, x2=px, y1=axis_y + 9, y2=axis_y + 13, stroke=MUTED))
            points.append(text(px, axis_y + 27, month(entry["date"], locale), text_anchor="middle", font_size=11,
                               fill=MUTED))
    body.append(el("g", "".join(points), class_="vis-series"))
    svg = document(ident=ident, kind="weather_timeline", width=width, height=height, title_text=chart_title,
                   desc=summary, body=body)
    return RenderedFigure(svg=svg, summary=summary, table=table, title=chart_title)


def summarise(chart_title: str, entries: list[dict], locale: str) -> str:
    if not entries:
        return _("%(title)s : aucune météo renseignée.", title=chart_title)
    last = entries[-1]
    return _("%(title)s : %(count)s relevés du %(first)s au %(last)s ; dernière météo : %(label)s (%(date)s).",
             title=chart_title, count=len(entries), first=day(entries[0]["date"], locale),
             last=day(last["date"], locale), label=last.get("label") or last.get("weather", ""),
             date=day(last["date"], locale))
