"""Completeness: expected versus received entries, per indicator × territory × period, rolled
up per territory, per policy and per contributor ("who has not updated?").

Conventions (PILOTE had this outside the app, in a Metabase dashboard; reference §2.8):

* **Window**: periods whose first day falls in ``[start, end]``; by default the 12 months
  before the current month up to today (on 2026-11-01: 2025-11-01 → 2026-11-01).
* **Periods** follow the indicator's periodicity, aligned on the calendar: months; quarters
  starting in January, April, July, October; half-years in January and July; years; 2, 3
  and 6 years starting in a year divisible by 2, 3 and 6. ``other`` has no expected periods
  (such indicators are listed in :attr:`CompletenessReport.skipped_indicator_ids`).
* **Due**: a period's value is expected once it is due, i.e. at the end of the month of its
  first day + the availability delay — the same date freshness computes after the previous
  value (:mod:`core.engine.freshness`); a period is expected when ``due <= today`` (PILOTE's
  "not up to date" includes the due day). ``only_due=False`` expects every period of the
  window.
* **Expected territories**: the entry level of the indicator — the deepest level where it has
  a declared weight (a weight row, even 0) when its policy is territorialised, otherwise the
  top level; a structuring project's indicators are expected in its own territory only.
* **Received**: an entered actual value (``indicator_value``, kind ``actual``, value not
  null) dated within the period; several values in one period count once. Aggregated values
  never count: completeness is about what people entered.
* **Roll-ups**: a territory sums the cells of its whole subtree (a region aggregates its
  departments); a policy sums its indicators; a contributor sums every cell they cover.
* **Contributors**: active users holding an active grant of role ``local_contributor``,
  ``territorial_coordinator`` or ``prefect`` whose territory subtree contains the cell's
  territory (no territory: everywhere) and whose policy set contains the policy (its
  organisation's perimeter, its explicit policies, or all policies when the grant names
  neither). Grants that plugins supply at login (``user_grants``) are not seen here.
  Entry (policy, territory) pairs without any contributor are listed in
  :attr:`CompletenessReport.uncovered` and flagged on the territory.
* **Rate** = 100 × received / expected, rounded half-up to 1 decimal; None when nothing is
  expected.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.engine.recompute import Tree, reference_date
from core.models import (
    Grant,
    Indicator,
    IndicatorValue,
    IndicatorWeight,
    Periodicity,
    Policy,
    PolicyStatus,
    Role,
    User,
    ValueKind,
    grant_policy,
)

CONTRIBUTOR_ROLES = (Role.LOCAL_CONTRIBUTOR, Role.TERRITORIAL_COORDINATOR, Role.PREFECT)
DEFAULT_LEVELS = ("nation", "region", "department")
STRUCTURING_PROJECT = "structuring_project"
TENTH = Decimal("0.1")


def completion_rate(expected: int, received: int) -> Decimal | None:
    """100 × received / expected rounded half-up to 1 decimal; None when nothing is expected."""
    if not expected:
        return None
    return (Decimal(100) * received / expected).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Counts:
    """``expected`` and ``received`` entries, and their ``rate`` (see :func:`completion_rate`)."""

    expected: int = 0
    received: int = 0
    rate: Decimal | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", completion_rate(self.expected, self.received))

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.expected + other.expected, self.received + other.received)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    due: dt.date


@dataclass(frozen=True)
class CellCompleteness(Counts):
    """One indicator in one entry territory over the window."""

    indicator_id: int = 0
    policy_id: int = 0
    territory_id: int = 0
    missing: tuple[dt.date, ...] = ()  # first days of the expected periods without a value
    contributor_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class TerritoryCompleteness(Counts):
    """A territory's subtree. ``has_contributor``: None when no entry is expected in the
    territory itself, else whether every policy entered there has a contributor."""

    territory_id: int = 0
    level: str = ""
    has_contributor: bool | None = None


@dataclass(frozen=True)
class PolicyCompleteness(Counts):
    policy_id: int = 0


@dataclass(frozen=True)
class ContributorCompleteness(Counts):
    user_id: int = 0
    name: str = ""
    email: str = ""


@dataclass
class CompletenessReport:
    start: dt.date
    end: dt.date
    today: dt.date
    total: Counts
    cells: list[CellCompleteness]
    territories: dict[int, TerritoryCompleteness]
    policies: dict[int, PolicyCompleteness]
    contributors: dict[int, ContributorCompleteness]
    uncovered: list[tuple[int, int]]  # (policy_id, territory_id) without any contributor
    skipped_indicator_ids: list[int]


# --------------------------------------------------------------------------- periods
def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_end(index: int) -> dt.date:
    return _month_start(index + 1) - dt.timedelta(days=1)


def periods(periodicity: Periodicity | str, delay_months: int, start: dt.date, end: dt.date,
            today: dt.date | None = None) -> list[Period]:
    """The calendar-aligned periods of ``periodicity`` whose first day is in ``[start, end]``
    (only those due on or before ``today`` when it is given)."""
    months = Periodicity(periodicity).months
    if months is None:
        return []
    first = _month_index(start) + (start.day > 1)
    first += (-first) % months
    out = []
    for index in range(first, _month_index(end) + 1, months):
        period = Period(_month_start(index), _month_end(index + months - 1),
                        _month_end(index + (delay_months or 0)))
        if today is None or period.due <= today:
            out.append(period)
    return out


def default_window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The 12 months before the current month, up to today."""
    return _month_start(_month_index(today) - 12), today


