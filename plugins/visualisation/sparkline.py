"""A small trajectory chart of an indicator's actual values against its targets."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from core.api import IndicatorValue, ValueKind, db_session, plugin_settings

WIDTH, HEIGHT, PAD = 320, 80, 6


@dataclass
class Point:
    date: dt.date
    value: Decimal
    x: float = 0.0
    y: float = 0.0


def series(indicator_id: int, territory_id: int, months: int):
    """Actual values over the last ``months`` months and the latest-dated target."""
    rows = db_session().execute(
        select(IndicatorValue.kind, IndicatorValue.date, IndicatorValue.value)
        .where(IndicatorValue.indicator_id == indicator_id,
               IndicatorValue.territory_id == territory_id,
               IndicatorValue.value.is_not(None))
        .order_by(IndicatorValue.date)
    ).all()
    actuals = [Point(d, v) for k, d, v in rows if k == ValueKind.ACTUAL]
    if actuals:
        last = actuals[-1].date
        start = dt.date(last.year - (months // 12), last.month, 1)
        actuals = [p for p in actuals if p.date >= start]
    targets = [Point(d, v) for k, d, v in rows if k == ValueKind.TARGET]
    return actuals, (targets[-1] if targets else None)


def layout(actuals: list[Point], target: Point | None) -> dict:
    """Scale points into the SVG box; the target is drawn as a horizontal line."""
    if not actuals:
        return {}
    values = [p.value for p in actuals] + ([target.value] if target else [])
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    first, last = actuals[0].date.toordinal(), actuals[-1].date.toordinal()
    width = (last - first) or 1

    def y(v: Decimal) -> float:
        return round(PAD + float((high - v) / span) * (HEIGHT - 2 * PAD), 1)

    for p in actuals:
        p.x = round(PAD + (p.date.toordinal() - first) / width * (WIDTH - 2 * PAD), 1)
        p.y = y(p.value)
    return {
        "points": actuals,
        "path": " ".join(f"{p.x},{p.y}" for p in actuals),
        "target_y": y(target.value) if target else None,
        "target": target,
        "width": WIDTH,
        "height": HEIGHT,
    }


def widget_context(indicator=None, territory=None, **_):
    if indicator is None or territory is None:
        return None
    months = plugin_settings("visualisation")["sparkline_months"]
    actuals, target = series(indicator.id, territory.id, months)
    chart = layout(actuals, target)
    return {"chart": chart} if chart else None
