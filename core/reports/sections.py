"""The core's report sections (figures, charts, map, weather, comments, alerts) and the
context of the one-page briefs. Sections come through the ``report_sections`` hook like a
plugin's: :mod:`core.defaults` answers it with :func:`core_sections`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import current_app, render_template
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from core.db import session as db_session
from core.engine.alerts import alerts_for
from core.models import PolicyFigure, Territory, Weather
from core.rendering import render_chart, render_map
from core.reports.data import actual_series, comments_in, descendants_at, weather_history
from core.reports.model import Chapter, Report, allowed, top_territory
from core.specs import ReportSection

CHART_WIDTH, CHART_HEIGHT = 640, 240


def comment_labels() -> dict[str, str]:
    from core.templating import label

    return {kind["key"]: label(kind["label"])
            for kind in current_app.extensions["pilote"].config.data.get("comment_types", [])}


def _number(value) -> float | None:
    return None if value is None else float(value)


def trajectory_data(chapter: Chapter, indicator_view, series, top_id) -> dict[str, Any]:
    """The ``trajectory`` chart data of one indicator (shape in docs/charts.md)."""
    ind, fig = indicator_view.indicator, indicator_view.figure
    lines = [{"key": "territory", "label": chapter.territory.name,
              "points": [[d.isoformat(), _number(v)] for d, v in series.get((ind.id, chapter.territory.id), [])]}]
    if top_id is not None and top_id != chapter.territory.id:
        lines.append({"key": "nation", "label": _("National"),
                      "points": [[d.isoformat(), _number(v)] for d, v in series.get((ind.id, top_id), [])]})
    targets = []
    if fig is not None:
        if fig.annual_target is not None and fig.annual_target_date:
            targets.append({"date": fig.annual_target_date.isoformat(), "value": _number(fig.annual_target),
                            "final": False})
        if fig.final_target is not None and fig.final_target_date:
            targets.append({"date": fig.final_target_date.isoformat(), "value": _number(fig.final_target),
                            "final": True})
    baseline = ({"date": fig.baseline_date.isoformat(), "value": _number(fig.baseline)}
                if fig is not None and fig.baseline is not None and fig.baseline_date else None)
    return {"title": ind.name, "unit": ind.unit, "direction": ind.direction.value,
            "decimals": ind.decimals, "series": lines, "baseline": baseline, "targets": targets}


def values_table(data: dict[str, Any], last: int = 12) -> tuple[list[str], list[tuple[str, list]]]:
    """The last ``last`` dates of a trajectory's series, and one row of values per series."""
    dates = sorted({d for line in data["series"] for d, _v in line["points"]})[-last:]
    rows = []
    for line in data["series"]:
        points = dict(line["points"])
        rows.append((line["label"], [points.get(d) for d in dates]))
    return dates, rows


class _Readable:
    """Per report: whether every territory of a list is readable by the report's user."""

    def __init__(self, user):
        self.user, self.cache = user, {}

    def all(self, territories: list[Territory]) -> bool:
        for territory in territories:
            if territory.id not in self.cache:
                self.cache[territory.id] = allowed("territory.read", territory, self.user)
            if not self.cache[territory.id]:
                return False
        return True


def map_level(territory: Territory) -> str | None:
    """The deepest level under ``territory`` in its grid (None at the bottom)."""
    for grid in current_app.extensions["pilote"].config.grids:
        keys = [level["key"] for level in grid["levels"]]
        if territory.level in keys:
            below = keys[keys.index(territory.level) + 1:]
            return below[-1] if below else None
    return None


def core_sections(report: Report) -> list[ReportSection]:
    """Figures, charts, map, weather, comments and alerts of every chapter, then the note on
    how figures are computed."""
    if not report.chapters:
        return []
    session = db_session()
    policy_ids = [p.id for p in report.policies]
    territory_ids = [t.id for t in report.territories]
    top = top_territory(session)
    top_id = top.id if top else None
    indicator_ids = [i.indicator.id for c in report.chapters for i in c.view.indicators]
    series = actual_series(session, indicator_ids, territory_ids + ([top_id] if top_id else []),
                           report.period_start, report.period_end)
    weather = weather_history(session, policy_ids, territory_ids, report.period_end)
    comments = comments_in(session, policy_ids, territory_ids, report.period_start, report.period_end)
    alerts = alerts_for(session, policy_ids, territory_ids)
    maps = _MapData(session, report)
    labels = comment_labels()
    out = []
    for chapter in report.chapters:
        pair = (chapter.policy.id, chapter.territory.id)
        where = {"policy": chapter.policy.code, "territory": chapter.territory.key}
        key = f"core.{{}}.{chapter.key}"
        out.append(ReportSection(key.format("figures"), _("Avancement"), _render(
            "figures", chapter=chapter, report=report), order=10, **where))
        charts = [(view, trajectory_data(chapter, view, series, top_id)) for view in chapter.view.indicators]
        if charts:
            drawn = [(view, data, render_chart("trajectory", data, width=CHART_WIDTH,
                                               height=CHART_HEIGHT, locale=_locale()),
                      *values_table(data)) for view, data in charts]
            out.append(ReportSection(key.format("charts"), _("Indicateurs et trajectoires"), _render(
                "charts", chapter=chapter, charts=drawn), order=20, **where))
        drawn_map = maps.section(chapter)
        if drawn_map is not None:
            out.append(ReportSection(key.format("map"), _("Répartition territoriale"),
                                     _render("map", chapter=chapter, **drawn_map), order=30, **where))
        history = weather.get(pair, [])
        in_period = [w for w in history if w.created_at.date() >= report.period_start]
        timeline = None
        if in_period:
            timeline = render_chart("weather_timeline", {
                "title": _("Météo"),
                "entries": [{"date": w.created_at.date().isoformat(), "weather": w.weather.value,
                             "label": _weather_label(w.weather)} for w in reversed(in_period)],
            }, width=CHART_WIDTH, height=80, locale=_locale())
        out.append(ReportSection(key.format("weather"), _("Météo et synthèse des résultats"), _render(
            "weather", latest=history[0] if history else None, history=in_period, timeline=timeline),
            order=40, **where))
        out.append(ReportSection(key.format("comments"), _("Commentaires"), _render(
            "comments", comments=comments.get(pair, []), labels=labels), order=50, **where))
        out.append(ReportSection(key.format("alerts"), _("Alertes"), _render(
            "alerts", alerts=[a for a in alerts if (a.policy_id, a.territory_id) == pair]),
            order=60, **where))
    out.append(ReportSection("core.method", _("Comment les chiffres sont-ils calculés ?"),
                             _render("method", report=report), order=1000))
    return out


