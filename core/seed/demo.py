"""The deterministic demo: policies, indicators, values, weather, comments, users and grants.

Everything is generated from the TOML spec (``instances/ditp/seed/demo.toml``) and a seed:
the same spec, seed and ``today`` give the same rows (ids aside). The wall clock is never read,
except for the audit entry, which records when the load ran. The reference territories
(nation, regions, departments) must be loaded first.

Values: per indicator, departments are generated (see :mod:`core.seed.trajectories`) and the
regions and the nation are computed from the departments with the indicator's aggregation
method (``sum``: sum; ``mean``: population-weighted mean), from the complete department series
(a few departments then miss some entries). A non-territorialised policy only has national
values; a structuring project only has values in its own department.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from core.audit import acting_as, record_bulk
from core.models import (
    AuditEntry,
    Channel,
    Comment,
    Grant,
    Indicator,
    IndicatorValue,
    IndicatorValueRevision,
    IndicatorWeight,
    Organisation,
    Policy,
    PolicyContact,
    PolicyGroup,
    PolicyStatus,
    Role,
    Territory,
    User,
    ValueKind,
    WeatherReport,
    grant_policy,
)
from core.seed.narrative import Narrator, Note, Place
from core.seed.reference import default_repo_root
from core.seed.spec import DemoSpec, PolicySpec, load_spec
from core.seed.trajectories import IndicatorGenerator, Point, Unit, add_months, aggregate

DEFAULT_SEED = 20261121
DEFAULT_TODAY = dt.date(2026, 11, 1)
DEFAULT_SPEC = default_repo_root() / "instances" / "ditp" / "seed" / "demo.toml"
DEFAULT_PASSWORD = "pilote-demo"
SEED_ACTOR = "pilote seed demo"
BATCH = 10_000
UTC = dt.timezone.utc


class DemoAlreadyLoaded(Exception):
    """The demo's rows are already in the database (pass ``reset=True`` to reload them)."""


@dataclass(frozen=True, slots=True)
class Ref:
    id: int
    level: str
    code: str
    name: str
    parent: str | None
    population: int | None


def _at(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _reference(session: Session, grid: str, levels: tuple[str, ...]) -> dict[str, dict[str, Ref]]:
    """The territories of ``grid`` at ``levels`` (top first), by level and code."""
    rows = session.execute(
        select(Territory.id, Territory.level, Territory.code, Territory.name, Territory.parent_id,
               Territory.population)
        .where(Territory.grid == grid, Territory.valid_to.is_(None), Territory.level.in_(list(levels)))
    ).all()
    codes = {r.id: r.code for r in rows}
    refs: dict[str, dict[str, Ref]] = {level: {} for level in levels}
    for r in rows:
        refs[r.level][r.code] = Ref(r.id, r.level, r.code, r.name, codes.get(r.parent_id), r.population)
    if any(not refs[level] for level in levels):
        raise RuntimeError(f"load the reference territories ({', '.join(levels)}) of grid "
                           f"{grid!r} before the demo")
    return refs


def _ensure_references(session: Session, grid: str, levels: tuple[str, ...]) -> None:
    """Inside an app, load the instance's reference territories when the demo's grid has none
    yet (``pilote seed demo`` loads them first; this covers grids whose loader is not ``cog``)."""
    from flask import current_app, has_app_context

    present = session.scalar(select(func.count()).select_from(Territory).where(
        Territory.grid == grid, Territory.level == levels[-1], Territory.valid_to.is_(None)))
    if present or not has_app_context() or "pilote" not in current_app.extensions:
        return
    from core.seed.grids import load_grid_references

    load_grid_references(session, current_app.extensions["pilote"].config.grids)


def _insert(session: Session, model, rows: list[dict]) -> list[int]:
    """Bulk insert ``rows`` and return their ids, in order."""
    if not rows:
        return []
    stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows).all())


def _insert_many(session: Session, table, rows: list[dict]) -> int:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(table), rows[start:start + BATCH])
    return len(rows)


def _present(session: Session, spec: DemoSpec) -> list[str]:
    found = session.scalars(select(Policy.code).where(Policy.code.in_(spec.policy_codes))).all()
    found += session.scalars(select(User.email).where(User.email.in_(spec.user_emails))).all()
    return sorted(found)


