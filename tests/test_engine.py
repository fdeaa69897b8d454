"""The data engine: one write path, roll-ups up the tree, figures recomputed at once, explained."""

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from core.api import (
    AggregationMethod, Channel, ConflictError, Direction, Indicator, IndicatorValue,
    IndicatorValueRevision, Periodicity, Policy, PolicyStatus, Territory, ValueInput, ValueKind,
    db_session, hookimpl, save_values,
)
from core.models import AggregatedValue, IndicatorFigure, IndicatorWeight, PolicyFigure, TargetScope

TODAY = dt.date(2026, 11, 1)


def territory(level, code):
    return db_session().scalar(select(Territory).where(Territory.level == level, Territory.code == code))


def make_policy(code="CH-1", aggregation="sum", prefer_entered=True, weights=(60, 40)):
    session = db_session()
    policy = Policy(code=code, name="Test policy", status=PolicyStatus.PUBLISHED)
    indicators = []
    for i, weight in enumerate(weights):
        ind = Indicator(code=f"{code}-I{i}", name=f"Indicator {i}", policy=policy, direction=Direction.INCREASE,
                        periodicity=Periodicity.MONTHLY, aggregation_method=aggregation,
                        prefer_entered_values=prefer_entered, position=i)
        for level in ("nation", "region", "department"):
            ind.weights.append(IndicatorWeight(level=level, weight=D(weight)))
        indicators.append(ind)
    session.add(policy)
    session.commit()
    return policy, indicators


def entries(indicator, place, baseline, actual, target, date=dt.date(2026, 9, 1)):
    return [
        ValueInput(indicator.id, place.id, ValueKind.BASELINE, dt.date(2024, 1, 1), D(baseline)),
        ValueInput(indicator.id, place.id, ValueKind.ACTUAL, date, D(actual)),
        ValueInput(indicator.id, place.id, ValueKind.TARGET, dt.date(2027, 12, 1), D(target),
                   target_scope=TargetScope.FINAL),
    ]


def figure(model, **where):
    return db_session().scalar(select(model).filter_by(**where))


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


def test_a_saved_value_updates_territory_ancestors_and_policy_at_once(ctx):
    policy, (ind, other) = make_policy()
    rhone, isere = territory("department", "69"), territory("department", "38")
    region, nation = territory("region", "84"), territory("nation", "FR")
    save_values(db_session(), entries(ind, rhone, 100, 150, 200) + entries(ind, isere, 50, 50, 100),
                channel=Channel.FORM, today=TODAY)
    db_session().commit()
    # region = sum of its departments at each date (PILOTE: DEPT → REG → NAT)
    agg = {(a.kind, a.date): a.value for a in db_session().scalars(
        select(AggregatedValue).where(AggregatedValue.territory_id == region.id))}
    assert agg[(ValueKind.ACTUAL, dt.date(2026, 9, 1))] == D(200)
    assert agg[(ValueKind.BASELINE, dt.date(2024, 1, 1))] == D(150)
    assert figure(IndicatorFigure, indicator_id=ind.id, territory_id=rhone.id).overall == D("50.00")
    regional = figure(IndicatorFigure, indicator_id=ind.id, territory_id=region.id)
    assert regional.overall == D("33.33") and regional.origin == "aggregated"
    assert figure(IndicatorFigure, indicator_id=ind.id, territory_id=nation.id).overall == D("33.33")
    # the other indicator (weight 40) has no data: the policy is not computable, and says why
    pf = figure(PolicyFigure, policy_id=policy.id, territory_id=rhone.id)
    assert pf.overall is None and pf.reason == "missing_indicator_progress"
    assert pf.explanation["missing"] == [other.code]
    save_values(db_session(), entries(other, rhone, 0, 10, 10), channel=Channel.FORM, today=TODAY)
    db_session().commit()
    pf = figure(PolicyFigure, policy_id=policy.id, territory_id=rhone.id)
    assert pf.overall == D("70.00")  # 50 × 0.6 + 100 × 0.4
    assert pf.explanation["weights"][ind.code]["real"].startswith("60")
    assert pf.computed_at is not None


def test_entered_value_takes_precedence_unless_the_indicator_says_otherwise(ctx):
    _, (entered_first,) = make_policy("CH-E", prefer_entered=True, weights=(100,))
    _, (aggregate_first,) = make_policy("CH-A", prefer_entered=False, weights=(100,))
    rhone, region = territory("department", "69"), territory("region", "84")
    for ind in (entered_first, aggregate_first):
        save_values(db_session(), entries(ind, rhone, 0, 10, 100) + entries(ind, region, 0, 90, 100),
                    channel=Channel.FORM, today=TODAY)
    db_session().commit()
    assert figure(IndicatorFigure, indicator_id=entered_first.id, territory_id=region.id).actual == D(90)
    assert figure(IndicatorFigure, indicator_id=aggregate_first.id, territory_id=region.id).actual == D(10)


