"""Progress rates ("taux d'avancement", TA) computed exactly as PILOTE 2 computes them.

Pure functions: no database, no Flask. Numbers are :class:`decimal.Decimal` throughout
(inputs may be ``Decimal``, ``int`` or ``str``); "no figure" is ``None``, never 0.
Rule references point to ``shared/reference/pilote2.md`` §2 (PILOTE's dbt project "df3").
Conformance: on the published baromètre data this module reproduces PILOTE's rates
(see ``tests/test_progress_barometre.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

Number = Decimal | int | str
HUNDRED = Decimal(100)
ZERO = Decimal(0)
CENT = Decimal("0.01")
VIG_MIN_DATE = dt.date(2018, 1, 1)  # dbt var vig_min_date
VCG_MAX_DATE = dt.date(2028, 1, 1)  # dbt var vcg_max_date
_DIRECTIONS = {"increase": True, "hausse": True, "stable": True, "decrease": False, "baisse": False}


def to_decimal(value: Number | None) -> Decimal | None:
    """``None`` stays ``None``; anything else becomes an exact ``Decimal`` (floats via ``str``)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    return Decimal(str(value).strip())


def round2(value: Decimal) -> Decimal:
    """Round to 2 decimals, half away from zero (PostgreSQL ``round(numeric, 2)``, ``ta_decimales``)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def clamp(value: Decimal) -> Decimal:
    """``greatest(least(x, 100), 0)``."""
    return max(ZERO, min(HUNDRED, value))


def is_increase(direction: object) -> bool | None:
    """True for increase (PILOTE ``HAUSSE`` and ``STABLE``), False for decrease (``BAISSE``).

    Accepts :class:`core.models.indicator.Direction` or its string value, and PILOTE's French
    names. ``None`` gives ``None`` (PILOTE: no ``tendance``, no TA).
    """
    if direction is None:
        return None
    key = str(getattr(direction, "value", direction)).strip().lower()
    if key not in _DIRECTIONS:
        raise ValueError(f"unknown direction: {direction!r}")
    return _DIRECTIONS[key]


def indicator_progress(
    baseline: Number | None, actual: Number | None, target: Number | None, direction: object
) -> Decimal | None:
    """PILOTE's TA of one indicator (§2.4, ``compute_ta_macro.sql``), in percent.

    Increase: if VI ≥ VC, TA = 100 when VA ≥ VC else 0; otherwise 100 × (VA − VI) / (VC − VI).
    Decrease: the mirror (VI ≤ VC → 100 when VA ≤ VC else 0). So VI == VC never divides by zero.
    The result is clamped to [0, 100] and rounded to 2 decimals half-up (clamping first is
    equivalent and avoids overflowing the precision). ``None`` if any input is ``None``.
    """
    vi, va, vc = to_decimal(baseline), to_decimal(actual), to_decimal(target)
    increase = is_increase(direction)
    if vi is None or va is None or vc is None or increase is None:
        return None
    already_met = vi >= vc if increase else vi <= vc
    if already_met:
        reached = va >= vc if increase else va <= vc
        raw = HUNDRED if reached else ZERO
    else:
        raw = HUNDRED * (va - vi) / (vc - vi)
    return round2(clamp(raw))


@dataclass(frozen=True)
class DatedValue:
    """One dated measurement; ``recorded_at`` is when it was entered (PILOTE's import date)."""

    date: dt.date
    value: Decimal | None
    recorded_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", to_decimal(self.value))


def _recorded(v: DatedValue) -> tuple:
    # Unknown recording times sort first, and two unknown ones tie (None == None).
    return (v.recorded_at is not None, v.recorded_at)


def latest_per_month(values: Iterable[DatedValue]) -> list[DatedValue]:
    """One value per month, dated the 1st of the month, sorted by date (§2.1, rules 1–3).

    Per exact date the last recorded value wins; then, if the month holds a ``None`` value
    (an erased cell), the whole month is ``None`` ("null erase"); otherwise the value recorded
    last wins, ties going to the latest date.
    """
    per_date: dict[dt.date, DatedValue] = {}
    for v in values:
        kept = per_date.get(v.date)
        if kept is None or _recorded(v) >= _recorded(kept):
            per_date[v.date] = v
    per_month: dict[dt.date, list[DatedValue]] = {}
    for v in per_date.values():
        per_month.setdefault(v.date.replace(day=1), []).append(v)
    out = []
    for month, group in sorted(per_month.items()):
        erased = [v for v in group if v.value is None]
        pick = max(erased or group, key=lambda v: (_recorded(v), v.date))
        out.append(DatedValue(month, pick.value, pick.recorded_at))
    return out


def _known(values: Iterable[DatedValue]) -> list[DatedValue]:
    return [v for v in values if v.value is not None]


def select_baseline(
    baselines: Iterable[DatedValue], min_date: dt.date = VIG_MIN_DATE
) -> DatedValue | None:
    """VIG (§2.3, ``get_vig.sql``): the baseline recorded most recently, then the earliest date.

    Baselines dated before ``min_date`` (2018-01-01) and erased ones are ignored.
    """
    found = [v for v in _known(baselines) if v.date >= min_date]
    return max(found, key=lambda v: (_recorded(v), -v.date.toordinal()), default=None)


def select_final_target(
    targets: Iterable[DatedValue], max_date: dt.date = VCG_MAX_DATE
) -> DatedValue | None:
    """VCG (§2.3, ``get_vcg.sql``): the latest-dated target not after ``max_date`` (2028-01-01)."""
    found = [v for v in _known(targets) if v.date <= max_date]
    return max(found, key=lambda v: (v.date, _recorded(v)), default=None)


def select_annual_target(targets: Iterable[DatedValue], year: int) -> DatedValue | None:
    """VCA of ``year`` (§2.3, ``get_vca.sql``): the latest-dated target within that year."""
    found = [v for v in _known(targets) if v.date.year == year]
    return max(found, key=lambda v: (v.date, _recorded(v)), default=None)


def latest_actual(actuals: Iterable[DatedValue]) -> DatedValue | None:
    """The latest-dated known actual value (VA), whatever its date (§2.5)."""
    return max(_known(actuals), key=lambda v: (v.date, _recorded(v)), default=None)


@dataclass(frozen=True)
class IndicatorProgress:
    """An indicator's annual (TAA) and overall (TAG) progress, with the inputs used."""

    annual: Decimal | None
    overall: Decimal | None
    year: int
    baseline: DatedValue | None
    actual: DatedValue | None
    annual_target: DatedValue | None
    final_target: DatedValue | None


def compute_indicator(
    baselines: Iterable[DatedValue],
    actuals: Iterable[DatedValue],
    targets: Iterable[DatedValue],
    direction: object,
    today: dt.date,
) -> IndicatorProgress:
    """TAA and TAG of one indicator in one territory (§2.3–2.4).

    Values are first reduced to one per month (:func:`latest_per_month`). The annual rate uses
    the target of the current calendar year of ``today`` (PILOTE rule 620), the overall rate
    the final target; both use the same baseline (VIG) and the latest actual.
    """
    baseline = select_baseline(latest_per_month(baselines))
    actual = latest_actual(latest_per_month(actuals))
    monthly_targets = latest_per_month(targets)
    annual_target = select_annual_target(monthly_targets, today.year)
    final_target = select_final_target(monthly_targets)

    def rate(target: DatedValue | None) -> Decimal | None:
        if baseline is None or actual is None or target is None:
            return None
        return indicator_progress(baseline.value, actual.value, target.value, direction)

    return IndicatorProgress(
        annual=rate(annual_target), overall=rate(final_target), year=today.year,
        baseline=baseline, actual=actual, annual_target=annual_target, final_target=final_target,
    )


@dataclass(frozen=True)
class PolicyProgress:
    """A policy's progress in one territory, with the real weights that explain it.

    ``real_weights`` maps each item key (its index for a sequence) to its renormalised weight
    (0 when not applicable). ``reason`` is ``None``, ``"no_weighted_indicator"`` or
    ``"missing_indicator_progress"`` (then ``missing`` lists the keys without a progress).
    """

    progress: Decimal | None
    real_weights: dict[Hashable, Decimal] = field(default_factory=dict)
    reason: str | None = None
    missing: tuple[Hashable, ...] = ()


def policy_progress(
    items: Sequence[tuple[Number | None, Number | None]]
    | Mapping[Hashable, tuple[Number | None, Number | None]],
) -> PolicyProgress:
    """Weighted progress of a policy (§2.5, ``int_ponderation_reelle.sql``, ``compute_ta_ch.sql``).

    ``items`` are (declared weight, indicator progress) pairs; a ``None`` or 0 weight means the
    indicator does not apply in the territory. Weights are renormalised to 100 over applicable
    indicators; progress = Σ progress × real weight / 100, clamped to [0, 100], rounded to 2.
    If any weighted indicator has no progress the result is ``None`` (PIL-106, PIL-227).
    """
    pairs = dict(items) if isinstance(items, Mapping) else dict(enumerate(items))
    weights = {k: to_decimal(w) or ZERO for k, (w, _) in pairs.items()}
    if any(w < 0 for w in weights.values()):
        raise ValueError("weights must not be negative")
    total = sum(weights.values(), ZERO)
    if total == 0:
        return PolicyProgress(None, {k: ZERO for k in pairs}, "no_weighted_indicator")
    real = {k: HUNDRED * w / total for k, w in weights.items()}
    progress = {k: to_decimal(p) for k, (_, p) in pairs.items()}
    missing = tuple(k for k, w in real.items() if w > 0 and progress[k] is None)
    if missing:
        return PolicyProgress(None, real, "missing_indicator_progress", missing)
    value = sum((progress[k] * w / HUNDRED for k, w in real.items() if w > 0), ZERO)
    return PolicyProgress(round2(clamp(value)), real)


def trend(current: Number | None, previous: Number | None) -> Literal["up", "down", "flat"] | None:
    """Tendance (§2.6): up/down/flat from the previous rate; no previous → flat, no current → None."""
    cur, prev = to_decimal(current), to_decimal(previous)
    if cur is None:
        return None
    if prev is None or cur == prev:
        return "flat"
    return "up" if cur > prev else "down"


def median(values: Iterable[Number | None]) -> Decimal | None:
    """Median of the known values (mean of the two middle ones for an even count); None if none."""
    known = sorted(d for d in map(to_decimal, values) if d is not None)
    if not known:
        return None
    mid = len(known) // 2
    return known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2


def gap_to_median(value: Number | None, values_of_level: Iterable[Number | None]) -> Decimal | None:
    """Écart (§2.6): ``value`` minus the median of the same policy over all territories of the
    level (``values_of_level`` should include ``value`` itself). None if either is missing."""
    val, med = to_decimal(value), median(values_of_level)
    return None if val is None or med is None else val - med


def structuring_project_progress(progresses: Iterable[Number | None]) -> Decimal | None:
    """Progress of a structuring project: plain mean of its known indicator progresses
    ("la moyenne des indicateurs", §1.7), rounded to 2 decimals; None if none is known."""
    known = [d for d in map(to_decimal, progresses) if d is not None]
    return round2(sum(known, ZERO) / len(known)) if known else None
