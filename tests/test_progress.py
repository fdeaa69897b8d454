"""Unit tests of core.progress: PILOTE 2's progress-rate rules (reference pilote2.md §2)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from core.progress import (
    DatedValue,
    IndicatorProgress,
    compute_indicator,
    gap_to_median,
    indicator_progress,
    is_increase,
    latest_actual,
    latest_per_month,
    median,
    policy_progress,
    round2,
    select_annual_target,
    select_baseline,
    select_final_target,
    structuring_project_progress,
    to_decimal,
    trend,
)

UP, DOWN = "increase", "decrease"


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, day, hour, tzinfo=dt.timezone.utc)


# --- indicator_progress -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vi", "va", "vc", "direction", "expected"),
    [
        (0, 50, 100, UP, "50.00"),
        (19, "45.02", 50, UP, "83.94"),  # IND-200 R03 in the baromètre
        (10, 10, 20, UP, "0.00"),
        (10, 20, 20, UP, "100.00"),
        (100, 50, 0, DOWN, "50.00"),
        (20, 15, 10, DOWN, "50.00"),
        (D("3.38"), D("3.30"), D("3.0"), DOWN, "21.05"),
    ],
)
def test_formula(vi, va, vc, direction, expected):
    assert indicator_progress(vi, va, vc, direction) == D(expected)


def test_result_has_two_decimals():
    assert str(indicator_progress(0, 1, 3, UP)) == "33.33"
    assert str(indicator_progress(0, 2, 3, UP)) == "66.67"
    assert str(indicator_progress(0, 5, 5, UP)) == "100.00"


def test_clamped_to_0_100():
    assert indicator_progress(0, 150, 100, UP) == D(100)
    assert indicator_progress(0, -20, 100, UP) == D(0)
    assert indicator_progress(100, 120, 0, DOWN) == D(0)
    assert indicator_progress(100, -10, 0, DOWN) == D(100)
    assert str(indicator_progress(0, "-0.001", 100, UP)) == "0.00"  # no "-0.00"


def test_rounding_is_half_up_like_postgresql():
    assert round2(D("12.345")) == D("12.35")
    assert round2(D("53.125")) == D("53.13")  # half-even would give 53.12
    assert round2(D("-12.345")) == D("-12.35")  # half away from zero
    # 100 * 53.125 / 100: the exact tie observed in the baromètre (IND-200 R84)
    assert indicator_progress(0, D("53.125"), 100, UP) == D("53.13")
    assert indicator_progress(0, D("12.345"), 100, UP) == D("12.35")


@pytest.mark.parametrize(
    ("vi", "va", "vc", "expected"),
    [
        (100, 120, 100, 100),  # increase, baseline == target: no division by zero
        (100, 99, 100, 0),
        (120, 110, 100, 100),  # increase, baseline already past the target
        (120, 90, 100, 0),
        (120, 100, 100, 100),
    ],
)
def test_increase_baseline_past_target(vi, va, vc, expected):
    assert indicator_progress(vi, va, vc, UP) == D(expected)


@pytest.mark.parametrize(
    ("vi", "va", "vc", "expected"),
    [
        (100, 80, 100, 100),  # decrease, baseline == target
        (100, 101, 100, 0),
        (80, 90, 100, 100),  # decrease, baseline already below the target
        (80, 110, 100, 0),
        (80, 100, 100, 100),
    ],
)
def test_decrease_baseline_past_target(vi, va, vc, expected):
    assert indicator_progress(vi, va, vc, DOWN) == D(expected)


def test_none_propagation():
    assert indicator_progress(None, 1, 2, UP) is None
    assert indicator_progress(0, None, 2, UP) is None
    assert indicator_progress(0, 1, None, UP) is None
    assert indicator_progress(0, 1, 2, None) is None


def test_inputs_and_directions():
    from core.models.indicator import Direction  # the enum stored on Indicator

    assert indicator_progress("0", "1.5", "3", Direction.INCREASE) == D("50.00")
    assert indicator_progress(3, D("1.5"), 0, Direction.DECREASE) == D("50.00")
    assert is_increase("HAUSSE") and is_increase("stable") and not is_increase("baisse")
    with pytest.raises(ValueError):
        is_increase("sideways")
    assert to_decimal(0.1) == D("0.1")
    with pytest.raises(TypeError):
        to_decimal(True)


# --- value selection ----------------------------------------------------------------------


def test_latest_per_month_last_recorded_wins():
    values = [
        DatedValue(dt.date(2024, 3, 31), 1, at(5)),
        DatedValue(dt.date(2024, 3, 1), 2, at(9)),
        DatedValue(dt.date(2024, 3, 15), 3, at(7)),
        DatedValue(dt.date(2024, 4, 30), 4, at(1)),
    ]
    out = latest_per_month(values)
    assert out == [
        DatedValue(dt.date(2024, 3, 1), D(2), at(9)),
        DatedValue(dt.date(2024, 4, 1), D(4), at(1)),
    ]


def test_latest_per_month_tie_goes_to_latest_date():
    values = [
        DatedValue(dt.date(2024, 3, 31), 1, at(5)),
        DatedValue(dt.date(2024, 3, 1), 2, at(5)),
        DatedValue(dt.date(2024, 5, 2), 7),  # unknown recording times tie as well
        DatedValue(dt.date(2024, 5, 20), 8),
    ]
    assert [(v.date, v.value) for v in latest_per_month(values)] == [
        (dt.date(2024, 3, 1), D(1)),
        (dt.date(2024, 5, 1), D(8)),
    ]


def test_latest_per_month_same_date_keeps_last_import_and_empty_cell_erases_month():
    reimported = [
        DatedValue(dt.date(2024, 3, 1), None, at(1)),
        DatedValue(dt.date(2024, 3, 1), 5, at(2)),  # the erased cell was re-filled later
    ]
    assert latest_per_month(reimported)[0].value == D(5)
    erased = [
        DatedValue(dt.date(2024, 3, 1), 5, at(3)),
        DatedValue(dt.date(2024, 3, 20), None, at(2)),  # an empty cell erases the month
    ]
    assert latest_per_month(erased) == [DatedValue(dt.date(2024, 3, 1), None, at(2))]
    assert latest_actual(latest_per_month(erased)) is None


def test_select_baseline():
    baselines = [
        DatedValue(dt.date(2021, 1, 1), 10, at(1)),
        DatedValue(dt.date(2022, 6, 1), 20, at(3)),
        DatedValue(dt.date(2020, 1, 1), 30, at(3)),  # same import: earliest date wins
        DatedValue(dt.date(2017, 12, 1), 40, at(9)),  # before 2018-01-01: ignored
        DatedValue(dt.date(2023, 1, 1), None, at(9)),  # erased: ignored
    ]
    assert select_baseline(baselines).value == D(30)
    assert select_baseline(baselines, min_date=dt.date(2016, 1, 1)).value == D(40)
    assert select_baseline([]) is None
    assert select_baseline([DatedValue(dt.date(2015, 1, 1), 1)]) is None


def test_select_targets():
    targets = [
        DatedValue(dt.date(2024, 6, 1), 50),
        DatedValue(dt.date(2024, 12, 1), 60),
        DatedValue(dt.date(2025, 12, 1), 70),
        DatedValue(dt.date(2026, 12, 1), 80),
        DatedValue(dt.date(2028, 1, 1), 85),  # still allowed (not after max_date)
        DatedValue(dt.date(2030, 12, 1), 90),  # after 2028-01-01: ignored
    ]
    assert select_final_target(targets).value == D(85)
    assert select_final_target(targets, max_date=dt.date(2027, 1, 1)).value == D(80)
    assert select_annual_target(targets, 2024).value == D(60)
    assert select_annual_target(targets, 2025).value == D(70)
    assert select_annual_target(targets, 2023) is None
    assert select_final_target([]) is None


def test_latest_actual():
    actuals = [
        DatedValue(dt.date(2024, 5, 1), 3, at(1)),
        DatedValue(dt.date(2024, 2, 1), 9, at(9)),
        DatedValue(dt.date(2024, 6, 1), None, at(9)),
    ]
    assert latest_actual(actuals) == DatedValue(dt.date(2024, 5, 1), D(3), at(1))
    assert latest_actual([]) is None


# --- compute_indicator --------------------------------------------------------------------


def test_compute_indicator_annual_uses_current_year_target():
    baselines = [DatedValue(dt.date(2022, 1, 1), 0)]
    actuals = [DatedValue(dt.date(2023, 12, 31), 30), DatedValue(dt.date(2024, 3, 15), 40)]
    targets = [
        DatedValue(dt.date(2023, 12, 1), 40),
        DatedValue(dt.date(2024, 12, 1), 50),
        DatedValue(dt.date(2026, 12, 1), 100),
    ]
    result = compute_indicator(baselines, actuals, targets, UP, today=dt.date(2024, 10, 17))
    assert isinstance(result, IndicatorProgress)
    assert result.year == 2024
    assert result.actual == DatedValue(dt.date(2024, 3, 1), D(40))  # truncated to month
    assert result.annual_target.value == D(50)
    assert result.final_target.value == D(100)
    assert result.annual == D("80.00")
    assert result.overall == D("40.00")
    assert result.baseline.value == D(0)

    # Rule 620: in 2025 the 2025 target applies, even though the last actual is from 2024.
    later = compute_indicator(baselines, actuals, targets, UP, today=dt.date(2025, 2, 1))
    assert later.annual_target is None and later.annual is None
    assert later.overall == D("40.00")


def test_compute_indicator_missing_inputs():
    result = compute_indicator([], [DatedValue(dt.date(2024, 1, 1), 1)], [], DOWN, dt.date(2024, 1, 1))
    assert result.annual is None and result.overall is None
    assert result.baseline is None and result.final_target is None
    assert result.actual.value == D(1)


# --- policy_progress ----------------------------------------------------------------------


def test_policy_progress_weighted():
    result = policy_progress([(D(50), D(100)), (D(50), D(0))])
    assert result.progress == D("50.00") and result.reason is None
    assert result.real_weights == {0: D(50), 1: D(50)}


def test_policy_progress_renormalises_over_applicable_indicators():
    # declared 40 / 40 / 20, third not applicable here: real weights 50 / 50 / 0
    result = policy_progress([(40, 80), (40, 40), (None, None)])
    assert result.progress == D("60.00")
    assert result.real_weights == {0: D(50), 1: D(50), 2: D(0)}
    assert result.missing == ()

    thirds = policy_progress({"IND-1": (1, 10), "IND-2": (1, 20), "IND-3": (1, 31), "IND-4": (0, None)})
    assert thirds.progress == D("20.33")
    assert sum(thirds.real_weights.values()) == pytest.approx(100)
    assert thirds.real_weights["IND-4"] == 0


def test_policy_progress_missing_indicator():
    result = policy_progress({"IND-1": (60, 50), "IND-2": (40, None), "IND-3": (0, None)})
    assert result.progress is None
    assert result.reason == "missing_indicator_progress"
    assert result.missing == ("IND-2",)
    assert result.real_weights["IND-2"] == D(40)


def test_policy_progress_no_weighted_indicator():
    for items in ([], [(None, 50)], [(0, 50), ("0", None)]):
        result = policy_progress(items)
        assert result.progress is None and result.reason == "no_weighted_indicator"


def test_policy_progress_clamped_and_validated():
    assert policy_progress([(100, 100)]).progress == D("100.00")
    with pytest.raises(ValueError):
        policy_progress([(-1, 10), (2, 10)])


# --- trend, median, gap, structuring projects ----------------------------------------------


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [("50", "40", "up"), (40, 50, "down"), (50, 50, "flat"), (50, None, "flat"), (None, 50, None)],
)
def test_trend(current, previous, expected):
    assert trend(current, previous) == expected


def test_median_and_gap():
    assert median([3, None, 1, 2]) == D(2)
    assert median([4, 1, 3, 2]) == D("2.5")
    assert median([None]) is None
    assert gap_to_median(10, [10, 20, 30]) == D(-10)
    assert gap_to_median(None, [1, 2]) is None
    assert gap_to_median(1, [None]) is None


def test_structuring_project_progress():
    assert structuring_project_progress([10, None, 21]) == D("15.50")
    assert structuring_project_progress([1, 1, 2]) == D("1.33")
    assert structuring_project_progress([None]) is None
    assert structuring_project_progress([]) is None