# --------------------------------------------------------------------------- computation
def _levels() -> list[str]:
    if has_app_context() and "pilote" in current_app.extensions:
        return list(current_app.extensions["pilote"].config.level_keys)
    return list(DEFAULT_LEVELS)


@dataclass
class _Grant:
    user_id: int
    territory_id: int | None
    organisation_id: int | None
    policy_ids: set[int] = field(default_factory=set)

    def covers_policy(self, policy_id: int, organisation_id: int | None) -> bool:
        if self.organisation_id is not None and organisation_id == self.organisation_id:
            return True
        if self.policy_ids:
            return policy_id in self.policy_ids
        return self.organisation_id is None


def _contributor_grants(session: Session) -> tuple[dict[int | None, list[_Grant]], dict[int, tuple]]:
    now = utcnow()
    grants: dict[int, _Grant] = {}
    users: dict[int, tuple] = {}
    rows = session.execute(
        select(Grant.id, Grant.user_id, Grant.territory_id, Grant.organisation_id, Grant.expires_at,
               User.name, User.email)
        .join(User, User.id == Grant.user_id)
        .where(Grant.role.in_(CONTRIBUTOR_ROLES), User.is_active.is_(True)))
    for gid, uid, tid, oid, expires_at, name, email in rows:
        if expires_at is not None and expires_at <= now:
            continue
        grants[gid] = _Grant(uid, tid, oid)
        users[uid] = (name, email)
    if grants:
        for gid, pid in session.execute(
                select(grant_policy.c.grant_id, grant_policy.c.policy_id)
                .where(grant_policy.c.grant_id.in_(sorted(grants)))):
            grants[gid].policy_ids.add(pid)
    by_territory: dict[int | None, list[_Grant]] = defaultdict(list)
    for grant in grants.values():
        by_territory[grant.territory_id].append(grant)
    return by_territory, users


