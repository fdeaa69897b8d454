"""Widgets of the policy page: each chart with its summary, data table and downloads."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _

from core.api import can, plugin_settings, render_chart
from plugins.visualisation import data as charts_data
from plugins.visualisation.exports import png_available


def downloads(endpoint: str, **args: Any) -> list[tuple[str, str]]:
    formats = [("SVG", "svg")] + ([("PNG", "png")] if png_available() else []) + [("CSV", "csv")]
    return [(label, url_for(endpoint, ext=ext, **args)) for label, ext in formats]


def has_data(data: dict[str, Any]) -> bool:
    points = any(v is not None for s in data["series"] for _d, v in s["points"])
    return points or data["baseline"] is not None or bool(data["targets"])


def trajectory_context(policy=None, territory=None, indicator=None, **_slot):
    """The indicator's trajectory in the territory, against the nation and the median."""
    if indicator is None or territory is None or not can("indicator.read", indicator):
        return None
    data = charts_data.trajectory_data(indicator, territory, plugin_settings("visualisation")["sparkline_months"])
    if not has_data(data):
        return None
    chart = render_chart("trajectory", data, id=f"vis-trajectory-{indicator.id}")
    links = downloads("visualisation.trajectory", code=indicator.code, territoire=territory.key)
    return {"chart": chart, "downloads": links} if chart else None


def comparison_context(policy=None, territory=None, **_slot):
    """The policy's progress across the territories of a level."""
    if policy is None or territory is None:
        return None
    data = charts_data.comparison_data(policy, territory)
    if not data or not data["bars"]:
        return None
    chart = render_chart("comparison", data, id=f"vis-comparison-{policy.id}")
    links = downloads("visualisation.policy_chart", code=policy.code, chart="comparison", territoire=territory.key)
    return {"chart": chart, "downloads": links} if chart else None


def aside_context(policy=None, territory=None, figure=None, **_slot):
    """Gauges of the overall and annual progress, and the weather timeline."""
    if policy is None or territory is None:
        return None
    gauges = [render_chart("gauge", charts_data.gauge_data(getattr(figure, attr, None), label),
                           id=f"vis-gauge-{attr}-{policy.id}")
              for attr, label in (("overall", _("Avancement global")), ("annual", _("Avancement annuel")))]
    timeline = render_chart("weather_timeline", charts_data.weather_data(policy, territory),
                            id=f"vis-weather-{policy.id}", width=320)
    return {
        "gauges": [g for g in gauges if g],
        "timeline": timeline,
        "timeline_downloads": downloads("visualisation.policy_chart", code=policy.code, chart="weather_timeline",
                                        territoire=territory.key),
    }
