"""Roll-ups and figures, recomputed for the indicators whose values changed.

For each indicator: values entered in each territory, then aggregated values of every parent
(bottom-up, from the children's effective values, with the indicator's aggregation method),
then the indicator's progress in every territory, then the progress of its policy in every
territory (weighted mean, PILOTE rules) with the gap to the median of each level. Everything
is rewritten for that indicator and policy, so the stored figures never mix two states.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Iterable

from flask import current_app, has_app_context
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, selectinload

from core import progress as rules
from core.db import utcnow
from core.engine.aggregation import CORE_METHODS, AggregationMethod
from core.models import (
    AggregatedValue,
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    Policy,
    PolicyFigure,
    Territory,
    ValueKind,
)

KINDS = (ValueKind.BASELINE, ValueKind.ACTUAL, ValueKind.TARGET)
Series = dict[ValueKind, list[rules.DatedValue]]


@dataclass
class Tree:
    """The current territories: parents, children, levels, populations."""

    territories: dict[int, Territory]
    children: dict[int, list[int]]
    depth: dict[int, int]

    @classmethod
    def load(cls, session: Session, levels: list[str] | None = None) -> "Tree":
        query = select(Territory).where(Territory.valid_to.is_(None))
        if levels:
            query = query.where(Territory.level.in_(levels))
        territories = {t.id: t for t in session.scalars(query)}
        children: dict[int, list[int]] = defaultdict(list)
        for t in territories.values():
            if t.parent_id in territories:
                children[t.parent_id].append(t.id)
        depth: dict[int, int] = {}
        for tid in territories:
            d, node = 0, territories[tid]
            while node.parent_id in territories:
                d, node = d + 1, territories[node.parent_id]
            depth[tid] = d
        return cls(territories, dict(children), depth)

    def bottom_up(self) -> list[int]:
        return sorted(self.territories, key=lambda tid: -self.depth[tid])


@dataclass
class RecomputeReport:
    indicators: int = 0
    policies: int = 0
    aggregated_values: int = 0
    indicator_figures: int = 0
    policy_figures: int = 0
    seconds: float = 0.0
    policy_ids: set[int] = field(default_factory=set)


def aggregation_methods() -> dict[str, AggregationMethod]:
    if has_app_context() and "pilote" in current_app.extensions:
        return current_app.extensions["pilote"].aggregation_methods
    return {m.key: m for m in CORE_METHODS}


def reference_date(today: dt.date | None) -> dt.date:
    if today is not None:
        return today
    if has_app_context() and current_app.config.get("PILOTE_TODAY"):
        return dt.date.fromisoformat(current_app.config["PILOTE_TODAY"])
    return dt.date.today()


def recompute(session: Session, pairs: Iterable[tuple[int, int]] | None = None, *,
              today: dt.date | None = None, indicator_ids: Iterable[int] | None = None) -> RecomputeReport:
    """Recompute what depends on ``pairs`` of (indicator, territory) — or on the given
    indicators, or everything when both are None."""
    import time

    started = time.perf_counter()
    today = reference_date(today)
    levels = current_app.extensions["pilote"].config.level_keys if has_app_context() \
        and "pilote" in current_app.extensions else None
    tree = Tree.load(session, levels)
    ids: set[int] | None = None
    if pairs is not None:
        ids = {indicator_id for indicator_id, _ in pairs}
    if indicator_ids is not None:
        ids = (ids or set()) | set(indicator_ids)
    query = select(Indicator).options(selectinload(Indicator.weights), selectinload(Indicator.policy))
    if ids is not None:
        # a rate aggregated as a ratio of sums moves with its denominator
        ids |= set(session.scalars(select(Indicator.id).where(Indicator.denominator_id.in_(ids))))
        query = query.where(Indicator.id.in_(ids))
    indicators = sorted(session.scalars(query).all(),
                        key=lambda i: (i.denominator_id is not None, i.id))  # denominators first
    report = RecomputeReport()
    methods = aggregation_methods()
    now = utcnow()
    for indicator in indicators:
        _recompute_indicator(session, indicator, tree, methods, today, now, report)
        report.policy_ids.add(indicator.policy_id)
    for policy_id in sorted(report.policy_ids):
        _recompute_policy(session, policy_id, tree, now, report)
    report.indicators, report.policies = len(indicators), len(report.policy_ids)
    report.seconds = time.perf_counter() - started
    return report


# --------------------------------------------------------------------------- indicators
def _entered(session: Session, indicator_id: int) -> dict[int, Series]:
    out: dict[int, Series] = defaultdict(lambda: defaultdict(list))
    rows = session.execute(
        select(IndicatorValue.territory_id, IndicatorValue.kind, IndicatorValue.date,
               IndicatorValue.value, IndicatorValue.recorded_at)
        .where(IndicatorValue.indicator_id == indicator_id, IndicatorValue.value.is_not(None))
    )
    for territory_id, kind, date, value, recorded_at in rows:
        out[territory_id][kind].append(rules.DatedValue(date, value, recorded_at))
    return out


def _denominators(session, indicator_id: int) -> dict[tuple, Decimal]:
    """The denominator's values by (kind, territory, month): entered, else aggregated."""
    out: dict[tuple, Decimal] = {}
    for model in (AggregatedValue, IndicatorValue):  # entered values overwrite aggregated ones
        for territory_id, kind, date, value in session.execute(
            select(model.territory_id, model.kind, model.date, model.value)
            .where(model.indicator_id == indicator_id, model.value.is_not(None))
        ):
            out[(kind, territory_id, date.replace(day=1))] = value
    return out


