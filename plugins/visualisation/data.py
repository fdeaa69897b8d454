"""The data of each chart (shapes of ``docs/charts.md``), read through ``core.api`` and limited
to what the current viewer may see."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from core.api import (
    AggregatedValue,
    IndicatorFigure,
    IndicatorValue,
    PolicyFigure,
    TargetScope,
    Territory,
    ValueKind,
    WeatherReport,
    can,
    db_session,
    instance_config,
)

WEATHER_LABELS = {
    "secured": lambda: _("Objectifs sécurisés"),
    "achievable": lambda: _("Objectifs atteignables"),
    "support_needed": lambda: _("Appuis nécessaires"),
    "compromised": lambda: _("Objectifs compromis"),
    "not_set": lambda: _("Météo non renseignée"),
}


def weather_label(key: str) -> str:
    return WEATHER_LABELS.get(key, WEATHER_LABELS["not_set"])()


def level_label(key: str) -> str:
    for level in instance_config().levels:
        if level["key"] == key:
            label = level.get("label") or key
            if isinstance(label, dict):
                locale = str(get_locale() or "fr")
                return label.get(locale) or label.get("fr") or next(iter(label.values()), key)
            return str(label)
    return key


def root_of(territory: Territory) -> Territory:
    node = territory
    while node.parent is not None:
        node = node.parent
    return node


def _values(indicator, kinds: tuple[ValueKind, ...], *, territory_ids: list[int] | None = None,
            level: str | None = None, since: dt.date | None = None
            ) -> dict[tuple[int, ValueKind], list[tuple[dt.date, float, Any]]]:
    """Effective values per (territory, kind): entered ones, else aggregated ones (or the other way
    round when the indicator prefers aggregated values), like the engine reads them."""
    found: dict[str, dict] = {}
    for origin, model in (("entered", IndicatorValue), ("aggregated", AggregatedValue)):
        scope_column = IndicatorValue.target_scope if model is IndicatorValue else None
        columns = [model.territory_id, model.kind, model.date, model.value]
        query = select(*columns, *([scope_column] if scope_column is not None else [])).where(
            model.indicator_id == indicator.id, model.kind.in_(kinds), model.value.is_not(None))
        if territory_ids is not None:
            query = query.where(model.territory_id.in_(territory_ids))
        if since is not None:
            query = query.where(model.date >= since)
        if level is not None:
            query = query.join(Territory, Territory.id == model.territory_id).where(
                Territory.level == level, Territory.valid_to.is_(None))
        rows = defaultdict(list)
        for row in db_session().execute(query):
            rows[(row[0], row[1])].append((row[2], float(row[3]), row[4] if len(row) > 4 else None))
        found[origin] = rows
    first, second = ("entered", "aggregated") if indicator.prefer_entered_values else ("aggregated", "entered")
    out = {}
    for key in set(found["entered"]) | set(found["aggregated"]):
        out[key] = sorted(found[first].get(key) or found[second].get(key) or [], key=lambda r: r[0])
    return out


def _iso(date: dt.date) -> str:
    return date.isoformat()


def trajectory_data(indicator, territory: Territory, months: int) -> dict[str, Any]:
    """The territory's actual values (last ``months`` months), the nation's (unless the indicator
    is a sum: a national total is no yardstick for a department) and the median of its level,
    with its baseline and targets (the caller has checked ``indicator.read``)."""
    root = root_of(territory)
    ids = [territory.id] + ([root.id] if root.id != territory.id else [])
    values = _values(indicator, (ValueKind.ACTUAL, ValueKind.BASELINE, ValueKind.TARGET), territory_ids=ids)
    own = values.get((territory.id, ValueKind.ACTUAL), [])
    cutoff = None
    if own:
        last = own[-1][0]
        total = last.year * 12 + last.month - 1 - months
        cutoff = dt.date(total // 12, total % 12 + 1, 1)

    def recent(points):
        return [[_iso(d), v] for d, v, _s in points if cutoff is None or d >= cutoff]

    series = [{"key": "territory", "label": territory.name, "points": recent(own)}]
    if root.id != territory.id and indicator.aggregation_method != "sum":  # a national total is no yardstick
        series.append({"key": "nation", "label": root.name,
                       "points": recent(values.get((root.id, ValueKind.ACTUAL), []))})
    if root.id != territory.id:
        median = median_series(indicator, territory.level, since=cutoff)
        if median:
            series.append({"key": "median", "label": _("Médiane (%(level)s)", level=level_label(territory.level)),
                           "points": recent(median)})
    figure = db_session().scalar(select(IndicatorFigure).where(
        IndicatorFigure.indicator_id == indicator.id, IndicatorFigure.territory_id == territory.id))
    baseline = None
    if figure is not None and figure.baseline is not None:
        baseline = {"date": _iso(figure.baseline_date), "value": float(figure.baseline)}
    else:
        baselines = values.get((territory.id, ValueKind.BASELINE), [])
        if baselines:
            baseline = {"date": _iso(baselines[0][0]), "value": baselines[0][1]}
    targets = values.get((territory.id, ValueKind.TARGET), [])
    final_date = figure.final_target_date if figure is not None else None
    if final_date is None and targets:
        finals = [d for d, _v, scope in targets if scope == TargetScope.FINAL]
        final_date = finals[-1] if finals else targets[-1][0]
    return {
        "title": indicator.name,
        "unit": indicator.unit,
        "direction": indicator.direction.value,
        "decimals": indicator.decimals,
        "series": series,
        "baseline": baseline,
        "targets": [{"date": _iso(d), "value": v, "final": d == final_date} for d, v, _s in targets],
    }


def median_series(indicator, level: str, since: dt.date | None = None) -> list[tuple[dt.date, float, None]]:
    """Per date, the median of the actual values of every territory of ``level``; dates where
    fewer than half of the reporting territories have a value are left out."""
    by_date: dict[dt.date, list[float]] = defaultdict(list)
    for (_tid, _kind), points in _values(indicator, (ValueKind.ACTUAL,), level=level, since=since).items():
        for date, value, _scope in points:
            by_date[date].append(value)
    if not by_date:
        return []
    most = max(len(v) for v in by_date.values())
    return [(date, statistics.median(vals), None) for date, vals in sorted(by_date.items())
            if len(vals) * 2 >= most]


def comparison_data(policy, territory: Territory) -> dict[str, Any] | None:
    """The policy's overall progress across a level: the children of a top territory (reference:
    the top's own value), else every territory of the territory's level, the territory
    highlighted (reference: the median of the level). Territories the viewer may not see are left
    out of the bars (the median still counts them, as the stored gaps to the median do)."""
    session = db_session()
    if territory.parent_id is None:
        level = session.scalar(select(Territory.level).where(Territory.parent_id == territory.id,
                                                             Territory.valid_to.is_(None)).limit(1))
        if level is None:
            return None
    else:
        level = territory.level
    rows = session.execute(
        select(Territory, PolicyFigure.overall)
        .outerjoin(PolicyFigure, (PolicyFigure.territory_id == Territory.id) & (PolicyFigure.policy_id == policy.id))
        .where(Territory.level == level, Territory.valid_to.is_(None), Territory.grid == territory.grid)
        .order_by(Territory.code)).all()
    if not rows:
        return None
    bars = [{"code": t.code, "label": t.name, "value": None if v is None else float(v),
             "highlight": t.id == territory.id} for t, v in rows if can("territory.read", t)]
    bars.sort(key=lambda b: (b["value"] is None, -(b["value"] or 0), b["label"]))
    if territory.parent_id is None:
        own = session.scalar(select(PolicyFigure.overall).where(PolicyFigure.policy_id == policy.id,
                                                                 PolicyFigure.territory_id == territory.id))
        reference = {"label": territory.name, "value": float(own)} if own is not None else None
    else:
        known = [float(v) for _t, v in rows if v is not None]
        reference = {"label": _("Médiane"), "value": statistics.median(known)} if known else None
    return {
        "title": _("Avancement global de la politique par %(level)s", level=level_label(level).lower()),
        "unit": "%",
        "decimals": 0,
        "bars": bars,
        "reference": reference,
    }


def gauge_data(value, label: str) -> dict[str, Any]:
    return {"title": label, "value": None if value is None else float(value), "label": label}


def weather_data(policy, territory: Territory, limit: int = 12) -> dict[str, Any]:
    """The latest ``limit`` weather ratings of the policy in the territory, oldest first."""
    reports = db_session().scalars(
        select(WeatherReport).where(WeatherReport.policy_id == policy.id, WeatherReport.territory_id == territory.id)
        .order_by(WeatherReport.created_at.desc(), WeatherReport.id.desc()).limit(limit)).all()
    return {
        "title": _("Historique de la météo"),
        "entries": [{"date": r.created_at.date().isoformat(), "weather": r.weather.value,
                     "label": weather_label(r.weather.value)} for r in reversed(reports)],
    }