class _MapData:
    """Progress of every policy of the report in the territories of each map level."""

    def __init__(self, session, report: Report):
        self.session, self.report = session, report
        self.readable = _Readable(report.user)
        self.values: dict[str, dict[tuple[int, int], Any]] = {}
        self.children: dict[int, list[Territory]] = {}

    def _values(self, level: str):
        if level not in self.values:
            rows = self.session.execute(
                select(PolicyFigure.policy_id, PolicyFigure.territory_id, PolicyFigure.overall)
                .join(Territory, Territory.id == PolicyFigure.territory_id)
                .where(PolicyFigure.policy_id.in_([p.id for p in self.report.policies]),
                       Territory.level == level))
            self.values[level] = {(pid, tid): overall for pid, tid, overall in rows}
        return self.values[level]

    def section(self, chapter: Chapter) -> dict[str, Any] | None:
        """The map (or its table) of the chapter's territory, or None when it has no level
        below or when the user may not read every territory it would show."""
        level = map_level(chapter.territory)
        if level is None:
            return None
        if chapter.territory.id not in self.children:
            self.children[chapter.territory.id] = descendants_at(self.session, chapter.territory, level)
        children = self.children[chapter.territory.id]
        if not children or not self.readable.all(children):
            return None
        values = self._values(level)
        rows = [(t, values.get((chapter.policy.id, t.id))) for t in children]
        title = _("Avancement global par territoire")
        figure = render_map(level, {t.code: _number(v) for t, v in rows}, title=title, unit="%",
                            scale="deciles",
                            within=None if chapter.territory.parent_id is None else chapter.territory.code)
        return {"figure": figure, "rows": rows, "title": title}


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "fr")


def _weather_label(weather: Weather) -> str:
    return {
        "secured": _("Objectifs sécurisés"),
        "achievable": _("Objectifs atteignables"),
        "support_needed": _("Appuis nécessaires"),
        "compromised": _("Objectifs compromis"),
        "not_set": _("Météo non renseignée"),
    }[weather.value]


def level_label(key: str | None) -> str:
    """The instance's name of a territory level (``Département``)."""
    from core.templating import label

    for grid in current_app.extensions["pilote"].config.grids:
        for level in grid["levels"]:
            if level["key"] == key:
                return label(level["label"])
    return key or ""


def _render(name: str, **context: Any) -> Markup:
    from core.reports.render import svg_image

    return Markup(render_template(f"reports/sections/{name}.html", weather_label=_weather_label,
                                  level_label=level_label, svg_image=svg_image, **context))


# --------------------------------------------------------------------------- briefs
def brief_context(report: Report):
    """``build(limit)`` for :func:`core.reports.render.render_brief`."""
    session = db_session()
    policy_ids = [p.id for p in report.policies]
    territory_ids = [t.id for t in report.territories]
    alerts = alerts_for(session, policy_ids, territory_ids)
    weather = weather_history(session, policy_ids, territory_ids, report.period_end)
    comments = comments_in(session, policy_ids, territory_ids, report.period_start, report.period_end)
    labels = comment_labels()

    if report.brief == "policy":
        chapter = report.chapters[0] if report.chapters else None
        pair = (chapter.policy.id, chapter.territory.id) if chapter else None

        def build(limit):
            indicators = chapter.view.indicators if chapter else []
            impact = [i for i in indicators if i.indicator.category.value == "impact"] or indicators
            latest = weather.get(pair, [None])[0] if chapter else None
            return {"chapter": chapter, "indicators": impact[:limit] if limit is not None else impact,
                    "hidden_indicators": len(impact) - (len(impact[:limit]) if limit is not None else len(impact)),
                    "latest": latest, "summary_chars": 900 if limit is None else max(200, 60 * limit),
                    "alerts": [a for a in alerts if (a.policy_id, a.territory_id) == pair],
                    "comments": comments.get(pair, [])[: 2 if limit is None else min(2, limit // 4)],
                    "labels": labels, "weather_label": _weather_label}
        return build

    chapters = report.chapters
    alert_counts = Counter((a.policy_id, a.territory_id) for a in alerts)
    known = [c.view.overall for c in chapters if c.view.overall is not None]
    known_annual = [c.view.annual for c in chapters if c.view.annual is not None]
    weathers = Counter(c.view.weather.value for c in chapters)

    def build(limit):
        shown = chapters if limit is None else chapters[:limit]
        return {"territory": report.territories[0] if report.territories else None,
                "chapters": shown, "hidden": len(chapters) - len(shown),
                "mean": sum(known) / len(known) if known else None,
                "mean_annual": sum(known_annual) / len(known_annual) if known_annual else None,
                "weathers": weathers, "alert_counts": alert_counts, "alerts_total": len(alerts),
                "weather_label": _weather_label, "Weather": Weather}
    return build
