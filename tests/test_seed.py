"""The seed loaders: reference territories from the COG code lists and the demo generator."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

import pytest

from core.testing.pytest_plugin import values_checksum as checksum
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from werkzeug.security import check_password_hash

import core.models  # noqa: F401
from core.db import Model, make_engine
from core.models import (
    AuditEntry,
    Channel,
    Comment,
    Grant,
    Indicator,
    IndicatorValue,
    IndicatorValueRevision,
    IndicatorWeight,
    Policy,
    PolicyGroup,
    PolicyStatus,
    Role,
    TargetScope,
    Territory,
    User,
    ValueKind,
    Weather,
    WeatherReport,
)
from core.seed import (
    DemoAlreadyLoaded,
    ReferenceDataMissing,
    cog_data_dir,
    load_demo,
    load_reference_territories,
    reset_demo,
)
from core.seed.demo import DEFAULT_SPEC, DEFAULT_TODAY
from core.seed.spec import SpecError, load_spec
from core.seed.trajectories import add_months

BASE_LEVELS = ["nation", "region", "department"]


def new_session(path) -> Session:
    engine = make_engine(f"sqlite:///{path}")
    Model.metadata.create_all(engine)
    return Session(engine)


def count(session: Session, *where, model=Territory) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def territory(session: Session, level: str, code: str) -> Territory:
    return session.scalars(select(Territory).where(Territory.level == level, Territory.code == code)).one()


@pytest.fixture(scope="module")
def reference_session(tmp_path_factory):
    session = new_session(tmp_path_factory.mktemp("ref") / "ref.db")
    load_reference_territories(session, BASE_LEVELS)
    session.commit()
    yield session
    session.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    session = new_session(tmp_path_factory.mktemp("demo") / "demo.db")
    load_reference_territories(session, BASE_LEVELS)
    counts = load_demo(session, DEFAULT_SPEC)
    session.commit()
    yield session, counts
    session.close()


# -- reference territories ------------------------------------------------------------------


def test_reference_counts_and_parents(reference_session):
    s = reference_session
    assert count(s, Territory.level == "nation") == 1
    assert count(s, Territory.level == "region") == 18
    assert count(s, Territory.level == "department") == 101
    nation = territory(s, "nation", "FR")
    assert nation.name == "France" and nation.parent_id is None
    assert territory(s, "region", "84").parent_id == nation.id
    pairs = [("2A", "94"), ("2B", "94"), ("971", "01"), ("976", "06"), ("69", "84"), ("75", "11")]
    for dep, region in pairs:
        assert territory(s, "department", dep).parent.code == region
    assert {r.code for r in territory(s, "region", "94").children} == {"2A", "2B"}
    # populations summed from the communes file, at every level
    assert 60_000_000 < nation.population < 75_000_000
    assert territory(s, "department", "69").population > 1_500_000
    regions = s.scalars(select(Territory.population).where(Territory.level == "region")).all()
    assert sum(regions) == nation.population


def test_reference_loading_is_idempotent(reference_session):
    s = reference_session
    rows = select(Territory.id, Territory.code, Territory.parent_id).order_by(Territory.id)
    before = s.execute(rows).all()
    lyon = territory(s, "department", "69")
    lyon.name = "Renamed"
    s.flush()
    counts = load_reference_territories(s, BASE_LEVELS)
    assert counts == {"nation": 1, "region": 18, "department": 101}
    assert s.execute(rows).all() == before
    s.refresh(lyon)
    assert lyon.name == "Rhône"


def test_reference_subset_and_bad_level(tmp_path):
    s = new_session(tmp_path / "subset.db")
    assert load_reference_territories(s, ["nation", "region"]) == {"nation": 1, "region": 18}
    assert count(s, Territory.level == "department") == 0
    load_reference_territories(s, ["department"])  # parents already there: linked
    assert territory(s, "department", "2A").parent.code == "94"
    with pytest.raises(ValueError):
        load_reference_territories(s, ["canton"])


def test_missing_code_lists_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.delenv("PILOTE_COG_DIR", raising=False)
    with pytest.raises(ReferenceDataMissing, match="npm ci"):
        cog_data_dir(tmp_path)
    real = cog_data_dir()
    monkeypatch.setenv("PILOTE_COG_DIR", str(real))
    assert cog_data_dir() == real
    monkeypatch.setenv("PILOTE_COG_DIR", str(tmp_path))
    with pytest.raises(ReferenceDataMissing, match="PILOTE_COG_DIR"):
        cog_data_dir()


def test_communes(tmp_path):
    communes = json.loads((cog_data_dir() / "communes.json").read_text(encoding="utf-8"))
    expected = sum(1 for c in communes
                   if c["type"] == "commune-actuelle" and c["zone"] in ("metro", "drom"))
    s = new_session(tmp_path / "communes.db")
    counts = load_reference_territories(s, BASE_LEVELS + ["commune"])
    assert counts["commune"] == expected
    assert count(s, Territory.level == "commune") == expected
    assert load_reference_territories(s, ["commune"]) == {"commune": expected}
    assert count(s, Territory.level == "commune") == expected
    for commune, dep in [("69123", "69"), ("2A004", "2A"), ("97411", "974"), ("97611", "976")]:
        assert territory(s, "commune", commune).parent.code == dep
    assert territory(s, "commune", "69123").population > 400_000
    assert count(s, Territory.level == "commune", Territory.code == "75101") == 0  # arrondissement


# -- demo -----------------------------------------------------------------------------------


def test_demo_structure(demo):
    s, counts = demo
    policies = s.scalars(select(Policy)).all()
    assert 18 <= len(policies) <= 22
    assert count(s, model=PolicyGroup) == 4
    priority = [p for p in policies if p.kind == "priority_policy"]
    assert {p.group.code for p in priority} == {"ENG-1", "ENG-2", "ENG-3", "ENG-4"}
    projects = [p for p in policies if p.kind == "structuring_project"]
    assert len(projects) == 2 and all(p.territory.level == "department" for p in projects)
    statuses = [p.status for p in policies]
    assert statuses.count(PolicyStatus.DRAFT) == 1 and statuses.count(PolicyStatus.ARCHIVED) == 1
    for p in policies:
        assert 2 <= len(p.indicators) <= 5
        assert p.organisation is not None
        owners = [c for c in p.contacts if c.role == "owner"]
        assert len(owners) == 1 and owners[0].email.endswith(".example.org")
    assert counts["policy"] == len(policies)
    assert counts["indicator_value"] > 100_000


def test_weights_sum_to_100_per_policy_and_level(demo):
    s, _ = demo
    totals = defaultdict(Decimal)
    for policy_id, level, weight in s.execute(
        select(Indicator.policy_id, IndicatorWeight.level, IndicatorWeight.weight).join(Indicator)
    ):
        totals[(policy_id, level)] += weight
    assert totals and set(totals.values()) == {Decimal(100)}


def test_values_provenance_and_revisions(demo):
    s, counts = demo
    assert counts["indicator_value_revision"] == counts["indicator_value"]
    assert count(s, model=IndicatorValueRevision) == count(s, model=IndicatorValue)
    assert count(s, IndicatorValue.channel != Channel.SEED, model=IndicatorValue) == 0
    assert count(s, IndicatorValue.author_id.is_not(None), model=IndicatorValue) == 0
    assert count(s, IndicatorValue.version != 1, model=IndicatorValue) == 0
    mismatched = s.scalar(
        select(func.count()).select_from(IndicatorValueRevision).join(IndicatorValue)
        .where((IndicatorValueRevision.value != IndicatorValue.value)
               | (IndicatorValueRevision.revision != 1))
    )
    assert mismatched == 0
    value = s.scalars(select(IndicatorValue).limit(1)).one()
    assert isinstance(value.value, Decimal)
    assert value.recorded_at.date() <= DEFAULT_TODAY


def _national(s: Session, code: str) -> dict:
    rows = s.execute(
        select(IndicatorValue.kind, IndicatorValue.target_scope, IndicatorValue.date, IndicatorValue.value)
        .join(Indicator).join(Territory).where(Indicator.code == code, Territory.level == "nation")
    ).all()
    out = defaultdict(dict)
    for kind, scope, date, value in rows:
        out[(kind, scope)][date] = value
    return out


def test_periods_and_targets(demo):
    s, _ = demo
    for code, n in [("IND-2011", 36), ("IND-2012", 12), ("IND-4012", 3)]:
        values = _national(s, code)
        actuals = sorted(values[(ValueKind.ACTUAL, None)])
        assert len(actuals) == n
        assert all(d.day == 1 for d in actuals) and actuals[-1] <= DEFAULT_TODAY
        assert list(values[(ValueKind.BASELINE, None)]) == [actuals[0]]
        assert list(values[(ValueKind.TARGET, TargetScope.FINAL)]) == [dt.date(2027, 12, 1)]
        annual = sorted(values[(ValueKind.TARGET, TargetScope.ANNUAL)])
        assert [d.year for d in annual][-2:] == [2025, 2026]
        assert all((d.month, d.day) == (12, 1) for d in annual)


def test_targets_differ_between_departments(demo):
    s, _ = demo
    rows = s.execute(
        select(Indicator.code, Territory.code, IndicatorValue.kind, IndicatorValue.value)
        .join(Indicator).join(Territory)
        .where(Territory.level == "department", Indicator.code.in_(["IND-1021", "IND-2011", "IND-3011"]),
               (IndicatorValue.kind == ValueKind.BASELINE)
               | (IndicatorValue.target_scope == TargetScope.FINAL))
    ).all()
    by = defaultdict(dict)
    for ind, dep, kind, value in rows:
        by[(ind, dep)][kind] = value
    for code in ["IND-1021", "IND-2011", "IND-3011"]:
        efforts = {(v[ValueKind.TARGET] - v[ValueKind.BASELINE]) for (i, _), v in by.items() if i == code}
        assert len(efforts) > 20, code


def test_regions_and_nation_are_aggregated_from_departments(demo):
    s, _ = demo
    dep, reg = aliased(Territory), aliased(Territory)
    regional = s.scalar(
        select(IndicatorValue.value).join(Indicator).join(Territory)
        .where(Indicator.code == "IND-2011", Territory.level == "region", Territory.code == "84",
               IndicatorValue.kind == ValueKind.BASELINE)
    )
    departments = s.scalars(
        select(IndicatorValue.value).join(Indicator).join(dep, dep.id == IndicatorValue.territory_id)
        .join(reg, reg.id == dep.parent_id)
        .where(Indicator.code == "IND-2011", reg.code == "84", IndicatorValue.kind == ValueKind.BASELINE)
    ).all()
    assert len(departments) == 12 and regional == sum(departments)
    # a rate: population-weighted mean, back to the spec's national baseline
    assert _national(s, "IND-1021")[(ValueKind.BASELINE, None)].popitem()[1] == Decimal("42.0")


def test_profiles_stale_and_on_track(demo):
    s, _ = demo
    six_months_ago = add_months(DEFAULT_TODAY, -6)
    last = dict(s.execute(
        select(Policy.code, func.max(IndicatorValue.date)).join(Indicator, Indicator.policy_id == Policy.id)
        .join(IndicatorValue).where(IndicatorValue.kind == ValueKind.ACTUAL).group_by(Policy.code)
    ).all())
    stale = [code for code, day in last.items() if day < six_months_ago]
    assert "CH-104" in stale and "CH-404" in stale
    fresh = [code for code, day in last.items() if day >= add_months(DEFAULT_TODAY, -3)]
    assert len(fresh) >= 10

    def annual_progress(code: str) -> float:
        values = _national(s, code)
        baseline = next(iter(values[(ValueKind.BASELINE, None)].values()))
        actual = values[(ValueKind.ACTUAL, None)][max(values[(ValueKind.ACTUAL, None)])]
        target = values[(ValueKind.TARGET, TargetScope.ANNUAL)][dt.date(2026, 12, 1)]
        return float((actual - baseline) / (target - baseline))

    on_track = s.scalars(select(Policy).where(Policy.code == "CH-201")).one()
    assert all(annual_progress(i.code) > 0.7 for i in on_track.indicators)
    regressing = s.scalars(select(Policy).where(Policy.code == "CH-303")).one()
    assert all(annual_progress(i.code) < 0.2 for i in regressing.indicators)


def test_some_departments_miss_entries(demo):
    s, _ = demo
    per_pair = s.execute(
        select(func.count()).select_from(IndicatorValue).join(Indicator).join(Territory)
        .where(Territory.level == "department", Indicator.code == "IND-2011",
               IndicatorValue.kind == ValueKind.ACTUAL)
        .group_by(Territory.code)
    ).scalars().all()
    assert len(per_pair) == 101 and max(per_pair) == 36
    everywhere = s.execute(
        select(Indicator.code, Territory.code, func.count()).select_from(IndicatorValue).join(Indicator)
        .join(Territory).where(Territory.level == "department", IndicatorValue.kind == ValueKind.ACTUAL)
        .group_by(Indicator.code, Territory.code)
    ).all()
    full = defaultdict(int)
    for ind, _, n in everywhere:
        full[ind] = max(full[ind], n)
    assert any(n < full[ind] for ind, _, n in everywhere)


def test_weather_and_comments(demo):
    s, _ = demo
    weathers = set(s.scalars(select(WeatherReport.weather).distinct()).all())
    assert weathers == {Weather.SECURED, Weather.ACHIEVABLE, Weather.SUPPORT_NEEDED, Weather.COMPROMISED}
    draft = s.scalars(select(Policy).where(Policy.status == PolicyStatus.DRAFT)).one()
    assert count(s, WeatherReport.policy_id == draft.id, model=WeatherReport) == 0
    policy = s.scalars(select(Policy).where(Policy.code == "CH-201")).one()
    reports = s.execute(
        select(Territory.level, Territory.code, func.count(), func.max(WeatherReport.created_at))
        .select_from(WeatherReport).join(Territory).where(WeatherReport.policy_id == policy.id)
        .group_by(Territory.level, Territory.code)
    ).all()
    levels = defaultdict(int)
    for level, _, n, latest in reports:
        levels[level] += 1
        assert 2 <= n <= 4
        assert (DEFAULT_TODAY - dt.datetime.fromisoformat(str(latest)).date()).days <= 45
    assert levels["nation"] == 1 and 12 <= levels["region"] <= 18 and 40 <= levels["department"] < 101
    summary = s.scalars(select(WeatherReport.summary).limit(1)).one()
    assert summary and "{" not in summary
    types = set(s.scalars(select(Comment.type).distinct()).all())
    assert types == {"obstacles", "next_actions", "results_to_highlight", "data_comment", "decision"}
    assert count(s, Comment.parent_id.is_not(None), model=Comment) > 0
    reply = s.scalars(select(Comment).where(Comment.parent_id.is_not(None)).limit(1)).one()
    assert reply.created_at > reply.parent.created_at


def test_users_and_grants(demo):
    s, _ = demo
    for role in Role:
        user = s.scalars(select(User).where(User.email == f"{role.value}@demo.pilote.example")).one()
        assert check_password_hash(user.password_hash, "pilote-demo")
        assert [g.role for g in user.grants] == [role]
    grant = lambda role: s.scalars(select(Grant).where(Grant.role == role)).one()  # noqa: E731
    for role in (Role.ADMIN, Role.CENTRAL_STEERING, Role.READER):
        assert grant(role).territory_id is None and grant(role).organisation_id is None
    assert grant(Role.MINISTRY_REFERENT).organisation is not None
    assert grant(Role.PREFECT).territory.key == "region-84"
    assert grant(Role.TERRITORIAL_COORDINATOR).territory.key == "region-84"
    local = grant(Role.LOCAL_CONTRIBUTOR)
    assert local.territory.key == "department-69" and 1 <= len(local.policies) <= 6


def test_audit_entry(demo):
    s, counts = demo
    entry = s.scalars(select(AuditEntry)).one()  # bulk writes: no per-row audit entries
    assert (entry.action, entry.entity, entry.entity_id) == ("bulk", "seed", "demo")
    assert (entry.actor_label, entry.channel, entry.actor_id) == ("pilote seed demo", "seed", None)
    assert entry.changes == counts


def test_demo_is_deterministic(demo, tmp_path):
    s, counts = demo
    other = new_session(tmp_path / "again.db")
    load_reference_territories(other, BASE_LEVELS)
    assert load_demo(other, DEFAULT_SPEC) == counts
    other.commit()
    assert checksum(other) == checksum(s)

    with pytest.raises(DemoAlreadyLoaded):
        load_demo(other, DEFAULT_SPEC)
    other.rollback()

    deleted = reset_demo(other, DEFAULT_SPEC)
    assert deleted["policy"] == counts["policy"] and deleted["indicator_value"] == counts["indicator_value"]
    assert count(other, model=IndicatorValue) == 0 and count(other, model=User) == 0
    assert count(other, Territory.level == "department") == 101

    load_demo(other, DEFAULT_SPEC, seed=7)
    assert checksum(other) != checksum(s)
    assert load_demo(other, DEFAULT_SPEC, reset=True) == counts
    assert checksum(other) == checksum(s)
    other.commit()


def test_demo_needs_reference_territories(tmp_path):
    with pytest.raises(RuntimeError, match="reference territories"):
        load_demo(new_session(tmp_path / "empty.db"), DEFAULT_SPEC)


def test_spec_validation(tmp_path):
    spec = load_spec(DEFAULT_SPEC)
    assert len(spec.policies) == 20
    assert spec.user_emails[0] == "admin@demo.pilote.example"
    text = DEFAULT_SPEC.read_text(encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("weight = 35\n", "weight = 36\n", 1), encoding="utf-8")
    with pytest.raises(SpecError, match="sum to"):
        load_spec(broken)
    broken.write_text(text.replace("baseline = 42.0\n", "baseline = 95.0\n", 1), encoding="utf-8")
    with pytest.raises(SpecError, match="not better"):
        load_spec(broken)
