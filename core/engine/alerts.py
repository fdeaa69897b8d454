"""Alerts: what deserves a steering team's attention, computed on read and never stored.

An :class:`AlertRule` looks at one :class:`AlertContext` — one policy in one territory, with
its stored figure, its latest two weather reports, its stale indicators and a summary of its
departments — and says whether the alert is raised. Rules come from the
``register_alert_rules`` hook (plugins first, the core's :data:`CORE_ALERT_RULES` last).

:func:`alerts_for` builds every context of a (policies × territories) selection in a fixed
number of set-based queries (no query per policy or per territory), then runs the rules.

The core rules follow PILOTE 2 (``Alerte.ts``, reference §2.7–2.8):

=========================== ========================================================== ==========
key                         raised when                                                shown at
=========================== ========================================================== ==========
progress_not_computable     targets are expected and the overall progress is None      top level
no_departmental_progress    targets are expected, departments are applicable (an       top level
                            indicator weighs > 0 there) and no department has an
                            overall progress
gap_to_median               gap to the median of the level < −10 points (strict)       below top
falling_trend               trend is ``down``                                          below top
weather_not_set             no weather report yet, or the latest one is ``not_set``    everywhere
data_stale                  a weighted indicator (weight > 0 at the territory's        everywhere
                            level; every indicator of a structuring project) is not
                            up to date: its next update was due on or before today
                            (PILOTE's ``est_a_jour = prochaine_date_maj > today``)
weather_downgraded          the latest weather ranks worse than the previous report    everywhere
                            (:attr:`Weather.rank`; a move to ``not_set`` counts). Not
                            in PILOTE, which has no such alert.
=========================== ========================================================== ==========

Where a policy is steered decides which (policy, territory) pairs are looked at at all: the
top level always; the other levels of a territorialised policy where at least one of its
indicators weighs more than 0; for a structuring project its own territory and its
ancestors. Other pairs raise nothing (no "weather not set" for a département of a policy
steered nationally only).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, Iterable, Sequence

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.engine.recompute import reference_date
from core.models import (
    Indicator,
    IndicatorFigure,
    IndicatorWeight,
    Policy,
    PolicyFigure,
    Territory,
    Weather,
    WeatherReport,
)

TOP = "@top"
"""Marker for :attr:`AlertRule.applies_at`: territories without a parent (the nation)."""
BELOW_TOP = "@below_top"
"""Marker for :attr:`AlertRule.applies_at`: every territory that has a parent."""

GAP_THRESHOLD = Decimal(-10)
DEPARTMENT_LEVEL = "department"
STRUCTURING_PROJECT = "structuring_project"


@dataclass(frozen=True)
class FigureSnapshot:
    """The stored :class:`core.models.PolicyFigure` of the pair (read-only copy)."""

    overall: Decimal | None = None
    annual: Decimal | None = None
    previous_overall: Decimal | None = None
    trend: str | None = None
    gap_to_median: Decimal | None = None
    reason: str | None = None
    last_value_date: dt.date | None = None


@dataclass(frozen=True)
class AlertContext:
    """Everything a rule may look at for one policy in one territory.

    ``figure`` is None when no figure is stored for the pair (nothing computed yet);
    ``weather``/``previous_weather`` are the latest and the one before (None: no report);
    ``stale_indicators`` the codes of the weighted indicators whose next update was due on or
    before ``today``; ``departments_applicable`` whether the policy is steered at department
    level, ``departments_with_progress`` how many departments have an overall progress.
    """

    today: dt.date
    policy_id: int
    policy_code: str
    policy_kind: str
    targets_expected: bool
    is_territorialised: bool
    territory_id: int
    territory_code: str
    territory_level: str
    is_top: bool
    figure: FigureSnapshot | None = None
    weather: Weather | None = None
    previous_weather: Weather | None = None
    stale_indicators: tuple[str, ...] = ()
    departments_applicable: bool = False
    departments_with_progress: int = 0

    @property
    def overall(self) -> Decimal | None:
        return self.figure.overall if self.figure else None

    @property
    def trend(self) -> str | None:
        return self.figure.trend if self.figure else None

    @property
    def gap_to_median(self) -> Decimal | None:
        return self.figure.gap_to_median if self.figure else None


@dataclass(frozen=True)
class AlertRule:
    """A named condition. ``applies_at``: level keys and/or :data:`TOP` / :data:`BELOW_TOP`
    (None: every level); ``check(ctx) -> bool``; ``detail(ctx) -> str`` optionally explains
    a raised alert. Plugin keys start with ``<plugin>.`` or ``<plugin>_``."""

    key: str
    label: str  # may be a lazy string, translated when shown
    applies_at: frozenset[str] | None
    check: Callable[[AlertContext], bool]
    detail: Callable[[AlertContext], str] | None = None
    owner: str = ""

    def __post_init__(self) -> None:
        if self.applies_at is not None and not isinstance(self.applies_at, frozenset):
            levels = [self.applies_at] if isinstance(self.applies_at, str) else self.applies_at
            object.__setattr__(self, "applies_at", frozenset(levels))

    def applies_to(self, ctx: AlertContext) -> bool:
        if self.applies_at is None:
            return True
        return (ctx.territory_level in self.applies_at
                or (TOP in self.applies_at and ctx.is_top)
                or (BELOW_TOP in self.applies_at and not ctx.is_top))


@dataclass(frozen=True)
class Alert:
    """A raised alert: rule ``key`` and ``label`` for one policy in one territory."""

    key: str
    label: str  # may be a lazy string, translated when shown
    policy_id: int
    territory_id: int
    detail: str = ""


# --------------------------------------------------------------------------- core rules
def _fmt(value: Decimal | None) -> str:
    if value is None:
        return ""
    text = format(value.quantize(Decimal("0.01")).normalize(), "f")
    return text.replace("-", "−")


CORE_ALERT_RULES: list[AlertRule] = [
    AlertRule(
        "progress_not_computable", _l("Taux d'avancement non calculé"), frozenset({TOP}),
        lambda c: c.targets_expected and c.overall is None,
        lambda c: (c.figure.reason if c.figure and c.figure.reason else "no_figure"),
    ),
    AlertRule(
        "no_departmental_progress", _l("Absence de taux d'avancement départemental"), frozenset({TOP}),
        lambda c: c.targets_expected and c.departments_applicable and c.departments_with_progress == 0,
    ),
    AlertRule(
        "gap_to_median", _l("Écart de plus de 10 points sous la médiane"), frozenset({BELOW_TOP}),
        lambda c: c.gap_to_median is not None and c.gap_to_median < GAP_THRESHOLD,
        lambda c: f"{_fmt(c.gap_to_median)} points",
    ),
    AlertRule(
        "falling_trend", _l("Taux d'avancement en baisse"), frozenset({BELOW_TOP}),
        lambda c: c.trend == "down",
        lambda c: (f"{_fmt(c.figure.previous_overall)} → {_fmt(c.overall)}" if c.figure else ""),
    ),
    AlertRule(
        "weather_not_set", _l("Météo et synthèse des résultats non renseignées"), None,
        lambda c: c.weather is None or c.weather is Weather.NOT_SET,
    ),
    AlertRule(
        "data_stale", _l("Mise à jour des données requise"), None,
        lambda c: bool(c.stale_indicators),
        lambda c: ", ".join(c.stale_indicators),
    ),
    AlertRule(
        "weather_downgraded", _l("Météo dégradée"), None,
        lambda c: (c.weather is not None and c.previous_weather is not None
                   and c.weather.rank > c.previous_weather.rank),
        lambda c: f"{c.previous_weather.value} → {c.weather.value}",
    ),
]
"""The core's rules, in display order (registered last by ``register_alert_rules``)."""


