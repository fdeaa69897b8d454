"""Pure generation of an indicator's values per department, and their aggregation upwards.

Model, per indicator (all amounts are floats until quantized at the end):

- Each department gets a baseline and a final target. ``sum`` indicators split the national
  baseline and target across departments in proportion to population, with a log-normal
  spread (the target shares are drawn around the baseline shares, so each department's target
  depends on its own baseline). ``mean`` indicators draw each department's baseline around the
  national one and add the national effort (target − baseline) times a per-department factor;
  both are then re-centred so that the population-weighted mean equals the spec's values.
- Annual targets follow the straight line from baseline (at the first period) to the final
  target (at the spec's final date).
- Actual values follow ``baseline + (target − baseline) × achieved(t)``, where ``achieved``
  is the trajectory shape times a per-department performance ratio drawn around the profile's
  (on_track ≈ 1, late ≈ 0.45, stale ≈ 0.7, regressing rises then falls back), plus noise.
- ``stale`` indicators stop 6–12 months before ``today``.
- A few departments miss entries (a hole, or the latest periods). Regions and the nation are
  aggregated from the complete department series, before those gaps are punched: their figures
  stand for what the producer publishes, the gaps for local entries not made yet.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from core.models import Direction, TargetScope, ValueKind
from core.seed.spec import IndicatorSpec, SpecError

# (mean, standard deviation) of a department's performance ratio, per profile
PERFORMANCE = {
    "on_track": (1.0, 0.15),
    "late": (0.45, 0.15),
    "stale": (0.7, 0.2),
    "regressing": (0.8, 0.15),  # before the fall back
}


@dataclass(frozen=True, slots=True)
class Unit:
    """A territory the generator produces values for (or aggregates into)."""

    code: str
    population: int | None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Point:
    territory: str
    kind: ValueKind
    scope: TargetScope | None
    date: dt.date
    value: Decimal


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_dates(today: dt.date, months: int, delay: int, years: int) -> list[dt.date]:
    """The last ``years`` of period starts available at ``today`` (after the publication delay)."""
    last = add_months(today, -delay)
    last = add_months(last, -((last.month - 1) % months))
    count = years * 12 // months
    return [add_months(last, -months * k) for k in range(count - 1, -1, -1)]


def annual_target_dates(base: dt.date, final: dt.date) -> list[dt.date]:
    """One annual target per year (on 1 December) after the baseline and before the final year."""
    return [dt.date(y, 12, 1) for y in range(base.year, final.year) if dt.date(y, 12, 1) > base]


def shape(name: str, x: float) -> float:
    """Share of the planned effort done at time fraction ``x`` (0 = baseline, 1 = final date)."""
    x = min(max(x, 0.0), 1.0)
    if name == "s_curve":
        return x * x * (3 - 2 * x)
    if name == "front_loaded":
        return 1 - (1 - x) ** 2
    if name == "late_start":
        return max(0.0, (x - 0.25) / 0.75)
    return x


def quantize(value: float | Decimal, decimals: int) -> Decimal:
    """``value`` rounded to ``decimals`` places (half-even), as a Decimal."""
    return Decimal(f"{value:.{decimals}f}")


class IndicatorGenerator:
    """Generates the baseline, targets and actual values of one indicator."""

    def __init__(self, ind: IndicatorSpec, seed: int, today: dt.date, final: dt.date, years: int):
        self.ind, self.seed, self.today, self.final = ind, seed, today, final
        months = ind.periodicity.months
        self.dates = period_dates(today, months, ind.availability_delay_months, years)
        self.base_date = self.dates[0]
        self.target_dates = annual_target_dates(self.base_date, final)
        self.span = (final - self.base_date).days
        if self.span <= 0:
            raise SpecError(f"{ind.code}: the final target date must come after {self.base_date}")
        self.x_end = self.frac(self.dates[-1])
        if ind.profile == "stale":
            cutoff = add_months(today, -self.rng("stale").randint(6, 12))
            self.dates = [d for d in self.dates if add_months(d, months) <= cutoff]

    def rng(self, *parts: str) -> random.Random:
        return random.Random(":".join([str(self.seed), self.ind.code, *parts]))

    def frac(self, day: dt.date) -> float:
        return (day - self.base_date).days / self.span

    def q(self, value: float) -> Decimal:
        return quantize(value, self.ind.decimals)

    def clamp(self, value: float) -> float:
        if self.ind.minimum is not None:
            value = max(value, self.ind.minimum)
        if self.ind.maximum is not None:
            value = min(value, self.ind.maximum)
        return value

    # -- baselines and final targets -------------------------------------------------------

    def plan(self, units: list[Unit]) -> dict[str, tuple[float, float]]:
        """(baseline, final target) per unit, consistent with the spec's national values."""
        ind = self.ind
        if len(units) == 1:
            return {units[0].code: (ind.baseline, ind.target)}
        weights = _weights(units)
        rngs = {u.code: self.rng("plan", u.code) for u in units}
        if ind.aggregation == "sum":
            base_share = _normalise({c: w * rngs[c].lognormvariate(0, ind.spread)
                                     for c, w in weights.items()})
            target_share = _normalise({c: s * rngs[c].lognormvariate(0, ind.spread / 2)
                                       for c, s in base_share.items()})
            return {c: (ind.baseline * base_share[c], ind.target * target_share[c]) for c in base_share}
        base = {u.code: ind.baseline * (1 + rngs[u.code].gauss(0, ind.spread)) for u in units}
        base = _recentre(base, weights, ind.baseline)
        effort = ind.target - ind.baseline
        target = {c: b + effort * max(0.2, 1 + rngs[c].gauss(0, 0.3)) for c, b in base.items()}
        target = _recentre(target, weights, ind.target)
        return {c: (self.clamp(base[c]), self.clamp(target[c])) for c in base}

    # -- actual values ---------------------------------------------------------------------

    def achieved(self, x: float, ratio: float, drop: float) -> float:
        """Share of the planned change achieved at time fraction ``x``."""
        if self.ind.profile != "regressing":
            return ratio * shape(self.ind.shape, x)
        peak = 0.55 * self.x_end
        top = ratio * shape(self.ind.shape, min(x, peak))
        if x <= peak:
            return top
        return top - (top * drop + 0.15) * (x - peak) / (self.x_end - peak)

    def performance(self, rng: random.Random) -> float:
        mean, sd = PERFORMANCE[self.ind.profile]
        ratio = rng.gauss(mean, sd)
        draw = rng.random()
        if draw < 0.08:  # laggards
            ratio -= abs(rng.gauss(0.5, 0.2))
        elif draw > 0.94:  # front-runners
            ratio += 0.4
        return max(ratio, -0.3)

    def actuals(self, code: str, baseline: float, target: float) -> list[tuple[dt.date, float]]:
        ind, rng = self.ind, self.rng("actual", code)
        ratio, drop = self.performance(rng), rng.uniform(0.5, 1.0)
        values, best = [], -math.inf
        for day in self.dates:
            value = baseline + (target - baseline) * self.achieved(self.frac(day), ratio, drop)
            if ind.seasonality:
                value *= 1 + ind.seasonality * math.cos(2 * math.pi * (day.month - ind.season_peak) / 12)
            value *= 1 + rng.gauss(0, ind.noise)
            if ind.cumulative and ind.direction is Direction.INCREASE:  # a running total
                best = value = max(value, best)
            values.append((day, self.clamp(value)))
        return values

    # -- everything ------------------------------------------------------------------------

    def generate(self, units: list[Unit]) -> tuple[list[Point], list[Point]]:
        """The points of ``units`` (departments, or a single nation or department): the stored
        ones, where a few departments miss entries, and the complete series to aggregate."""
        stored, complete, q = [], [], self.q
        for code, (baseline, target) in self.plan(units).items():
            points = [Point(code, ValueKind.BASELINE, None, self.base_date, q(baseline))]
            for day in self.target_dates:
                planned = baseline + (target - baseline) * self.frac(day)
                points.append(Point(code, ValueKind.TARGET, TargetScope.ANNUAL, day, q(planned)))
            points.append(Point(code, ValueKind.TARGET, TargetScope.FINAL, self.final, q(target)))
            actuals = [Point(code, ValueKind.ACTUAL, None, day, q(v))
                       for day, v in self.actuals(code, baseline, target)]
            complete += points + actuals
            if len(units) > 1:
                actuals = _with_gaps(actuals, self.rng("gaps", code))
            stored += points + actuals
        return stored, complete


