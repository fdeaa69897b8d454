"""The four chart kinds of ``docs/charts.md``, drawn as self-contained SVG."""

from __future__ import annotations

from typing import Any, Callable

from core.api import RenderedFigure


def drawers() -> dict[str, Callable[[dict[str, Any], dict[str, Any]], RenderedFigure]]:
    from plugins.visualisation.charts import comparison, gauge, timeline, trajectory

    return {
        "trajectory": trajectory.draw,
        "comparison": comparison.draw,
        "gauge": gauge.draw,
        "weather_timeline": timeline.draw,
    }


def render(kind: str, data: dict[str, Any], options: dict[str, Any] | None = None) -> RenderedFigure | None:
    """The chart of ``kind`` for ``data``, or None when the kind is not one of ours."""
    draw = drawers().get(kind)
    return draw(data or {}, dict(options or {})) if draw else None