def registered_alert_rules() -> list[AlertRule]:
    """The current app's rules (plugins first, then the core's), or the core's outside an app."""
    if has_app_context() and "pilote" in current_app.extensions:
        registry = getattr(current_app.extensions["pilote"], "alert_rules", None)
        if registry:
            return list(registry.values())
    return list(CORE_ALERT_RULES)


def _department_level() -> str:
    """``department`` when the instance has it, else its deepest level."""
    if has_app_context() and "pilote" in current_app.extensions:
        keys = current_app.extensions["pilote"].config.level_keys
        if keys and DEPARTMENT_LEVEL not in keys:
            return keys[-1]
    return DEPARTMENT_LEVEL


# --------------------------------------------------------------------------- computation
@dataclass
class _Policy:
    id: int
    code: str
    kind: str
    targets_expected: bool
    is_territorialised: bool
    territory_id: int | None
    indicators: dict[int, str] = field(default_factory=dict)  # id → code
    weights: dict[str, dict[int, Decimal]] = field(default_factory=dict)  # level → id → weight

    def weighted(self, level: str) -> set[int]:
        """Indicators that count in the policy's progress at ``level``."""
        if self.kind == STRUCTURING_PROJECT:
            return set(self.indicators)
        return {i for i, w in self.weights.get(level, {}).items() if w is not None and w > 0}