def test_national_value_is_used_when_the_aggregate_is_missing(ctx):
    """PILOTE rule 544: a national target typed at national level when departments have none."""
    _, (ind,) = make_policy("CH-N", prefer_entered=False, weights=(100,))
    rhone, nation = territory("department", "69"), territory("nation", "FR")
    save_values(db_session(), [
        ValueInput(ind.id, rhone.id, ValueKind.BASELINE, dt.date(2024, 1, 1), D(0)),
        ValueInput(ind.id, rhone.id, ValueKind.ACTUAL, dt.date(2026, 9, 1), D(30)),
        ValueInput(ind.id, nation.id, ValueKind.TARGET, dt.date(2027, 12, 1), D(60)),
    ], channel=Channel.FORM, today=TODAY)
    db_session().commit()
    national = figure(IndicatorFigure, indicator_id=ind.id, territory_id=nation.id)
    assert national.final_target == D(60) and national.overall == D("50.00")
    assert national.explanation["origin"] == {"baseline": "aggregated", "actual": "aggregated", "target": "entered"}


def test_weighted_mean_uses_populations(ctx):
    _, (ind,) = make_policy("CH-W", aggregation="weighted_mean", weights=(100,))
    session = db_session()
    a, b = territory("department", "01"), territory("department", "03")  # both in region 84
    a.population, b.population = 3, 1
    session.commit()
    save_values(session, [ValueInput(ind.id, a.id, ValueKind.ACTUAL, dt.date(2026, 9, 1), D(10)),
                          ValueInput(ind.id, b.id, ValueKind.ACTUAL, dt.date(2026, 9, 1), D(30))],
                channel=Channel.FORM, today=TODAY)
    session.commit()
    nation = territory("nation", "FR")
    value = session.scalar(select(AggregatedValue.value).where(
        AggregatedValue.indicator_id == ind.id, AggregatedValue.territory_id == nation.id,
        AggregatedValue.kind == ValueKind.ACTUAL))
    assert value == D(15)  # (10 × 3 + 30 × 1) / 4


def test_revisions_unchanged_values_and_explicit_erase(ctx):
    _, (ind,) = make_policy("CH-R", weights=(100,))
    rhone = territory("department", "69")
    key = dict(indicator_id=ind.id, territory_id=rhone.id, kind=ValueKind.ACTUAL, date=dt.date(2026, 9, 1))
    session = db_session()
    first = save_values(session, [ValueInput(value=D("1.5"), **key)], channel=Channel.FORM)
    again = save_values(session, [ValueInput(value=D("1.50"), **key)], channel=Channel.IMPORT)
    empty = save_values(session, [ValueInput(value=None, **key)], channel=Channel.IMPORT)
    assert (first.created, again.unchanged, empty.skipped_empty) == (1, 1, 1)
    changed = save_values(session, [ValueInput(value=D(2), **key)], channel=Channel.API)
    erased = save_values(session, [ValueInput(value=None, **key)], channel=Channel.API, erase_empty=True)
    session.commit()
    assert (changed.updated, erased.erased) == (1, 1)
    current = session.scalar(select(IndicatorValue).filter_by(**key))
    assert current.value is None and current.version == 3
    history = session.execute(select(IndicatorValueRevision.revision, IndicatorValueRevision.value,
                                     IndicatorValueRevision.channel)
                              .where(IndicatorValueRevision.value_id == current.id)
                              .order_by(IndicatorValueRevision.revision)).all()
    assert history == [(1, D("1.5"), Channel.FORM), (2, D(2), Channel.API), (3, None, Channel.API)]


def test_a_stale_version_raises_and_writes_nothing(ctx):
    _, (ind,) = make_policy("CH-C", weights=(100,))
    rhone = territory("department", "69")
    key = dict(indicator_id=ind.id, territory_id=rhone.id, kind=ValueKind.ACTUAL, date=dt.date(2026, 9, 1))
    session = db_session()
    save_values(session, [ValueInput(value=D(1), **key)], channel=Channel.FORM)
    save_values(session, [ValueInput(value=D(2), expected_version=1, **key)], channel=Channel.FORM)
    session.commit()
    with pytest.raises(ConflictError) as info:
        save_values(session, [ValueInput(value=D(3), expected_version=1, **key)], channel=Channel.FORM)
    session.rollback()
    assert info.value.current_value == D(2) and info.value.current_version == 2
    assert session.scalar(select(IndicatorValue.value).filter_by(**key)) == D(2)
    assert session.scalar(select(func.count()).select_from(IndicatorValueRevision)) == 2


