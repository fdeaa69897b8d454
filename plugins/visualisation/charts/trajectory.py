"""Trajectory: a territory's actual values against the nation and the median, with the baseline,
the annual and final targets and the expected path between them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import gettext as _

from core.api import RenderedFigure
from plugins.visualisation.charts.fmt import as_date, day, locale_of, month, number
from plugins.visualisation.charts.svg import (GRID, INK, MUTED, Scale, document, el, marker, nice_ticks, num,
                                              text, text_width, title, uid)

# colour, marker, dash pattern, line width: every series differs by more than its colour
STYLES = {
    "territory": ("#1d4f91", "circle", None, 2.5),
    "nation": ("#4d4d4d", "square", "6 3", 2.0),
    "median": ("#a94300", "diamond", "2 3", 2.0),
}
OTHER_STYLES = [("#6e445a", "triangle_down", "8 3 2 3", 2.0), ("#00695c", "cross", "4 2", 2.0)]
PATH = ("#18753c", "triangle", "8 4", 2.0)
LEGEND_ROW = 18


def style_of(key: str, index: int) -> tuple[str, str, str | None, float]:
    return STYLES.get(key) or OTHER_STYLES[index % len(OTHER_STYLES)]


def _points(series: dict[str, Any]) -> list[tuple[dt.date, float | None]]:
    return sorted(((as_date(d), None if v is None else float(v)) for d, v in series.get("points") or []),
                  key=lambda p: p[0])


def expected_path(data: dict[str, Any]) -> list[tuple[dt.date, float, str]]:
    """Baseline then targets by date: ``(date, value, role)`` with role baseline/annual/final."""
    out = []
    baseline = data.get("baseline")
    if baseline and baseline.get("value") is not None:
        out.append((as_date(baseline["date"]), float(baseline["value"]), "baseline"))
    for target in sorted(data.get("targets") or [], key=lambda t: as_date(t["date"])):
        if target.get("value") is not None:
            out.append((as_date(target["date"]), float(target["value"]), "final" if target.get("final") else "annual"))
    return out


def role_label(role: str) -> str:
    return {"baseline": _("valeur initiale"), "annual": _("cible annuelle"), "final": _("cible finale")}[role]


def draw(data: dict[str, Any], options: dict[str, Any]) -> RenderedFigure:
    locale = locale_of(options)
    width, height = float(options.get("width") or 640), float(options.get("height") or 320)
    unit, decimals = data.get("unit") or "", data.get("decimals") or 0
    fmt = lambda v: number(v, decimals, locale, unit)  # noqa: E731
    series = [(s, _points(s)) for s in data.get("series") or []]
    path = expected_path(data)
    chart_title = data.get("title") or _("Trajectoire")
    summary = summarise(chart_title, series, path, data, fmt, locale)
    table = tabulate(series, path, fmt, locale)
    ident = uid("trajectory", data, options)

    dates = [d for _, pts in series for d, _v in pts] + [d for d, _v, _r in path]
    values = [v for _, pts in series for _d, v in pts if v is not None] + [v for _d, v, _r in path]
    if not values:
        body = [text(width / 2, height / 2, _("Aucune donnée à représenter"), text_anchor="middle", fill=MUTED)]
        svg = document(ident=ident, kind="trajectory", width=width, height=height, title_text=chart_title,
                       desc=summary, body=body)
        return RenderedFigure(svg=svg, summary=summary, table=table, title=chart_title)

    legend, legend_height = _legend(series, path, width)
    lo, hi = min(values), max(values)
    if lo >= 0 and lo <= hi * 0.25:
        lo = 0.0
    yticks = nice_ticks(lo, hi, 5)
    ylabels = [number(t, decimals if (hi - lo) < 10 else 0, locale) for t in yticks]
    left = max(text_width(label, 11) for label in ylabels) + 14
    top, bottom, right = legend_height + 24, height - 28, width - 18
    first, last = min(dates), max(dates)
    if first == last:
        first, last = first - dt.timedelta(days=31), last + dt.timedelta(days=31)
    x = Scale(first.toordinal(), last.toordinal(), left, right)
    y = Scale(yticks[0], yticks[-1], bottom, top)

    body = [legend]
    for tick, label in zip(yticks, ylabels):
        body.append(el("line", x1=left, x2=right, y1=y(tick), y2=y(tick), stroke=GRID, stroke_width=1))
        body.append(text(left - 6, y(tick) + 4, label, text_anchor="end", font_size=11, fill=MUTED))
    for tick, label in _time_ticks(first, last, right - left, locale):
        body.append(el("line", x1=x(tick.toordinal()), x2=x(tick.toordinal()), y1=bottom, y2=bottom + 4, stroke=INK))
        body.append(text(x(tick.toordinal()), bottom + 17, label, text_anchor="middle", font_size=11, fill=MUTED))
    body.append(el("line", x1=left, x2=right, y1=bottom, y2=bottom, stroke=INK, stroke_width=1))

    if path:
        colour, _shape, dash, stroke = PATH
        d = " ".join(f"{'M' if i == 0 else 'L'}{num(x(p[0].toordinal()))},{num(y(p[1]))}" for i, p in enumerate(path))
        group = [el("path", d=d, fill="none", stroke=colour, stroke_width=stroke, stroke_dasharray=dash)]
        for date, value, role in path:
            tip = title(f"{role_label(role).capitalize()} : {fmt(value)} ({day(date, locale)})")
            px, py = x(date.toordinal()), y(value)
            if role == "baseline":
                group.append(marker("circle", px, py, 10, colour, hollow=True, content=tip, class_="vis-point"))
            else:
                final = role == "final"
                group.append(marker("triangle", px, py, 14 if final else 10, colour, hollow=not final, content=tip,
                                    class_="vis-point"))
        final = [p for p in path if p[2] == "final"]
        if final:
            date, value, _role = final[-1]
            px = x(date.toordinal())
            anchor = "end" if px > (left + right) / 2 else "start"
            body_label = _("Cible : %(value)s", value=fmt(value))
            group.append(text(px + (-9 if anchor == "end" else 9), y(value) - 10, body_label, text_anchor=anchor,
                              font_size=11, font_weight="bold", fill=colour))
        body.append(el("g", "".join(group), class_="vis-series vis-series--expected"))

    for index, (info, points) in reversed(list(enumerate(series))):  # the territory drawn last, on top
        colour, shape, dash, stroke = style_of(info.get("key", ""), index)
        segments, current = [], []
        for date, value in points:
            if value is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append((x(date.toordinal()), y(value)))
        if current:
            segments.append(current)
        d = " ".join("M" + " L".join(f"{num(px)},{num(py)}" for px, py in seg) for seg in segments)
        group = [el("path", d=d, fill="none", stroke=colour, stroke_width=stroke, stroke_dasharray=dash,
                    stroke_linejoin="round")] if d else []
        size = 7 if len(points) <= 40 else 5
        for date, value in points:
            if value is None:
                continue
            tip = title(f"{info.get('label', '')} — {day(date, locale)} : {fmt(value)}")
            group.append(marker(shape, x(date.toordinal()), y(value), size, colour, content=tip, class_="vis-point"))
        body.append(el("g", "".join(group), class_=f"vis-series vis-series--{info.get('key', 'other')}"))

    svg = document(ident=ident, kind="trajectory", width=width, height=height, title_text=chart_title,
                   desc=summary, body=body)
    return RenderedFigure(svg=svg, summary=summary, table=table, title=chart_title)


def _legend(series, path, width: float) -> tuple[str, float]:
    """Legend entries (line sample + marker + label), wrapped over rows; returns its height."""
    entries = [(info.get("label", ""), *style_of(info.get("key", ""), i), False) for i, (info, _p) in enumerate(series)]
    if path:
        colour, shape, dash, stroke = PATH
        entries.append((_("Trajectoire attendue"), colour, shape, dash, stroke, True))
        if any(role == "final" for _d, _v, role in path):
            entries.append((_("Cible finale"), colour, shape, None, 0.0, False))
    parts, cx, row = [], 8.0, 0
    for label, colour, shape, dash, stroke, hollow in entries:
        span = 34 + text_width(label, 12) + 16
        if cx + span > width - 8 and cx > 8:
            cx, row = 8.0, row + 1
        cy = 12 + row * LEGEND_ROW
        if stroke:
            parts.append(el("line", x1=cx, x2=cx + 26, y1=float(cy), y2=float(cy), stroke=colour, stroke_width=stroke,
                            stroke_dasharray=dash))
        parts.append(marker(shape, cx + 13, cy, 9 if stroke else 12, colour, hollow=hollow))
        parts.append(text(cx + 32, cy + 4, label))
        cx += span
    return el("g", "".join(parts), class_="vis-legend"), (row + 1) * LEGEND_ROW


def _time_ticks(first: dt.date, last: dt.date, pixels: float, locale: str) -> list[tuple[dt.date, str]]:
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    room = max(int(pixels // 70), 2)
    step = next((s for s in (1, 2, 3, 6, 12, 24, 60, 120) if months / s <= room), 120)
    ticks, cursor = [], dt.date(first.year, 1, 1)
    while cursor <= last:
        if cursor >= first:
            ticks.append((cursor, str(cursor.year) if step >= 12 else month(cursor, locale)))
        total = cursor.month - 1 + step
        cursor = dt.date(cursor.year + total // 12, total % 12 + 1, 1)
    return ticks


def summarise(chart_title, series, path, data, fmt, locale) -> str:
    parts = []
    for info, points in series:
        known = [(d, v) for d, v in points if v is not None]
        if known:
            date, value = known[-1]
            parts.append(_("%(label)s : %(value)s au %(date)s", label=info.get("label", ""), value=fmt(value),
                           date=day(date, locale)))
        else:
            parts.append(_("%(label)s : aucune valeur", label=info.get("label", "")))
    for date, value, role in path:
        if role != "annual":
            parts.append(_("%(role)s %(value)s (%(date)s)", role=role_label(role), value=fmt(value),
                           date=day(date, locale)))
    if not parts:
        return _("%(title)s : aucune donnée.", title=chart_title)
    direction = _("à la hausse") if data.get("direction", "increase") == "increase" else _("à la baisse")
    return _("%(title)s (évolution souhaitée %(direction)s). %(facts)s.", title=chart_title, direction=direction,
             facts=" ; ".join(parts))


def tabulate(series, path, fmt, locale) -> dict[str, list]:
    """One row per date: each series' value, then the baseline or target set at that date."""
    columns = [_("Date")] + [info.get("label", "") for info, _p in series]
    if path:
        columns.append(_("Valeur initiale et cibles"))
    dates = sorted({d for _i, pts in series for d, v in pts if v is not None} | {d for d, _v, _r in path})
    lookup = [{d: v for d, v in pts} for _i, pts in series]
    marks: dict[dt.date, list[str]] = {}
    for date, value, role in path:
        marks.setdefault(date, []).append(f"{fmt(value)} ({role_label(role)})")
    rows = []
    for date in dates:
        row = [day(date, locale)] + [fmt(values.get(date)) for values in lookup]
        if path:
            row.append(" ; ".join(marks.get(date, [])) or "–")
        rows.append(row)
    return {"columns": columns, "rows": rows}