def load_demo(
    session: Session,
    spec_path: Path = DEFAULT_SPEC,
    *,
    seed: int = DEFAULT_SEED,
    today: dt.date | None = None,
    demo_password: str = DEFAULT_PASSWORD,
    reset: bool = False,
    grid: str | None = None,
) -> dict[str, int]:
    """Generate the demo described by ``spec_path``; returns the row count per table.

    ``today`` defaults to :data:`DEFAULT_TODAY` (not the real date, so that the demo is
    reproducible). ``grid`` is the key of the grid holding the reference territories (default:
    the spec's ``[demo] grid``, itself ``admin`` by default); the spec's ``[demo] levels`` (top
    first, default nation, region, department) say where values are generated (the last one)
    and aggregated (the others). Raises :class:`DemoAlreadyLoaded` if any of its policies or users exists,
    unless ``reset`` (then the previous demo rows are deleted first). Does not commit.
    """
    spec = load_spec(spec_path)
    found = _present(session, spec)
    if found:
        if not reset:
            raise DemoAlreadyLoaded(f"demo data already loaded ({', '.join(found[:5])}…)")
        reset_demo(session, spec)
    _ensure_references(session, grid or spec.grid, spec.levels)
    counts = _Loader(session, spec, seed, today or DEFAULT_TODAY, demo_password, grid or spec.grid).run()
    from core.help.seed import seed_help  # default help pages and FAQ (docs/help.md), idempotent

    seed_help(session, audit=False)
    with acting_as(None, SEED_ACTOR, "seed"):
        record_bulk(session, "seed", "demo", counts)
    return counts