def test_gap_to_median_trend_and_next_update(ctx):
    policy, (ind,) = make_policy("CH-G", weights=(100,))
    session = db_session()
    codes = ["01", "03", "07"]  # three departments of region 84
    for code, actual in zip(codes, (10, 50, 90)):
        place = territory("department", code)
        save_values(session, entries(ind, place, 0, actual, 100)
                    + [ValueInput(ind.id, place.id, ValueKind.ACTUAL, dt.date(2026, 8, 1), D(actual + 5))],
                    channel=Channel.FORM, today=TODAY)
    session.commit()
    gaps = {f.territory.code: f for f in session.scalars(select(PolicyFigure).where(
        PolicyFigure.policy_id == policy.id, PolicyFigure.overall.is_not(None)))}
    assert gaps["01"].gap_to_median == D("-40.00") and gaps["07"].gap_to_median == D("40.00")
    assert gaps["FR"].gap_to_median is None  # none at the top level (PILOTE)
    assert gaps["01"].previous_overall == D("15.00") and gaps["01"].trend == "down"
    due = figure(IndicatorFigure, indicator_id=ind.id, territory_id=territory("department", "01").id).next_update_due
    assert due == dt.date(2026, 10, 31)  # September value + 1 month, end of month


def test_a_plugin_can_add_an_aggregation_method(make_app):
    class Median:
        name = "median"

        @hookimpl
        def register_aggregation_methods(self):
            return [AggregationMethod("median_of", "Médiane", lambda inputs: sorted(v for v, _ in inputs)[len(inputs) // 2])]

    app = make_app(extra_plugins=[Median()])
    from core.testing.pytest_plugin import seed_reference

    with app.app_context():
        seed_reference(app)
        _, (ind,) = make_policy("CH-M", aggregation="median_of", weights=(100,))
        for code, value in (("01", 1), ("03", 7), ("07", 100)):
            save_values(db_session(), [ValueInput(ind.id, territory("department", code).id, ValueKind.ACTUAL,
                                                  dt.date(2026, 9, 1), D(value))], channel=Channel.FORM)
        db_session().commit()
        value = db_session().scalar(select(AggregatedValue.value).where(
            AggregatedValue.indicator_id == ind.id, AggregatedValue.territory_id == territory("region", "84").id))
    assert value == D(7)


def test_a_parent_waits_for_its_reporting_children_instead_of_showing_a_partial_sum(ctx):
    _, (ind,) = make_policy("CH-P", weights=(100,))
    session = db_session()
    a, b = territory("department", "01"), territory("department", "03")
    region = territory("region", "84")
    for place in (a, b):
        save_values(session, [ValueInput(ind.id, place.id, ValueKind.ACTUAL, dt.date(2026, 8, 1), D(10))],
                    channel=Channel.FORM)
    save_values(session, [ValueInput(ind.id, a.id, ValueKind.ACTUAL, dt.date(2026, 9, 1), D(12))],
                channel=Channel.FORM)
    session.commit()
    points = dict(session.execute(select(AggregatedValue.date, AggregatedValue.value).where(
        AggregatedValue.indicator_id == ind.id, AggregatedValue.territory_id == region.id,
        AggregatedValue.kind == ValueKind.ACTUAL)).all())
    assert points == {dt.date(2026, 8, 1): D(20)}  # September waits for department 03
    save_values(session, [ValueInput(ind.id, b.id, ValueKind.ACTUAL, dt.date(2026, 9, 1), D(11))],
                channel=Channel.FORM)
    session.commit()
    assert figure(IndicatorFigure, indicator_id=ind.id, territory_id=region.id).actual == D(23)


def test_ratio_of_sums_uses_the_denominator_indicator(ctx):
    """A rate's parent value is Σ numerators / Σ denominators, not the mean of the rates."""
    session = db_session()
    policy, (rate, count) = make_policy("CH-Q", aggregation="ratio_of_sums", weights=(100, 0))
    count.aggregation_method = "sum"
    rate.denominator_id = count.id
    session.commit()
    date = dt.date(2026, 9, 1)
    # department 01: 50 % of 100 people; department 03: 10 % of 900 people → region: 14 %
    save_values(session, [
        ValueInput(count.id, territory("department", "01").id, ValueKind.ACTUAL, date, D(100)),
        ValueInput(count.id, territory("department", "03").id, ValueKind.ACTUAL, date, D(900)),
        ValueInput(rate.id, territory("department", "01").id, ValueKind.ACTUAL, date, D(50)),
        ValueInput(rate.id, territory("department", "03").id, ValueKind.ACTUAL, date, D(10)),
    ], channel=Channel.FORM)
    session.commit()
    region = territory("region", "84")
    assert figure(IndicatorFigure, indicator_id=rate.id, territory_id=region.id).actual == D(14)
    # a change of the denominator alone moves the rate's parent
    save_values(session, [ValueInput(count.id, territory("department", "03").id, ValueKind.ACTUAL, date, D(100))],
                channel=Channel.FORM)
    session.commit()
    assert figure(IndicatorFigure, indicator_id=rate.id, territory_id=region.id).actual == D(30)