def _recompute_indicator(session, indicator: Indicator, tree: Tree, methods, today, now, report):
    entered = _entered(session, indicator.id)
    denominators = _denominators(session, indicator.denominator_id) if indicator.denominator_id else None
    method = methods.get(indicator.aggregation_method) or methods["none"]
    effective: dict[int, Series] = {}
    origin: dict[int, dict[ValueKind, str]] = defaultdict(dict)
    aggregated_rows = []
    for tid in tree.bottom_up():
        aggregated: Series = defaultdict(list)
        counts: dict[tuple, int] = {}
        kids = tree.children.get(tid, [])
        if kids:
            for kind in KINDS:
                by_date: dict[dt.date, list[tuple[Decimal, int | None]]] = defaultdict(list)
                reported: dict[int, list[dt.date]] = {}
                for child in kids:
                    months = [dv for dv in rules.latest_per_month(effective.get(child, {}).get(kind, []))
                              if dv.value is not None]
                    reported[child] = [dv.date for dv in months]
                    for dv in months:
                        weight = (denominators.get((kind, child, dv.date.replace(day=1)))
                                  if denominators is not None else tree.territories[child].population)
                        by_date[dv.date].append((dv.value, weight))
                for date, inputs in sorted(by_date.items()):
                    if len(inputs) < _expected_children(reported, date):
                        continue  # a partial sum would look like a drop: wait for the others
                    value = method.combine(inputs)
                    if value is not None:
                        aggregated[kind].append(rules.DatedValue(date, value, now))
                        counts[(kind, date)] = len(inputs)
                        aggregated_rows.append(dict(
                            indicator_id=indicator.id, territory_id=tid, kind=kind, date=date,
                            value=value, method=method.key, inputs=len(inputs), computed_at=now))
        series: Series = {}
        for kind in KINDS:
            own, agg = entered.get(tid, {}).get(kind, []), aggregated.get(kind, [])
            first, second = (own, agg) if indicator.prefer_entered_values else (agg, own)
            chosen = first or second
            if chosen:
                series[kind] = chosen
                origin[tid][kind] = "entered" if chosen is own else "aggregated"
        effective[tid] = series

    session.execute(delete(AggregatedValue).where(AggregatedValue.indicator_id == indicator.id))
    if aggregated_rows:
        session.execute(insert(AggregatedValue), aggregated_rows)
    report.aggregated_values += len(aggregated_rows)

    figure_rows = []
    for tid, series in effective.items():
        if not series:
            continue
        figure_rows.append(_indicator_figure(indicator, tid, series, origin[tid], today, now))
    session.execute(delete(IndicatorFigure).where(IndicatorFigure.indicator_id == indicator.id))
    if figure_rows:
        session.execute(insert(IndicatorFigure), figure_rows)
    report.indicator_figures += len(figure_rows)


