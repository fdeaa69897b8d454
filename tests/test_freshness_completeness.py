"""Freshness (next expected update, up-to-date flag, days late) and completeness (expected vs
received entries, rolled up per territory, policy and contributor).

Conventions checked here (see the modules' docstrings):
* ``next_update_due`` = last actual month + periodicity + delay, at the end of the month;
  ``up_to_date`` = due > today (on the due day itself the value is late, as in PILOTE);
  ``days_late`` = today − due: positive when late, 0 on the due day, negative while on time
  (``days_remaining``, PILOTE's ``prochaine_date_maj_jours``, is its opposite).
* completeness counts one entry per calendar-aligned period once it is due.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.api import (
    Channel, Direction, Grant, Indicator, Organisation, Periodicity, Policy, PolicyStatus, Role,
    Territory, User, ValueInput, ValueKind, db_session, save_values,
)
from core.engine.completeness import (
    Counts, completeness, completion_rate, default_window, periods,
)
from core.engine.freshness import assess, freshness, late
from core.models import IndicatorFigure, IndicatorWeight

TODAY = dt.date(2026, 11, 1)
DEPARTMENTS = 101
ARA = ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74")  # region 84


def place(level, code):
    return db_session().scalar(select(Territory).where(
        Territory.level == level, Territory.code == code, Territory.valid_to.is_(None)))


def make_policy(code, *, weights=None, territorialised=True, periodicity=Periodicity.MONTHLY,
                delay=0, kind="priority_policy", territory=None, organisation=None,
                status=PolicyStatus.PUBLISHED):
    session = db_session()
    policy = Policy(code=code, name=code, status=status, is_territorialised=territorialised,
                    kind=kind, territory_id=territory.id if territory else None,
                    organisation_id=organisation.id if organisation else None)
    session.add(policy)
    session.flush()
    indicator = Indicator(code=f"{code}-I1", policy_id=policy.id, name="Indicateur",
                          direction=Direction.INCREASE, periodicity=periodicity,
                          availability_delay_months=delay, aggregation_method="mean")
    weights = {"nation": 100, "region": 100, "department": 100} if weights is None else weights
    indicator.weights = [IndicatorWeight(level=k, weight=Decimal(w)) for k, w in weights.items()]
    session.add(indicator)
    session.flush()
    return policy, indicator


def actuals(indicator, territory, *days, value="1"):
    return [ValueInput(indicator.id, territory.id, ValueKind.ACTUAL, day, Decimal(value)) for day in days]


def save(entries):
    save_values(db_session(), entries, channel=Channel.FORM)
    db_session().commit()


def months(first: dt.date, count: int) -> list[dt.date]:
    out, index = [], first.year * 12 + first.month - 1
    for n in range(count):
        out.append(dt.date((index + n) // 12, (index + n) % 12 + 1, 1))
    return out


# -- freshness -------------------------------------------------------------------------------


def test_assess_convention():
    due = dt.date(2026, 10, 31)
    on_time = assess(dt.date(2026, 9, 1), due, dt.date(2026, 10, 30))
    assert (on_time.up_to_date, on_time.days_late, on_time.days_remaining) == (True, -1, 1)
    due_day = assess(dt.date(2026, 9, 1), due, due)
    assert (due_day.up_to_date, due_day.days_late) == (False, 0)
    overdue = assess(dt.date(2026, 9, 1), due, dt.date(2026, 11, 10))
    assert (overdue.up_to_date, overdue.days_late, overdue.days_remaining) == (False, 10, -10)
    unknown = assess(None, None, TODAY)
    assert (unknown.up_to_date, unknown.days_late, unknown.days_remaining) == (None, None, None)


@pytest.mark.parametrize("periodicity, delay, last, due", [
    (Periodicity.MONTHLY, 0, dt.date(2026, 9, 15), dt.date(2026, 10, 31)),   # month of the value
    (Periodicity.MONTHLY, 0, dt.date(2026, 1, 31), dt.date(2026, 2, 28)),
    (Periodicity.MONTHLY, 2, dt.date(2027, 11, 1), dt.date(2028, 2, 29)),     # leap year
    (Periodicity.QUARTERLY, 2, dt.date(2026, 7, 1), dt.date(2026, 12, 31)),
    (Periodicity.ANNUAL, 1, dt.date(2025, 12, 1), dt.date(2027, 1, 31)),
    (Periodicity.SEMIANNUAL, 0, dt.date(2026, 6, 1), dt.date(2026, 12, 31)),
])
def test_next_update_due_end_of_month(app, periodicity, delay, last, due):
    with app.app_context():
        _, indicator = make_policy("CH-F", periodicity=periodicity, delay=delay)
        dep = place("department", "2A")
        save(actuals(indicator, dep, last))
        (item,) = freshness(db_session(), [indicator.id], [dep.id], today=TODAY)
        assert item.last_value_date == last.replace(day=1)
        assert item.next_update_due == due
        assert item.up_to_date is (due > TODAY)
        assert item.days_late == (TODAY - due).days


def test_freshness_rows_filters_and_lateness(app):
    with app.app_context():
        _, indicator = make_policy("CH-G")
        _, other = make_policy("CH-H", periodicity=Periodicity.OTHER)
        dep, region, nation = place("department", "01"), place("region", "84"), place("nation", "FR")
        late_dep = place("department", "03")
        save(actuals(indicator, dep, dt.date(2026, 10, 1)) + actuals(indicator, late_dep, dt.date(2026, 8, 1))
             + actuals(other, dep, dt.date(2026, 1, 1)))
        session = db_session()
        rows = {(f.indicator_id, f.territory_id): f for f in freshness(session, today=TODAY)}
        # the entered departments and their aggregated ancestors
        assert set(rows) == {(indicator.id, t.id) for t in (dep, late_dep, region, nation)} | {
            (other.id, t.id) for t in (dep, region, nation)}
        assert rows[(indicator.id, dep.id)].up_to_date is True
        assert rows[(indicator.id, dep.id)].days_late == -29            # due 2026-11-30
        assert rows[(indicator.id, late_dep.id)].next_update_due == dt.date(2026, 9, 30)
        assert rows[(indicator.id, late_dep.id)].days_late == 32
        # A parent is as fresh as its slowest reporting child: October waits for department 03.
        assert rows[(indicator.id, region.id)].last_value_date == dt.date(2026, 8, 1)
        assert rows[(other.id, dep.id)].up_to_date is None               # periodicity "other"
        overdue = {(f.indicator_id, f.territory_id) for f in late(rows.values())}
        assert overdue == {(indicator.id, t.id) for t in (late_dep, region, nation)}
        only = freshness(session, indicator_ids=[indicator.id], territory_ids=[dep.id, late_dep.id],
                         today=TODAY)
        assert [(f.indicator_id, f.territory_id) for f in only] == sorted(
            [(indicator.id, dep.id), (indicator.id, late_dep.id)])


def test_freshness_follows_a_change_of_periodicity(app):
    with app.app_context():
        _, indicator = make_policy("CH-P")
        dep = place("department", "01")
        save(actuals(indicator, dep, dt.date(2026, 8, 1)))
        session = db_session()
        stored = session.scalar(select(IndicatorFigure.next_update_due).where(
            IndicatorFigure.indicator_id == indicator.id, IndicatorFigure.territory_id == dep.id))
        assert stored == dt.date(2026, 9, 30)
        indicator.periodicity = Periodicity.QUARTERLY
        session.commit()
        (item,) = freshness(session, [indicator.id], [dep.id], today=TODAY)
        assert item.next_update_due == dt.date(2026, 11, 30) and item.up_to_date


# -- periods and rates -----------------------------------------------------------------------


def test_default_window_and_periods():
    start, end = default_window(TODAY)
    assert (start, end) == (dt.date(2025, 11, 1), TODAY)
    monthly = periods(Periodicity.MONTHLY, 0, start, end, TODAY)
    assert [p.start for p in monthly] == months(dt.date(2025, 11, 1), 12)
    assert monthly[-1].end == dt.date(2026, 10, 31) and monthly[-1].due == dt.date(2026, 10, 31)
    assert len(periods(Periodicity.MONTHLY, 0, start, end)) == 13      # without "due" filtering
    assert len(periods(Periodicity.MONTHLY, 2, start, end, TODAY)) == 10
    quarterly = periods(Periodicity.QUARTERLY, 1, start, end, TODAY)
    assert [(p.start, p.end, p.due) for p in quarterly] == [
        (dt.date(2026, 1, 1), dt.date(2026, 3, 31), dt.date(2026, 2, 28)),
        (dt.date(2026, 4, 1), dt.date(2026, 6, 30), dt.date(2026, 5, 31)),
        (dt.date(2026, 7, 1), dt.date(2026, 9, 30), dt.date(2026, 8, 31)),
    ]
    assert [p.start for p in periods("semiannual", 0, start, end, TODAY)] == [
        dt.date(2026, 1, 1), dt.date(2026, 7, 1)]
    assert [p.start for p in periods("annual", 0, start, end, TODAY)] == [dt.date(2026, 1, 1)]
    assert [p.start for p in periods("biennial", 0, dt.date(2023, 2, 1), end, TODAY)] == [
        dt.date(2024, 1, 1), dt.date(2026, 1, 1)]
    assert [p.start for p in periods("triennial", 0, dt.date(2020, 1, 1), end, TODAY)] == [
        dt.date(2022, 1, 1), dt.date(2025, 1, 1)]
    assert periods("other", 0, start, end, TODAY) == []
    # a window starting mid-month starts with the next month
    assert periods("monthly", 0, dt.date(2026, 3, 2), dt.date(2026, 5, 1))[0].start == dt.date(2026, 4, 1)


def test_rates():
    assert completion_rate(0, 0) is None
    assert completion_rate(3, 1) == Decimal("33.3")
    assert completion_rate(3, 2) == Decimal("66.7")
    assert completion_rate(8, 1) == Decimal("12.5")
    assert completion_rate(1212, 18) == Decimal("1.5")
    assert (Counts(2, 1) + Counts(3, 3)) == Counts(5, 4)
    assert Counts(5, 4).rate == Decimal("80.0")


# -- completeness ----------------------------------------------------------------------------


@pytest.fixture
def entries_scenario(app):
    """Policy CH-M (monthly, departments): 01 sends every month, 03 six months (with noise
    that must not count), nobody else anything."""
    with app.app_context():
        org = Organisation(code="MIN-T", acronym="MT", name="Ministère test")
        db_session().add(org)
        db_session().flush()
        policy, indicator = make_policy("CH-M", organisation=org)
        d01, d03 = place("department", "01"), place("department", "03")
        entries = actuals(indicator, d01, *months(dt.date(2025, 11, 1), 12))
        entries += actuals(indicator, d03, *months(dt.date(2026, 1, 1), 6))
        entries += actuals(indicator, d03, dt.date(2026, 2, 20))   # same month again: counts once
        entries += actuals(indicator, d03, dt.date(2026, 11, 1))   # not due yet
        entries += actuals(indicator, d03, dt.date(2025, 10, 1))   # before the window
        entries.append(ValueInput(indicator.id, d03.id, ValueKind.BASELINE, dt.date(2026, 8, 1), Decimal(1)))
        save(entries)
        yield {"policy": policy, "indicator": indicator, "org": org, "d01": d01, "d03": d03}


def test_expected_and_received_per_cell(app, entries_scenario):
    s = entries_scenario
    report = completeness(db_session(), today=TODAY)
    assert (report.start, report.end) == (dt.date(2025, 11, 1), TODAY)
    cells = {c.territory_id: c for c in report.cells if c.indicator_id == s["indicator"].id}
    assert len(cells) == DEPARTMENTS                       # entry level: every department
    assert (cells[s["d01"].id].expected, cells[s["d01"].id].received) == (12, 12)
    assert cells[s["d01"].id].rate == Decimal("100.0") and cells[s["d01"].id].missing == ()
    d03 = cells[s["d03"].id]
    assert (d03.expected, d03.received, d03.rate) == (12, 6, Decimal("50.0"))
    assert d03.missing == (dt.date(2025, 11, 1), dt.date(2025, 12, 1), *months(dt.date(2026, 7, 1), 4))
    d75 = cells[place("department", "75").id]
    assert (d75.expected, d75.received, d75.rate) == (12, 0, Decimal("0.0"))


def test_roll_ups_per_territory_and_policy(app, entries_scenario):
    s = entries_scenario
    report = completeness(db_session(), today=TODAY)
    region = report.territories[place("region", "84").id]
    assert (region.expected, region.received, region.rate) == (12 * len(ARA), 18, Decimal("12.5"))
    assert region.level == "region" and region.has_contributor is None   # nothing entered there
    nation = report.territories[place("nation", "FR").id]
    assert (nation.expected, nation.received, nation.rate) == (12 * DEPARTMENTS, 18, Decimal("1.5"))
    other_region = report.territories[place("region", "11").id]
    assert other_region.received == 0
    policy = report.policies[s["policy"].id]
    assert (policy.expected, policy.received) == (nation.expected, nation.received)
    assert report.total == Counts(12 * DEPARTMENTS, 18)


def test_contributors_and_uncovered_territories(app, entries_scenario):
    s = entries_scenario
    session = db_session()
    other_policy, _ = make_policy("CH-Z")
    expired = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def user(email, role, territory=None, organisation=None, policies=(), active=True, expires_at=None):
        person = User(email=email, name=email.split("@")[0], is_active=active)
        grant = Grant(role=role, territory_id=territory.id if territory else None,
                      organisation_id=organisation.id if organisation else None, expires_at=expires_at)
        grant.policies = list(policies)
        person.grants.append(grant)
        session.add(person)
        return person

    alice = user("alice@example.org", Role.LOCAL_CONTRIBUTOR, s["d01"], policies=[s["policy"]])
    bruno = user("bruno@example.org", Role.TERRITORIAL_COORDINATOR, place("region", "84"), s["org"])
    user("carla@example.org", Role.PREFECT, place("region", "11"), policies=[other_policy])
    user("dan@example.org", Role.READER, None)                                   # not a contributor role
    user("eve@example.org", Role.LOCAL_CONTRIBUTOR, s["d03"], expires_at=expired)  # expired grant
    user("fay@example.org", Role.LOCAL_CONTRIBUTOR, s["d03"], active=False)       # inactive account
    session.commit()

    report = completeness(session, policy_ids=[s["policy"].id], today=TODAY)
    assert set(report.contributors) == {alice.id, bruno.id}
    a, b = report.contributors[alice.id], report.contributors[bruno.id]
    assert (a.expected, a.received, a.rate, a.email) == (12, 12, Decimal("100.0"), "alice@example.org")
    assert (b.expected, b.received, b.rate) == (12 * len(ARA), 18, Decimal("12.5"))
    cells = {c.territory_id: c for c in report.cells}
    assert cells[s["d01"].id].contributor_ids == tuple(sorted((alice.id, bruno.id)))
    assert cells[s["d03"].id].contributor_ids == (bruno.id,)
    ara_ids = {place("department", code).id for code in ARA}
    assert {tid for _, tid in report.uncovered} == set(cells) - ara_ids
    assert len(report.uncovered) == DEPARTMENTS - len(ARA)
    assert report.territories[s["d01"].id].has_contributor is True
    assert report.territories[place("department", "75").id].has_contributor is False


def test_a_grant_without_territory_or_perimeter_covers_everything(app, entries_scenario):
    session = db_session()
    person = User(email="all@example.org", name="Partout")
    person.grants.append(Grant(role=Role.LOCAL_CONTRIBUTOR))
    session.add(person)
    session.commit()
    report = completeness(session, policy_ids=[entries_scenario["policy"].id], today=TODAY)
    assert report.uncovered == []
    assert report.contributors[person.id].expected == 12 * DEPARTMENTS


def test_entry_levels(app):
    with app.app_context():
        nation, region, dep = place("nation", "FR"), place("region", "84"), place("department", "38")
        central, c_ind = make_policy("CH-NAT", territorialised=False)
        regional, r_ind = make_policy("CH-REG", weights={"nation": 100, "region": 100})
        unweighted, u_ind = make_policy("CH-UNW", weights={})
        project, p_ind = make_policy("PS-1", kind="structuring_project", territory=dep, weights={})
        quarterly, q_ind = make_policy("CH-Q", territorialised=False,
                                       periodicity=Periodicity.QUARTERLY, delay=1)
        draft, _ = make_policy("CH-DRAFT", status=PolicyStatus.DRAFT)
        save(actuals(q_ind, nation, dt.date(2026, 5, 15)) + actuals(p_ind, dep, dt.date(2026, 3, 1)))
        report = completeness(db_session(), today=TODAY)
        where = {}
        for cell in report.cells:
            where.setdefault(cell.indicator_id, set()).add(cell.territory_id)
        assert where[c_ind.id] == {nation.id}
        assert len(where[r_ind.id]) == 18 and region.id in where[r_ind.id]
        assert where[u_ind.id] == {nation.id}
        assert where[p_ind.id] == {dep.id}
        assert where[q_ind.id] == {nation.id}
        assert draft.id not in report.policies
        (q,) = [c for c in report.cells if c.indicator_id == q_ind.id]
        assert (q.expected, q.received) == (3, 1)           # Q1, Q2 (value of 15 May), Q3
        (p,) = [c for c in report.cells if c.indicator_id == p_ind.id]
        assert (p.expected, p.received) == (12, 1)
        assert draft.id in completeness(db_session(), today=TODAY, include_unpublished=True).policies


def test_filters_and_window(app, entries_scenario):
    s = entries_scenario
    session = db_session()
    region = place("region", "84")
    report = completeness(session, territory_ids=[region.id], today=TODAY)
    assert {c.territory_id for c in report.cells} == {place("department", c).id for c in ARA}
    assert report.total == Counts(12 * len(ARA), 18)
    assert completeness(session, indicator_ids=[], today=TODAY).cells == []
    window = completeness(session, policy_ids=[s["policy"].id], start=dt.date(2026, 1, 1),
                          end=dt.date(2026, 3, 31), today=TODAY)
    d03 = [c for c in window.cells if c.territory_id == s["d03"].id][0]
    assert (d03.expected, d03.received) == (3, 3)
    everything = completeness(session, policy_ids=[s["policy"].id], today=TODAY, only_due=False)
    d03 = [c for c in everything.cells if c.territory_id == s["d03"].id][0]
    assert (d03.expected, d03.received) == (13, 7)         # November 2026 counts once not "due"