def completeness(
    session: Session,
    *,
    policy_ids: Iterable[int] | None = None,
    indicator_ids: Iterable[int] | None = None,
    territory_ids: Iterable[int] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
    only_due: bool = True,
    include_unpublished: bool = False,
) -> CompletenessReport:
    """Expected versus received entries (see the module docstring for every convention).

    ``territory_ids`` restrict the entry territories to those subtrees. Policies that are not
    published are left out unless ``include_unpublished``. A fixed number of queries.
    """
    today = reference_date(today)
    default_start, default_end = default_window(today)
    start, end = start or default_start, end or default_end
    levels = _levels()
    tree = Tree.load(session, levels)
    top_level = levels[0]

    query = (select(Indicator.id, Indicator.policy_id, Indicator.periodicity,
                    Indicator.availability_delay_months, Policy.kind, Policy.is_territorialised,
                    Policy.territory_id, Policy.organisation_id)
             .join(Policy, Policy.id == Indicator.policy_id).order_by(Indicator.id))
    if not include_unpublished:
        query = query.where(Policy.status == PolicyStatus.PUBLISHED)
    if policy_ids is not None:
        query = query.where(Indicator.policy_id.in_(sorted(set(policy_ids))))
    if indicator_ids is not None:
        query = query.where(Indicator.id.in_(sorted(set(indicator_ids))))
    indicators = session.execute(query).all()
    ids = [row.id for row in indicators]
    declared: dict[int, set[str]] = defaultdict(set)
    if ids:
        for iid, level in session.execute(
                select(IndicatorWeight.indicator_id, IndicatorWeight.level)
                .where(IndicatorWeight.indicator_id.in_(ids), IndicatorWeight.weight.is_not(None))):
            declared[iid].add(level)

    by_level: dict[str, list[int]] = defaultdict(list)
    for tid, territory in tree.territories.items():
        by_level[territory.level].append(tid)

    def ancestors_or_self(tid: int) -> list[int]:
        out, node = [], tid
        while node in tree.territories:
            out.append(node)
            node = tree.territories[node].parent_id
        return out

    allowed: set[int] | None = None
    if territory_ids is not None:
        roots = set(territory_ids)
        allowed = {tid for tid in tree.territories if roots.intersection(ancestors_or_self(tid))}

    # expected cells: (indicator, territory) → periods
    plan: list[tuple] = []  # (row, territory ids, periods)
    skipped: list[int] = []
    for row in indicators:
        expected_periods = periods(row.periodicity, row.availability_delay_months, start, end,
                                   today if only_due else None)
        if Periodicity(row.periodicity).months is None:
            skipped.append(row.id)
            continue
        if row.kind == STRUCTURING_PROJECT and row.territory_id is not None:
            places = [row.territory_id] if row.territory_id in tree.territories else []
        else:
            level = top_level
            if row.is_territorialised:
                for candidate in levels:
                    if candidate in declared.get(row.id, ()):
                        level = candidate  # levels go from the top down: keep the deepest
            places = sorted(by_level.get(level, []))
        if allowed is not None:
            places = [t for t in places if t in allowed]
        if places and expected_periods:
            plan.append((row, places, expected_periods))

    received: dict[tuple[int, int], set[dt.date]] = defaultdict(set)  # → value dates
    if plan:
        first = min(ps[0].start for _, _, ps in plan)
        last = max(ps[-1].end for _, _, ps in plan)
        for iid, tid, day in session.execute(
                select(IndicatorValue.indicator_id, IndicatorValue.territory_id, IndicatorValue.date)
                .where(IndicatorValue.indicator_id.in_(sorted({r.id for r, _, _ in plan})),
                       IndicatorValue.kind == ValueKind.ACTUAL, IndicatorValue.value.is_not(None),
                       IndicatorValue.date >= first, IndicatorValue.date <= last)):
            received[(iid, tid)].add(day)

    grants_by_territory, users = _contributor_grants(session)
    coverage_cache: dict[tuple[int, int], tuple[int, ...]] = {}

    def contributors_of(policy_id: int, organisation_id: int | None, tid: int) -> tuple[int, ...]:
        key = (policy_id, tid)
        if key not in coverage_cache:
            found = set()
            for place in [*ancestors_or_self(tid), None]:
                for grant in grants_by_territory.get(place, ()):
                    if grant.covers_policy(policy_id, organisation_id):
                        found.add(grant.user_id)
            coverage_cache[key] = tuple(sorted(found))
        return coverage_cache[key]

    cells: list[CellCompleteness] = []
    territory_sums: dict[int, Counts] = defaultdict(Counts)
    policy_sums: dict[int, Counts] = defaultdict(Counts)
    contributor_sums: dict[int, Counts] = defaultdict(Counts)
    own_pairs: dict[int, set[int]] = defaultdict(set)  # territory → policies entered there
    for row, places, expected_periods in plan:
        for tid in places:
            dates = received.get((row.id, tid), set())
            missing = tuple(p.start for p in expected_periods
                            if not any(p.start <= d <= p.end for d in dates))
            counts = Counts(len(expected_periods), len(expected_periods) - len(missing))
            who = contributors_of(row.policy_id, row.organisation_id, tid)
            cells.append(CellCompleteness(counts.expected, counts.received, indicator_id=row.id,
                                          policy_id=row.policy_id, territory_id=tid,
                                          missing=missing, contributor_ids=who))
            for place in ancestors_or_self(tid):
                territory_sums[place] += counts
            policy_sums[row.policy_id] += counts
            for uid in who:
                contributor_sums[uid] += counts
            own_pairs[tid].add(row.policy_id)

    uncovered = sorted((pid, tid) for tid, pids in own_pairs.items() for pid in pids
                       if not coverage_cache[(pid, tid)])
    uncovered_territories = {tid for _, tid in uncovered}
    territories = {
        tid: TerritoryCompleteness(
            c.expected, c.received, territory_id=tid, level=tree.territories[tid].level,
            has_contributor=(None if tid not in own_pairs else tid not in uncovered_territories))
        for tid, c in sorted(territory_sums.items())
    }
    total = sum(policy_sums.values(), Counts())
    return CompletenessReport(
        start=start, end=end, today=today, total=total, cells=cells, territories=territories,
        policies={pid: PolicyCompleteness(c.expected, c.received, policy_id=pid)
                  for pid, c in sorted(policy_sums.items())},
        contributors={uid: ContributorCompleteness(c.expected, c.received, user_id=uid,
                                                   name=users[uid][0], email=users[uid][1])
                      for uid, c in sorted(contributor_sums.items())},
        uncovered=uncovered, skipped_indicator_ids=skipped,
    )


__all__ = [
    "CONTRIBUTOR_ROLES", "CellCompleteness", "CompletenessReport", "ContributorCompleteness",
    "Counts", "Period", "PolicyCompleteness", "TerritoryCompleteness", "completeness",
    "completion_rate", "default_window", "periods",
]