class _Loader:
    """Inserts the demo rows, table by table, keeping the ids it needs along the way."""

    def __init__(self, session: Session, spec: DemoSpec, seed: int, today: dt.date, password: str,
                 grid: str):
        self.session, self.spec, self.seed, self.today = session, spec, seed, today
        self.password = password
        self.levels = spec.levels
        self.top, self.steering = spec.levels[0], spec.levels[-1]
        self.refs = _reference(session, grid, spec.levels)
        self.start = add_months(today, -12 * spec.history_years)
        self.created = _at(self.start)
        self.counts: Counter[str] = Counter()
        self.ids: dict[str, dict[str, int]] = {}
        self.user_ids: dict[Role, int] = {}

    def run(self) -> dict[str, int]:
        self.organisations()
        self.policies()
        self.users()
        self.contacts()
        for policy in self.spec.policies:
            self.values(policy)
        self.revisions()
        for policy in self.spec.policies:
            if policy.status is not PolicyStatus.DRAFT:
                self.narrative(policy)
        return dict(sorted(self.counts.items()))

    def add(self, model, rows: list[dict], key: str | None = None) -> list[int]:
        ids = _insert(self.session, model, rows)
        self.counts[model.__tablename__] += len(ids)
        if key:
            self.ids.setdefault(model.__tablename__, {}).update(zip((r[key] for r in rows), ids))
        return ids

    def territory(self, level: str, code: str) -> Ref:
        return self.refs[level][code]

    # -- structure -------------------------------------------------------------------------

    def organisations(self) -> None:
        self.add(Organisation, [dict(code=o["code"], acronym=o["acronym"], name=o["name"])
                                for o in self.spec.organisations], key="code")
        self.add(PolicyGroup, [dict(code=g["code"], name=g["name"], position=i)
                               for i, g in enumerate(self.spec.groups)], key="code")

    def policies(self) -> None:
        groups, orgs = self.ids["policy_group"], self.ids["organisation"]
        self.add(Policy, [dict(
            code=p.code, name=p.name, short_name=p.short_name, description=p.description, kind=p.kind,
            status=p.status, group_id=groups.get(p.group), organisation_id=orgs[p.organisation],
            territory_id=self.territory(self.steering, p.territory).id if p.territory else None,
            is_territorialised=p.territorialised, is_public=p.is_public, targets_expected=True,
            created_at=self.created, updated_at=self.created, version=1,
        ) for p in self.spec.policies], key="code")
        policy_ids = self.ids["policy"]
        self.add(Indicator, [dict(
            code=i.code, policy_id=policy_ids[p.code], name=i.name, description=i.description,
            unit=i.unit, decimals=i.decimals, direction=i.direction, periodicity=i.periodicity,
            availability_delay_months=i.availability_delay_months, source=i.source,
            source_url=i.source_url, calculation_method=i.calculation_method,
            aggregation_method=i.aggregation, prefer_entered_values=True, category=i.category,
            is_public=i.is_public, position=n, version=1,
        ) for p in self.spec.policies for n, i in enumerate(p.indicators)], key="code")
        indicator_ids = self.ids["indicator"]
        self.add(IndicatorWeight, [dict(indicator_id=indicator_ids[i.code], level=level, weight=w)
                                   for p in self.spec.policies for i in p.indicators
                                   for level, w in i.weights.items()])

    def users(self) -> None:
        self.add(User, [dict(
            email=f"{u.role.value}@{self.spec.email_domain}", name=u.name,
            password_hash=generate_password_hash(self.password), is_active=True,
            is_service_account=False, locale="fr", created_at=self.created,
        ) for u in self.spec.users], key="email")
        self.user_ids = {u.role: self.ids["user_account"][f"{u.role.value}@{self.spec.email_domain}"]
                         for u in self.spec.users}
        grants = [dict(
            user_id=self.user_ids[u.role], role=u.role,
            territory_id=self.territory(*u.territory).id if u.territory else None,
            organisation_id=self.ids["organisation"][u.organisation] if u.organisation else None,
            source="seed", created_at=self.created,
        ) for u in self.spec.users]
        grant_ids = self.add(Grant, grants)
        links = [dict(grant_id=gid, policy_id=self.ids["policy"][code])
                 for gid, u in zip(grant_ids, self.spec.users) for code in u.policies]
        self.counts["grant_policy"] += _insert_many(self.session, grant_policy, links)

    def contacts(self) -> None:
        """The national owner of each policy (a project's owner sits in its department), and
        the local contributor as contact of its policies in its department."""
        policy_ids, rows = self.ids["policy"], []
        for p in self.spec.policies:
            place = self.territory(self.steering, p.territory).id if p.territory else None
            rows.append(dict(policy_id=policy_ids[p.code], territory_id=place, user_id=None,
                             role="owner", name=p.owner_name, email=p.owner_email))
        for u in self.spec.users:
            if u.role is Role.LOCAL_CONTRIBUTOR and u.territory:
                rows += [dict(policy_id=policy_ids[code], territory_id=self.territory(*u.territory).id,
                              user_id=self.user_ids[u.role], role="contact", name=u.name,
                              email=f"{u.role.value}@{self.spec.email_domain}") for code in u.policies]
        self.add(PolicyContact, rows)

    # -- values ----------------------------------------------------------------------------

    def ancestor(self, code: str, level: str) -> str:
        """The code of the territory of ``level`` holding the steering-level territory ``code``."""
        ref = self.territory(self.steering, code)
        while ref.level != level:
            ref = self.territory(self.levels[self.levels.index(ref.level) - 1], ref.parent)
        return ref.code

    def units(self, policy: PolicySpec) -> tuple[str, list[Unit], list[tuple[str, dict[str, Unit]]]]:
        """The level and units to generate, and for every level above the steering level (from
        the closest up), the map from a steering-level territory to its ancestor there."""
        if policy.territory or not policy.territorialised:
            level, code = (self.steering, policy.territory) if policy.territory else (self.top, None)
            ref = self.territory(level, code) if code else next(iter(
                sorted(self.refs[self.top].values(), key=lambda r: r.code)))
            return level, [Unit(ref.code, ref.population)], []
        units = sorted(self.refs[self.steering].values(), key=lambda r: r.code)
        maps = [(level, {r.code: Unit(r.code, r.population, self.ancestor(r.code, level)) for r in units})
                for level in reversed(self.levels[:-1])]
        return self.steering, list(maps[0][1].values()) if maps else [Unit(r.code, r.population) for r in units], maps

    def values(self, policy: PolicySpec) -> None:
        level, units, maps = self.units(policy)
        for ind in policy.indicators:
            gen = IndicatorGenerator(ind, self.seed, self.today, self.spec.final_target_date,
                                     self.spec.history_years)
            points, complete = gen.generate(units)
            levels = [(level, points)]
            levels += [(upper, aggregate(complete, to_upper, ind.aggregation, ind.decimals))
                       for upper, to_upper in maps]
            lag = ind.periodicity.months + ind.availability_delay_months
            rows = [self.value_row(ind.code, ind.source, lvl, p, lag) for lvl, pts in levels for p in pts]
            self.counts["indicator_value"] += _insert_many(self.session, IndicatorValue, rows)

    def value_row(self, indicator: str, source: str, level: str, p: Point, lag: int) -> dict:
        """A row of ``indicator_value``. An actual value is recorded once its period is over and
        published (capped at today); baselines and targets with the same lag after the start of
        the history. A per-territory offset of a few days spreads the entries."""
        first = p.date if p.kind is ValueKind.ACTUAL else self.start
        day = add_months(first, lag) + dt.timedelta(days=zlib.crc32(p.territory.encode()) % 20)
        return dict(
            indicator_id=self.ids["indicator"][indicator], territory_id=self.territory(level, p.territory).id,
            kind=p.kind, target_scope=p.scope, date=p.date, value=p.value, source=source,
            channel=Channel.SEED, author_id=None, recorded_at=_at(min(day, self.today)), version=1,
        )

    def revisions(self) -> None:
        """Revision 1 of every demo value, copied in one INSERT … SELECT."""
        v, demo = IndicatorValue, IndicatorValue.indicator_id.in_(list(self.ids["indicator"].values()))
        cols = ["value_id", "revision", "value", "source", "channel", "author_id", "recorded_at", "note"]
        query = select(v.id, literal(1), v.value, v.source, v.channel, v.author_id, v.recorded_at,
                       literal("")).where(demo)
        self.session.execute(insert(IndicatorValueRevision.__table__).from_select(cols, query))
        # not every driver reports the rowcount of INSERT … SELECT: count instead
        self.counts["indicator_value_revision"] += self.session.scalar(
            select(func.count()).select_from(IndicatorValueRevision).join(v).where(demo))

    # -- weather and comments --------------------------------------------------------------

    def part(self, level: str) -> str:
        """The level's part in the narrative: nation (top), department (steering) or region."""
        if level == self.top:
            return "nation"
        return "department" if level == self.steering else "region"

    def places(self, policy: PolicySpec) -> list[Place]:
        if policy.territory:
            levels = [(self.steering, [policy.territory])]
        else:
            levels = [(lvl, sorted(self.refs[lvl])) for lvl in policy.levels]
        return [Place(lvl, code, self.territory(lvl, code).name, self.part(lvl))
                for lvl, codes in levels for code in codes]

    def author(self, policy: PolicySpec, place: Place) -> int | None:
        """Who wrote a note: the ministry referent or the central steering at the top level, the
        local demo users in their territories, nobody known elsewhere."""
        users = {u.role: u for u in self.spec.users}
        if place.level == self.top:
            referent = users.get(Role.MINISTRY_REFERENT)
            if referent and referent.organisation == policy.organisation:
                return self.user_ids[Role.MINISTRY_REFERENT]
            return self.user_ids.get(Role.CENTRAL_STEERING)
        for role in (Role.LOCAL_CONTRIBUTOR, Role.TERRITORIAL_COORDINATOR):
            u = users.get(role)
            if u and u.territory and self.within(place, u.territory) \
                    and (not u.policies or policy.code in u.policies):
                return self.user_ids[role]
        return None

    def within(self, place: Place, scope: tuple[str, str]) -> bool:
        """Is ``place`` the territory ``scope`` (level, code) or one of the territories it holds
        at the steering level?"""
        if (place.level, place.code) == scope:
            return True
        return place.level == self.steering and scope[0] in self.levels \
            and scope[0] != self.steering and self.ancestor(place.code, scope[0]) == scope[1]

    def narrative(self, policy: PolicySpec) -> None:
        narrator = Narrator(policy, self.spec.texts, self.seed, self.today, self.start)
        places = self.places(policy)
        pid = self.ids["policy"][policy.code]
        self.add(WeatherReport, [dict(
            policy_id=pid, territory_id=self.territory(n.place.level, n.place.code).id, weather=n.weather,
            summary=n.body, author_id=self.author(policy, n.place), created_at=n.created_at,
        ) for n in narrator.weather(places)])
        notes = narrator.comments(places)
        parents = self.add(Comment, [self.comment_row(pid, n, None, self.author(policy, n.place))
                                     for n in notes])
        replier = self.user_ids.get(Role.CENTRAL_STEERING)
        self.add(Comment, [self.comment_row(pid, reply, parent, replier)
                           for parent, n in zip(parents, notes) for reply in n.replies])

    def comment_row(self, pid: int, n: Note, parent: int | None, author: int | None) -> dict:
        return dict(
            policy_id=pid, territory_id=self.territory(n.place.level, n.place.code).id, type=n.type,
            body=n.body, parent_id=parent, author_id=author, created_at=n.created_at,
            updated_at=n.created_at, version=1,
        )