def _weights(units: list[Unit]) -> dict[str, float]:
    if all(u.population for u in units):
        return {u.code: float(u.population) for u in units}
    return {u.code: 1.0 for u in units}


def _normalise(values: dict[str, float]) -> dict[str, float]:
    total = sum(values.values())
    return {k: v / total for k, v in values.items()}


def _recentre(values: dict[str, float], weights: dict[str, float], wanted: float) -> dict[str, float]:
    total = sum(weights.values())
    mean = sum(values[c] * weights[c] for c in values) / total
    return {c: v + wanted - mean for c, v in values.items()}


def _with_gaps(values: list, rng: random.Random) -> list:
    """A few departments miss entries: a hole in the history, or the latest periods."""
    draw = rng.random()
    if not values:
        return values
    if draw < 0.04 and len(values) > 4:
        start = rng.randrange(1, len(values) - 2)
        return values[:start] + values[start + rng.randint(1, 3):]
    if draw > 0.975:
        return values[: -rng.randint(1, min(3, len(values)))]
    return values


def aggregate(points: list[Point], units: dict[str, Unit], method: str, decimals: int) -> list[Point]:
    """Values of the parents of ``units`` computed from the children's points.

    ``sum`` adds the children's values; ``mean`` is the population-weighted mean (plain mean if a
    child has no population). Children are grouped on the exact (kind, scope, date), over the
    children that have a value.
    """
    groups: dict[tuple, list[Point]] = defaultdict(list)
    for p in points:
        parent = units[p.territory].parent
        if parent is not None:
            groups[(parent, p.kind, p.scope, p.date)].append(p)
    out = []
    for (parent, kind, scope, day), children in groups.items():
        if method == "sum":
            value = sum(p.value for p in children)  # exact, on the stored decimals
        else:
            pops = [units[p.territory].population for p in children]
            weights = pops if all(pops) else [1] * len(children)
            value = sum(float(p.value) * w for p, w in zip(children, weights)) / sum(weights)
        out.append(Point(parent, kind, scope, day, quantize(value, decimals)))
    return out