def _expected_children(reported: dict[int, list[dt.date]], date: dt.date) -> int:
    """How many children should have a value at ``date``: those that reported this kind in
    the twelve months up to it. A child silent for a year no longer holds its parent back."""
    start = dt.date(date.year - 1, date.month, 1)
    return sum(1 for dates in reported.values() if any(start < d <= date for d in dates))


def _indicator_figure(indicator, tid, series: Series, origin, today, now) -> dict:
    baselines = series.get(ValueKind.BASELINE, [])
    actuals = series.get(ValueKind.ACTUAL, [])
    targets = series.get(ValueKind.TARGET, [])
    result = rules.compute_indicator(baselines, actuals, targets, indicator.direction, today)
    previous = _previous_overall(baselines, actuals, targets, indicator.direction, today)

    def pick(dv):
        return (dv.value, dv.date) if dv else (None, None)

    baseline, baseline_date = pick(result.baseline)
    actual, actual_date = pick(result.actual)
    annual_target, annual_target_date = pick(result.annual_target)
    final_target, final_target_date = pick(result.final_target)
    return dict(
        indicator_id=indicator.id, territory_id=tid,
        baseline=baseline, baseline_date=baseline_date, actual=actual, actual_date=actual_date,
        annual_target=annual_target, annual_target_date=annual_target_date,
        final_target=final_target, final_target_date=final_target_date,
        annual=result.annual, overall=result.overall, previous_overall=previous,
        origin=origin.get(ValueKind.ACTUAL, "entered"),
        next_update_due=next_update_due(indicator, actual_date),
        computed_at=now,
        explanation=_explain_indicator(indicator, result, origin),
    )


def _previous_overall(baselines, actuals, targets, direction, today):
    """Overall progress as of the previous update: actuals up to the second latest date."""
    dates = sorted({dv.date.replace(day=1) for dv in actuals if dv.value is not None})
    if len(dates) < 2:
        return None
    cutoff = dates[-2]
    earlier = [dv for dv in actuals if dv.date.replace(day=1) <= cutoff]
    return rules.compute_indicator(baselines, earlier, targets, direction, today).overall


def next_update_due(indicator: Indicator, last_actual: dt.date | None) -> dt.date | None:
    """Last actual date + periodicity + availability delay, at the end of that month (PILOTE)."""
    months = indicator.periodicity.months
    if last_actual is None or months is None:
        return None
    total = last_actual.month - 1 + months + (indicator.availability_delay_months or 0)
    year, month = last_actual.year + total // 12, total % 12 + 1
    first_of_next = dt.date(year + (month == 12), month % 12 + 1, 1)
    return first_of_next - dt.timedelta(days=1)


def _explain_indicator(indicator, result: rules.IndicatorProgress, origin) -> dict:
    def dv(value):
        return None if value is None else {"date": value.date.isoformat(), "value": str(value.value)}

    increase = indicator.direction.value == "increase"
    return {
        "rule": "increase" if increase else "decrease",
        "formula": "100 × (VA − VI) / (VC − VI), arrondi à 2 décimales, borné à [0, 100]",
        "baseline": dv(result.baseline),
        "actual": dv(result.actual),
        "annual_target": dv(result.annual_target),
        "final_target": dv(result.final_target),
        "year": result.year,
        "origin": {kind.value: how for kind, how in origin.items()},
        "aggregation_method": indicator.aggregation_method,
    }


