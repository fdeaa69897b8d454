"""Alert rules (core.engine.alerts): each core rule fires exactly when PILOTE's does.

Datasets are small and exact: one indicator with baseline 0 and target 100, so that a
territory's progress equals its latest actual value; figures come from the real write path
(``save_values`` recomputes them) and weather reports are plain rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from core.api import (
    Channel, Direction, Indicator, Periodicity, Policy, PolicyStatus, Territory, ValueInput,
    ValueKind, Weather, WeatherReport, db_session, save_values,
)
from core.engine.alerts import (
    BELOW_TOP, CORE_ALERT_RULES, TOP, Alert, AlertContext, AlertRule, alerts_for, build_contexts,
    count_by_key, registered_alert_rules,
)
from core.models import IndicatorWeight, PolicyFigure

TODAY = dt.date(2026, 11, 1)
ALL_LEVELS = {"nation": 100, "region": 100, "department": 100}


# -- helpers ---------------------------------------------------------------------------------


def place(level: str, code: str) -> Territory:
    return db_session().scalar(select(Territory).where(
        Territory.level == level, Territory.code == code, Territory.valid_to.is_(None)))


def make_policy(code, *, weights=ALL_LEVELS, territorialised=True, targets_expected=True,
                kind="priority_policy", territory=None, periodicity=Periodicity.MONTHLY, delay=0):
    session = db_session()
    policy = Policy(code=code, name=f"Politique {code}", status=PolicyStatus.PUBLISHED,
                    is_territorialised=territorialised, targets_expected=targets_expected,
                    kind=kind, territory_id=territory.id if territory else None)
    session.add(policy)
    session.flush()
    indicator = Indicator(code=f"{code}-I1", policy_id=policy.id, name="Indicateur",
                          direction=Direction.INCREASE, periodicity=periodicity,
                          availability_delay_months=delay, aggregation_method="mean")
    indicator.weights = [IndicatorWeight(level=level, weight=Decimal(w)) for level, w in weights.items()]
    session.add(indicator)
    session.flush()
    return policy, indicator


def series(indicator, territory, actuals, *, baseline="0", target="100",
           baseline_date=dt.date(2024, 1, 1), target_date=dt.date(2027, 12, 1)):
    """Value inputs: a baseline, a final target and dated actuals {date: value}."""
    out = []
    if baseline is not None:
        out.append(ValueInput(indicator.id, territory.id, ValueKind.BASELINE, baseline_date,
                              Decimal(baseline)))
    if target is not None:
        out.append(ValueInput(indicator.id, territory.id, ValueKind.TARGET, target_date, Decimal(target)))
    out += [ValueInput(indicator.id, territory.id, ValueKind.ACTUAL, day, Decimal(v))
            for day, v in actuals.items()]
    return out


def save(entries):
    save_values(db_session(), entries, channel=Channel.FORM)
    db_session().commit()


def weather(policy, territory, *ratings, start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)):
    for n, rating in enumerate(ratings):
        db_session().add(WeatherReport(policy_id=policy.id, territory_id=territory.id,
                                       weather=rating, created_at=start + dt.timedelta(days=n)))
    db_session().commit()


def keys(alerts, policy=None, territory=None):
    return {a.key for a in alerts
            if (policy is None or a.policy_id == policy.id)
            and (territory is None or a.territory_id == territory.id)}


# -- a shared scenario -----------------------------------------------------------------------


@pytest.fixture
def scenario(app):
    """Policy P with five departments whose progress is 50, 60 (falling from 65), 40, 39.99
    and 70: median 50, so 40 is exactly −10 (no alert) and 39.99 is −10.01 (alert)."""
    with app.app_context():
        policy, indicator = make_policy("CH-A")
        deps = {code: place("department", code) for code in ("01", "03", "07", "15", "26")}
        values = {"01": {dt.date(2026, 10, 1): "50"},
                  "03": {dt.date(2026, 9, 1): "65", dt.date(2026, 10, 1): "60"},
                  "07": {dt.date(2026, 10, 1): "40"},
                  "15": {dt.date(2026, 10, 1): "39.99"},
                  "26": {dt.date(2026, 10, 1): "70"}}
        entries = []
        for code, actuals in values.items():
            entries += series(indicator, deps[code], actuals)
        nation, region = place("nation", "FR"), place("region", "84")
        entries += series(indicator, nation, {dt.date(2026, 10, 1): "55"})
        entries += series(indicator, region, {dt.date(2026, 10, 1): "55"})
        save(entries)
        yield {"policy": policy, "indicator": indicator, "deps": deps, "nation": nation,
               "region": region}


# -- the rules -------------------------------------------------------------------------------


def test_gap_to_median_is_strictly_below_minus_ten(app, scenario):
    deps = scenario["deps"]
    session = db_session()
    gaps = {code: session.scalar(select(PolicyFigure.gap_to_median).where(
        PolicyFigure.policy_id == scenario["policy"].id, PolicyFigure.territory_id == t.id))
        for code, t in deps.items()}
    assert gaps["07"] == Decimal("-10") and gaps["15"] == Decimal("-10.01")
    alerts = alerts_for(session, [scenario["policy"].id], [t.id for t in deps.values()], today=TODAY)
    flagged = {a.territory_id for a in alerts if a.key == "gap_to_median"}
    assert flagged == {deps["15"].id}
    (alert,) = [a for a in alerts if a.key == "gap_to_median"]
    assert alert.detail == "−10.01 points"
    assert alert.label == "Écart de plus de 10 points sous la médiane"


def test_gap_and_trend_never_at_the_top_level(app, scenario):
    session = db_session()
    nation = scenario["nation"]
    figure = session.scalar(select(PolicyFigure).where(
        PolicyFigure.policy_id == scenario["policy"].id, PolicyFigure.territory_id == nation.id))
    figure.gap_to_median, figure.trend = Decimal("-30"), "down"  # forced: the rules must ignore them
    session.commit()
    alerts = alerts_for(session, [scenario["policy"].id], [nation.id], today=TODAY)
    assert not keys(alerts) & {"gap_to_median", "falling_trend"}


def test_falling_trend(app, scenario):
    deps = scenario["deps"]
    alerts = alerts_for(db_session(), [scenario["policy"].id], [t.id for t in deps.values()], today=TODAY)
    falling = [a for a in alerts if a.key == "falling_trend"]
    assert [a.territory_id for a in falling] == [deps["03"].id]
    assert falling[0].detail == "65 → 60"


def test_weather_not_set(app, scenario):
    policy, deps = scenario["policy"], scenario["deps"]
    weather(policy, deps["01"], Weather.ACHIEVABLE)
    weather(policy, deps["03"], Weather.SECURED, Weather.NOT_SET)
    weather(policy, deps["07"], Weather.NOT_SET, Weather.COMPROMISED)
    alerts = alerts_for(db_session(), [policy.id], [t.id for t in deps.values()], today=TODAY)
    flagged = {a.territory_id for a in alerts if a.key == "weather_not_set"}
    # 15 and 26 have no report at all; 03's latest report is "not set"
    assert flagged == {deps["03"].id, deps["15"].id, deps["26"].id}
    nation_alerts = alerts_for(db_session(), [policy.id], [scenario["nation"].id], today=TODAY)
    assert "weather_not_set" in keys(nation_alerts)  # shown at every level


def test_weather_downgraded(app, scenario):
    policy, deps = scenario["policy"], scenario["deps"]
    weather(policy, deps["01"], Weather.SECURED, Weather.COMPROMISED)      # worse: alert
    weather(policy, deps["03"], Weather.COMPROMISED, Weather.ACHIEVABLE)   # better: none
    weather(policy, deps["07"], Weather.ACHIEVABLE)                        # single report: none
    weather(policy, deps["15"], Weather.ACHIEVABLE, Weather.NOT_SET)       # to "not set": alert
    weather(policy, deps["26"], Weather.COMPROMISED, Weather.SECURED, Weather.SECURED)  # same: none
    alerts = alerts_for(db_session(), [policy.id], [t.id for t in deps.values()], today=TODAY)
    down = {a.territory_id: a.detail for a in alerts if a.key == "weather_downgraded"}
    assert down == {deps["01"].id: "secured → compromised", deps["15"].id: "achievable → not_set"}


def test_latest_weather_is_by_creation_time_not_insertion_order(app, scenario):
    policy, dep = scenario["policy"], scenario["deps"]["01"]
    t0 = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    session = db_session()
    session.add(WeatherReport(policy_id=policy.id, territory_id=dep.id, weather=Weather.SECURED,
                              created_at=t0 + dt.timedelta(days=2)))
    session.add(WeatherReport(policy_id=policy.id, territory_id=dep.id, weather=Weather.COMPROMISED,
                              created_at=t0))
    session.commit()
    (ctx,) = build_contexts(session, [policy.id], [dep.id], today=TODAY)
    assert (ctx.weather, ctx.previous_weather) == (Weather.SECURED, Weather.COMPROMISED)
    assert "weather_downgraded" not in keys(alerts_for(session, [policy.id], [dep.id], today=TODAY))


def test_data_stale_uses_next_update_due_and_the_pilote_boundary(app):
    """Monthly, no delay: last value 2026-09-01 → due 2026-10-31 (end of month)."""
    with app.app_context():
        policy, indicator = make_policy("CH-S", delay=0)
        dep = place("department", "2A")
        save(series(indicator, dep, {dt.date(2026, 9, 1): "10"}))
        session = db_session()
        ids = ([policy.id], [dep.id])
        assert "data_stale" not in keys(alerts_for(session, *ids, today=dt.date(2026, 10, 30)))
        # PILOTE: est_a_jour = due > today, so on the due day itself the data is stale
        due_day = alerts_for(session, *ids, today=dt.date(2026, 10, 31))
        assert "data_stale" in keys(due_day)
        assert [a.detail for a in due_day if a.key == "data_stale"] == ["CH-S-I1"]
        assert "data_stale" in keys(alerts_for(session, *ids, today=dt.date(2026, 11, 1)))


def test_data_stale_only_counts_weighted_indicators(app):
    with app.app_context():
        # weighted nowhere at department level: its staleness does not matter there
        policy, weighted = make_policy("CH-W")
        session = db_session()
        unweighted = Indicator(code="CH-W-I2", policy_id=policy.id, name="Contexte",
                               periodicity=Periodicity.MONTHLY, aggregation_method="mean")
        unweighted.weights = [IndicatorWeight(level="department", weight=Decimal(0))]
        session.add(unweighted)
        session.flush()
        dep = place("department", "69")
        save(series(weighted, dep, {dt.date(2026, 10, 1): "10"})
             + series(unweighted, dep, {dt.date(2025, 1, 1): "10"}))
        alerts = alerts_for(session, [policy.id], [dep.id], today=TODAY)
        assert "data_stale" not in keys(alerts)


def test_progress_not_computable_at_the_top_level_only(app):
    with app.app_context():
        policy, indicator = make_policy("CH-N")
        no_target, _ = make_policy("CH-N2")
        relaxed, relaxed_ind = make_policy("CH-N3", targets_expected=False)
        nation, dep = place("nation", "FR"), place("department", "01")
        save(series(indicator, nation, {dt.date(2026, 10, 1): "20"}, target=None)
             + series(relaxed_ind, nation, {dt.date(2026, 10, 1): "20"}, target=None)
             + series(indicator, dep, {dt.date(2026, 10, 1): "20"}, target=None))
        session = db_session()
        alerts = alerts_for(session, [policy.id, no_target.id, relaxed.id], [nation.id, dep.id],
                            today=TODAY)
        found = {(a.policy_id, a.territory_id) for a in alerts if a.key == "progress_not_computable"}
        # CH-N2 has no figure at all (nothing entered): still not computable
        assert found == {(policy.id, nation.id), (no_target.id, nation.id)}
        details = {a.policy_id: a.detail for a in alerts if a.key == "progress_not_computable"}
        assert details == {policy.id: "missing_indicator_progress", no_target.id: "no_figure"}


def test_progress_computed_raises_nothing_of_the_kind(app, scenario):
    alerts = alerts_for(db_session(), [scenario["policy"].id], [scenario["nation"].id], today=TODAY)
    assert not keys(alerts) & {"progress_not_computable", "no_departmental_progress"}


def test_no_departmental_progress(app):
    with app.app_context():
        nation, dep = place("nation", "FR"), place("department", "33")
        national_only, ind1 = make_policy("CH-D1")                        # departments empty: alert
        with_dep, ind2 = make_policy("CH-D2")                             # one department: none
        not_applicable, ind3 = make_policy("CH-D3", weights={"nation": 100, "region": 100})
        relaxed, ind4 = make_policy("CH-D4", targets_expected=False)
        central, ind5 = make_policy("CH-D5", territorialised=False)
        entries = []
        for ind in (ind1, ind2, ind3, ind4, ind5):
            entries += series(ind, nation, {dt.date(2026, 10, 1): "30"})
        entries += series(ind2, dep, {dt.date(2026, 10, 1): "30"})
        save(entries)
        policies = [national_only, with_dep, not_applicable, relaxed, central]
        alerts = alerts_for(db_session(), [p.id for p in policies], [nation.id, dep.id], today=TODAY)
        found = {(a.policy_id, a.territory_id) for a in alerts if a.key == "no_departmental_progress"}
        assert found == {(national_only.id, nation.id)}


def test_policy_not_steered_in_a_territory_raises_nothing_there(app):
    with app.app_context():
        central, indicator = make_policy("CH-C", territorialised=False)
        national_levels, _ = make_policy("CH-C2", weights={"nation": 100})
        nation, region, dep = place("nation", "FR"), place("region", "84"), place("department", "01")
        save(series(indicator, nation, {dt.date(2026, 10, 1): "30"}))
        alerts = alerts_for(db_session(), [central.id, national_levels.id],
                            [nation.id, region.id, dep.id], today=TODAY)
        assert {a.territory_id for a in alerts} == {nation.id}
        contexts = build_contexts(db_session(), [central.id], [nation.id, region.id, dep.id], today=TODAY)
        assert [c.territory_id for c in contexts] == [nation.id]


def test_structuring_project_is_steered_in_its_territory_and_ancestors(app):
    with app.app_context():
        dep = place("department", "38")
        project, indicator = make_policy("PS-1", kind="structuring_project", territory=dep,
                                         weights={})
        other_dep = place("department", "01")
        region, nation = place("region", "84"), place("nation", "FR")
        save(series(indicator, dep, {dt.date(2025, 1, 1): "30"}))
        contexts = build_contexts(db_session(), [project.id],
                                  [nation.id, region.id, dep.id, other_dep.id], today=TODAY)
        assert [c.territory_id for c in contexts] == [nation.id, region.id, dep.id]
        by_territory = {c.territory_id: c for c in contexts}
        # every indicator of a structuring project counts, whatever its weights
        assert by_territory[dep.id].stale_indicators == ("PS-1-I1",)
        assert not by_territory[nation.id].departments_applicable


def test_full_picture_for_one_department(app, scenario):
    policy, dep = scenario["policy"], scenario["deps"]["15"]
    weather(policy, dep, Weather.SECURED, Weather.SUPPORT_NEEDED)
    alerts = alerts_for(db_session(), [policy.id], [dep.id], today=dt.date(2026, 12, 15))
    assert [a.key for a in alerts] == ["gap_to_median", "data_stale", "weather_downgraded"]
    assert all(isinstance(a, Alert) and a.policy_id == policy.id and a.territory_id == dep.id
               for a in alerts)
    assert count_by_key(alerts) == {"gap_to_median": 1, "data_stale": 1, "weather_downgraded": 1}


# -- rules as a registry ---------------------------------------------------------------------


def test_core_rules_keys_and_order():
    assert [r.key for r in CORE_ALERT_RULES] == [
        "progress_not_computable", "no_departmental_progress", "gap_to_median", "falling_trend",
        "weather_not_set", "data_stale", "weather_downgraded"]
    by_key = {r.key: r for r in CORE_ALERT_RULES}
    assert by_key["progress_not_computable"].applies_at == frozenset({TOP})
    assert by_key["gap_to_median"].applies_at == frozenset({BELOW_TOP})
    assert by_key["weather_not_set"].applies_at is None


def test_applies_at_accepts_levels_and_markers():
    ctx = AlertContext(today=TODAY, policy_id=1, policy_code="P", policy_kind="priority_policy",
                       targets_expected=True, is_territorialised=True, territory_id=2,
                       territory_code="84", territory_level="region", is_top=False)
    assert AlertRule("x", "X", ["region"], bool).applies_to(ctx)
    assert AlertRule("x", "X", "region", bool).applies_at == frozenset({"region"})
    assert not AlertRule("x", "X", {"department"}, bool).applies_to(ctx)
    assert AlertRule("x", "X", {BELOW_TOP}, bool).applies_to(ctx)
    assert not AlertRule("x", "X", {TOP}, bool).applies_to(ctx)
    assert AlertRule("x", "X", None, bool).applies_to(ctx)


def test_custom_rules_and_registered_rules(app, scenario):
    rule = AlertRule("test_low", "Avancement faible", {"department"},
                     lambda c: c.overall is not None and c.overall < 45, lambda c: f"{c.overall:.2f}")
    deps = scenario["deps"]
    alerts = alerts_for(db_session(), [scenario["policy"].id], [t.id for t in deps.values()],
                        today=TODAY, rules=[rule])
    assert {a.territory_id: a.detail for a in alerts} == {deps["07"].id: "40.00", deps["15"].id: "39.99"}
    registered = registered_alert_rules()
    assert [r.key for r in registered][-len(CORE_ALERT_RULES):] == [r.key for r in CORE_ALERT_RULES]


def test_a_fixed_number_of_queries(app, scenario):
    """No N+1: the query count does not grow with policies or territories."""
    session = db_session()
    engine = session.get_bind()
    extra, extra_ind = make_policy("CH-X")
    save(series(extra_ind, scenario["nation"], {dt.date(2026, 10, 1): "1"}))
    all_territories = session.scalars(select(Territory.id)).all()

    def count(policy_ids, territory_ids):
        statements = []

        def listener(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        try:
            alerts_for(session, policy_ids, territory_ids, today=TODAY)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(statements)

    small = count([scenario["policy"].id], [scenario["deps"]["01"].id])
    large = count([scenario["policy"].id, extra.id], all_territories)
    assert small == large <= 10


def test_empty_selection():
    assert alerts_for(None, [], [1], today=TODAY, rules=CORE_ALERT_RULES) == []