def _ancestors_or_self(session: Session, start: set[int]) -> dict[int, set[int]]:
    """For each territory of ``start``, itself and its ancestors (one query per depth)."""
    parent: dict[int, int | None] = {}
    frontier = set(start)
    while frontier:
        rows = session.execute(select(Territory.id, Territory.parent_id).where(Territory.id.in_(frontier)))
        frontier = set()
        for tid, pid in rows:
            parent[tid] = pid
            if pid is not None and pid not in parent:
                frontier.add(pid)
    out = {}
    for tid in start:
        chain, node = set(), tid
        while node is not None and node not in chain:
            chain.add(node)
            node = parent.get(node)
        out[tid] = chain
    return out


def build_contexts(
    session: Session,
    policy_ids: Iterable[int],
    territory_ids: Iterable[int],
    today: dt.date | None = None,
) -> list[AlertContext]:
    """The contexts of every pair where the policy is steered, in a fixed number of queries.

    Ordered by the given policy ids, then the given territory ids.
    """
    policy_ids = list(dict.fromkeys(policy_ids))
    territory_ids = list(dict.fromkeys(territory_ids))
    if not policy_ids or not territory_ids:
        return []
    today = reference_date(today)
    department_level = _department_level()

    policies: dict[int, _Policy] = {
        row.id: _Policy(row.id, row.code, row.kind, bool(row.targets_expected),
                        bool(row.is_territorialised), row.territory_id)
        for row in session.execute(
            select(Policy.id, Policy.code, Policy.kind, Policy.targets_expected,
                   Policy.is_territorialised, Policy.territory_id).where(Policy.id.in_(policy_ids)))
    }
    if not policies:
        return []
    for iid, pid, code in session.execute(
            select(Indicator.id, Indicator.policy_id, Indicator.code)
            .where(Indicator.policy_id.in_(policies))):
        policies[pid].indicators[iid] = code
    for pid, iid, level, weight in session.execute(
            select(Indicator.policy_id, IndicatorWeight.indicator_id, IndicatorWeight.level,
                   IndicatorWeight.weight)
            .join(Indicator, Indicator.id == IndicatorWeight.indicator_id)
            .where(Indicator.policy_id.in_(policies))):
        policies[pid].weights.setdefault(level, {})[iid] = weight

    territories = {
        row.id: row for row in session.execute(
            select(Territory.id, Territory.code, Territory.level, Territory.parent_id)
            .where(Territory.id.in_(territory_ids)))
    }
    project_territories = {p.territory_id for p in policies.values()
                           if p.kind == STRUCTURING_PROJECT and p.territory_id is not None}
    chains = _ancestors_or_self(session, project_territories) if project_territories else {}

    def steered(policy: _Policy, territory) -> bool:
        if policy.kind == STRUCTURING_PROJECT and policy.territory_id is not None:
            return territory.id in chains.get(policy.territory_id, ())
        if territory.parent_id is None:
            return True
        return policy.is_territorialised and bool(policy.weighted(territory.level))

    pairs = [(policies[p], territories[t]) for p in policy_ids if p in policies
             for t in territory_ids if t in territories and steered(policies[p], territories[t])]
    if not pairs:
        return []
    wanted_policies = sorted({p.id for p, _ in pairs})
    wanted_territories = sorted({t.id for _, t in pairs})

    figures: dict[tuple[int, int], FigureSnapshot] = {}
    for row in session.execute(
            select(PolicyFigure.policy_id, PolicyFigure.territory_id, PolicyFigure.overall,
                   PolicyFigure.annual, PolicyFigure.previous_overall, PolicyFigure.trend,
                   PolicyFigure.gap_to_median, PolicyFigure.reason, PolicyFigure.last_value_date)
            .where(PolicyFigure.policy_id.in_(wanted_policies),
                   PolicyFigure.territory_id.in_(wanted_territories))):
        figures[(row.policy_id, row.territory_id)] = FigureSnapshot(
            row.overall, row.annual, row.previous_overall, row.trend, row.gap_to_median,
            row.reason, row.last_value_date)

    departments_with_progress: dict[int, int] = dict(session.execute(
        select(PolicyFigure.policy_id, func.count())
        .join(Territory, Territory.id == PolicyFigure.territory_id)
        .where(PolicyFigure.policy_id.in_(wanted_policies), Territory.level == department_level,
               Territory.valid_to.is_(None), PolicyFigure.overall.is_not(None))
        .group_by(PolicyFigure.policy_id)).all())

    ranked = (
        select(WeatherReport.policy_id, WeatherReport.territory_id, WeatherReport.weather,
               func.row_number().over(
                   partition_by=(WeatherReport.policy_id, WeatherReport.territory_id),
                   order_by=(WeatherReport.created_at.desc(), WeatherReport.id.desc()),
               ).label("position"))
        .where(WeatherReport.policy_id.in_(wanted_policies),
               WeatherReport.territory_id.in_(wanted_territories))
        .subquery()
    )
    weathers: dict[tuple[int, int], list[Weather | None]] = defaultdict(lambda: [None, None])
    for pid, tid, weather, position in session.execute(
            select(ranked.c.policy_id, ranked.c.territory_id, ranked.c.weather, ranked.c.position)
            .where(ranked.c.position <= 2)):
        weathers[(pid, tid)][position - 1] = Weather(weather)

    indicator_ids = sorted({i for p in policies.values() for i in p.indicators})
    overdue: dict[int, set[int]] = defaultdict(set)  # territory → indicator ids
    if indicator_ids:
        for iid, tid in session.execute(
                select(IndicatorFigure.indicator_id, IndicatorFigure.territory_id)
                .where(IndicatorFigure.indicator_id.in_(indicator_ids),
                       IndicatorFigure.territory_id.in_(wanted_territories),
                       IndicatorFigure.next_update_due.is_not(None),
                       IndicatorFigure.next_update_due <= today)):
            overdue[tid].add(iid)

    contexts = []
    for policy, territory in pairs:
        stale = sorted(policy.indicators[i] for i in overdue.get(territory.id, ())
                       if i in policy.weighted(territory.level))
        latest, previous = weathers.get((policy.id, territory.id), (None, None))
        contexts.append(AlertContext(
            today=today, policy_id=policy.id, policy_code=policy.code, policy_kind=policy.kind,
            targets_expected=policy.targets_expected, is_territorialised=policy.is_territorialised,
            territory_id=territory.id, territory_code=territory.code,
            territory_level=territory.level, is_top=territory.parent_id is None,
            figure=figures.get((policy.id, territory.id)),
            weather=latest, previous_weather=previous, stale_indicators=tuple(stale),
            departments_applicable=(policy.kind != STRUCTURING_PROJECT and policy.is_territorialised
                                    and bool(policy.weighted(department_level))),
            departments_with_progress=departments_with_progress.get(policy.id, 0),
        ))
    return contexts