# --------------------------------------------------------------------------- policies
def _recompute_policy(session, policy_id: int, tree: Tree, now, report) -> None:
    policy = session.scalar(
        select(Policy).where(Policy.id == policy_id)
        .options(selectinload(Policy.indicators).selectinload(Indicator.weights))
    )
    figures = defaultdict(dict)
    for figure in session.scalars(
        select(IndicatorFigure).where(IndicatorFigure.indicator_id.in_([i.id for i in policy.indicators]))
    ):
        figures[figure.territory_id][figure.indicator_id] = figure
    rows = []
    for tid in _policy_territories(policy, tree, figures):
        territory = tree.territories[tid]
        per_indicator = figures.get(tid, {})
        items, previous_items, codes = {}, {}, {}
        for ind in policy.indicators:
            figure = per_indicator.get(ind.id)
            weight = ind.weight_at(territory.level)
            items[ind.code] = (weight, figure.overall if figure else None)
            previous_items[ind.code] = (weight, figure.previous_overall if figure else None)
            codes[ind.code] = (figure, weight)
        if policy.kind == "structuring_project":
            overall = rules.structuring_project_progress(v for _, v in items.values())
            annual = rules.structuring_project_progress(
                f.annual for f, _ in codes.values() if f is not None)
            previous = rules.structuring_project_progress(v for _, v in previous_items.values())
            combined = rules.PolicyProgress(overall, {}, None if overall is not None else "no_data")
        else:
            combined = rules.policy_progress(items)
            annual = rules.policy_progress(
                {c: (w, f.annual if f else None) for c, (f, w) in codes.items()}).progress
            previous = rules.policy_progress(previous_items).progress
        dates = [f.actual_date for f, _ in codes.values() if f is not None and f.actual_date]
        rows.append(dict(
            policy_id=policy.id, territory_id=tid, overall=combined.progress, annual=annual,
            previous_overall=previous, trend=rules.trend(combined.progress, previous),
            gap_to_median=None, reason=combined.reason,
            last_value_date=max(dates) if dates else None, computed_at=now,
            explanation={
                "rule": "structuring_project_mean" if policy.kind == "structuring_project" else "weighted_mean",
                "weights": {code: {"declared": None if w is None else str(w),
                                   "real": str(combined.real_weights.get(code, 0))}
                            for code, (_, w) in codes.items()},
                "indicators": {code: None if f is None or f.overall is None else str(f.overall)
                               for code, (f, _) in codes.items()},
                "missing": list(combined.missing),
                "reason": combined.reason,
            },
        ))
    _fill_gaps_to_median(rows, tree)
    session.execute(delete(PolicyFigure).where(PolicyFigure.policy_id == policy.id))
    if rows:
        session.execute(insert(PolicyFigure), rows)
    report.policy_figures += len(rows)


def _policy_territories(policy: Policy, tree: Tree, figures) -> list[int]:
    """Where the policy is steered: its own territory and ancestors for a structuring
    project, the top only if not territorialised, otherwise every territory."""
    if policy.kind == "structuring_project" and policy.territory_id in tree.territories:
        out, node = [], tree.territories[policy.territory_id]
        while node is not None:
            out.append(node.id)
            node = tree.territories.get(node.parent_id)
        return out
    if not policy.is_territorialised:
        return [tid for tid, d in tree.depth.items() if d == 0]
    return list(tree.territories)


def _fill_gaps_to_median(rows: list[dict], tree: Tree) -> None:
    """Gap to the median of the same level; none at the top level (PILOTE)."""
    by_level: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        if tree.depth[row["territory_id"]] > 0:
            by_level[tree.territories[row["territory_id"]].level].append(row)
    for level_rows in by_level.values():
        values = [r["overall"] for r in level_rows]
        for row in level_rows:
            row["gap_to_median"] = rules.gap_to_median(row["overall"], values)