def reset_demo(session: Session, spec: DemoSpec | Path = DEFAULT_SPEC) -> dict[str, int]:
    """Delete every row of the demo described by ``spec``; returns the deleted count per table.

    References from other rows to the demo users (authors, contacts, grant creators) are set to
    NULL first. Does not commit.
    """
    if not isinstance(spec, DemoSpec):
        spec = load_spec(spec)
    s, counts = session, {}
    s.flush()
    policies = select(Policy.id).where(Policy.code.in_(spec.policy_codes)).scalar_subquery()
    indicators = select(Indicator.id).where(
        or_(Indicator.code.in_(spec.indicator_codes), Indicator.policy_id.in_(policies))
    ).scalar_subquery()
    users = select(User.id).where(User.email.in_(spec.user_emails)).scalar_subquery()
    grants = select(Grant.id).where(Grant.user_id.in_(users)).scalar_subquery()
    values = select(IndicatorValue.id).where(IndicatorValue.indicator_id.in_(indicators)).scalar_subquery()

    def run(model, *where) -> None:
        table = getattr(model, "__table__", model)
        result = s.execute(delete(table).where(*where))
        counts[table.name] = counts.get(table.name, 0) + result.rowcount

    run(IndicatorValueRevision, IndicatorValueRevision.value_id.in_(values))
    run(IndicatorValue, IndicatorValue.indicator_id.in_(indicators))
    run(IndicatorWeight, IndicatorWeight.indicator_id.in_(indicators))
    run(Indicator, Indicator.id.in_(indicators))
    run(WeatherReport, WeatherReport.policy_id.in_(policies))
    run(Comment, Comment.policy_id.in_(policies), Comment.parent_id.is_not(None))
    run(Comment, Comment.policy_id.in_(policies))
    run(PolicyContact, PolicyContact.policy_id.in_(policies))
    run(grant_policy, or_(grant_policy.c.policy_id.in_(policies), grant_policy.c.grant_id.in_(grants)))
    run(Grant, Grant.user_id.in_(users))
    run(Policy, Policy.id.in_(policies))
    run(PolicyGroup, PolicyGroup.code.in_([g["code"] for g in spec.groups]))
    run(Organisation, Organisation.code.in_([o["code"] for o in spec.organisations]))
    for column in (IndicatorValue.author_id, IndicatorValueRevision.author_id, WeatherReport.author_id,
                   Comment.author_id, PolicyContact.user_id, Grant.created_by_id, AuditEntry.actor_id):
        table = column.class_.__table__
        s.execute(update(table).where(table.c[column.key].in_(users)).values({column.key: None}))
    run(User, User.email.in_(spec.user_emails))
    counts = {k: v for k, v in counts.items() if v}
    with acting_as(None, SEED_ACTOR, "seed"):
        record_bulk(s, "seed", "demo-reset", counts)
    s.expire_all()  # rows deleted behind the ORM's back: reload anything still held
    return counts