def evaluate(contexts: Iterable[AlertContext], rules: Sequence[AlertRule]) -> list[Alert]:
    """Run ``rules`` over ``contexts``: alerts in context order, then rule order."""
    out = []
    for ctx in contexts:
        for rule in rules:
            if rule.applies_to(ctx) and rule.check(ctx):
                detail = rule.detail(ctx) if rule.detail else ""
                out.append(Alert(rule.key, rule.label, ctx.policy_id, ctx.territory_id, detail or ""))
    return out


def alerts_for(
    session: Session,
    policy_ids: Iterable[int],
    territory_ids: Iterable[int],
    today: dt.date | None = None,
    rules: Sequence[AlertRule] | None = None,
) -> list[Alert]:
    """The alerts raised for every (policy, territory) pair of the selection where the policy
    is steered. ``rules`` default to the app's registered rules (:func:`registered_alert_rules`);
    ``today`` to the app's reference date (``PILOTE_TODAY``) or the real date."""
    rules = registered_alert_rules() if rules is None else list(rules)
    return evaluate(build_contexts(session, policy_ids, territory_ids, today), rules)


def count_by_key(alerts: Iterable[Alert]) -> dict[str, int]:
    """How many alerts of each key (for the home page filters)."""
    return dict(Counter(a.key for a in alerts))


__all__ = [
    "Alert", "AlertContext", "AlertRule", "BELOW_TOP", "CORE_ALERT_RULES", "FigureSnapshot",
    "GAP_THRESHOLD", "TOP", "alerts_for", "build_contexts", "count_by_key", "evaluate",
    "registered_alert_rules",
]
