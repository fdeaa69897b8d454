"""The demo spec: a TOML file describing organisations, groups, policies, indicators, users
and the French text templates, read into plain frozen dataclasses and validated."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from core.models import Direction, IndicatorCategory, Periodicity, PolicyStatus, Role

PROFILES = ("on_track", "late", "stale", "regressing")
SHAPES = ("linear", "s_curve", "front_loaded", "late_start")
AGGREGATIONS = ("sum", "mean")
ALL_LEVELS = ("nation", "region", "department")


class SpecError(ValueError):
    """The demo spec is inconsistent."""


@dataclass(frozen=True)
class IndicatorSpec:
    code: str
    name: str
    unit: str
    decimals: int
    direction: Direction
    periodicity: Periodicity
    availability_delay_months: int
    source: str
    calculation_method: str
    aggregation: str
    category: IndicatorCategory
    is_public: bool
    weights: dict[str, Decimal]
    baseline: float
    target: float
    profile: str
    shape: str = "linear"
    noise: float = 0.03
    spread: float = 0.15
    minimum: float | None = 0.0
    maximum: float | None = None
    cumulative: bool = False
    seasonality: float = 0.0
    season_peak: int = 1
    description: str = ""
    source_url: str | None = None


@dataclass(frozen=True)
class PolicySpec:
    # ``levels``: the grid levels of the spec, top first, the last one being the steering level
    code: str
    name: str
    short_name: str
    description: str
    kind: str
    status: PolicyStatus
    group: str | None
    organisation: str
    profile: str
    territory: str | None  # department code of a structuring project
    territorialised: bool
    is_public: bool
    owner_name: str
    owner_email: str
    indicators: tuple[IndicatorSpec, ...]
    grid_levels: tuple[str, ...] = ALL_LEVELS

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels where this policy has values, weights and weather."""
        return _levels(self.territory, self.territorialised, self.grid_levels)


def _levels(territory: str | None, territorialised: bool,
            grid_levels: tuple[str, ...] = ALL_LEVELS) -> tuple[str, ...]:
    if territory:
        return (grid_levels[-1],)
    return grid_levels if territorialised else (grid_levels[0],)


@dataclass(frozen=True)
class UserSpec:
    role: Role
    name: str
    territory: tuple[str, str] | None = None  # (level, code)
    organisation: str | None = None
    policies: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoSpec:
    name: str
    final_target_date: dt.date
    history_years: int
    email_domain: str
    organisations: tuple[dict, ...]
    groups: tuple[dict, ...]
    policies: tuple[PolicySpec, ...]
    users: tuple[UserSpec, ...]
    texts: dict = field(default_factory=dict)
    # the grid holding the demo's territories and its levels, top first: values are generated
    # at the last one (the steering level) and aggregated to the others
    grid: str = "admin"
    levels: tuple[str, ...] = ALL_LEVELS

    @property
    def policy_codes(self) -> list[str]:
        return [p.code for p in self.policies]

    @property
    def indicator_codes(self) -> list[str]:
        return [i.code for p in self.policies for i in p.indicators]

    @property
    def user_emails(self) -> list[str]:
        return [f"{u.role.value}@{self.email_domain}" for u in self.users]


# the keys an indicator may have in the spec: the fields, but "min"/"max" and "weight" shorthand
SPEC_KEYS = (set(IndicatorSpec.__dataclass_fields__) - {"maximum", "minimum"}) | {"max", "min", "weight"}


def _indicator(raw: dict, policy: dict, levels: tuple[str, ...]) -> IndicatorSpec:
    raw = dict(raw)
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise SpecError(f"indicator {raw.get('code')}: unknown keys {sorted(unknown)}")
    if "weight" in raw:
        weight = Decimal(str(raw.pop("weight")))
        weights = {lvl: weight for lvl in levels}
    elif "weights" in raw:
        weights = {lvl: Decimal(str(w)) for lvl, w in raw.pop("weights").items() if lvl in levels}
    else:
        raise SpecError(f"indicator {raw.get('code')}: give a weight or weights")
    unit = raw.get("unit", "")
    ind = IndicatorSpec(
        code=raw.pop("code"),
        name=raw.pop("name"),
        unit=raw.pop("unit", ""),
        decimals=raw.pop("decimals", 0),
        direction=Direction(raw.pop("direction")),
        periodicity=Periodicity(raw.pop("periodicity")),
        availability_delay_months=raw.pop("availability_delay_months", 0),
        source=raw.pop("source"),
        calculation_method=raw.pop("calculation_method"),
        aggregation=raw.pop("aggregation"),
        category=IndicatorCategory(raw.pop("category")),
        is_public=raw.pop("is_public", False),
        weights=weights,
        baseline=float(raw.pop("baseline")),
        target=float(raw.pop("target")),
        profile=raw.pop("profile", policy.get("profile", "on_track")),
        maximum=raw.pop("max", 100.0 if unit == "%" else None),
        minimum=raw.pop("min", 0.0),
        **raw,
    )
    _check_indicator(ind)
    return ind


def _check_indicator(ind: IndicatorSpec) -> None:
    where = f"indicator {ind.code}"
    if ind.aggregation not in AGGREGATIONS:
        raise SpecError(f"{where}: aggregation must be one of {AGGREGATIONS}")
    if ind.profile not in PROFILES or ind.shape not in SHAPES:
        raise SpecError(f"{where}: unknown profile {ind.profile!r} or shape {ind.shape!r}")
    if ind.periodicity.months is None or ind.periodicity.months > 12:
        raise SpecError(f"{where}: the demo generates monthly to annual periodicities only")
    better = ind.target > ind.baseline if ind.direction is Direction.INCREASE else ind.target < ind.baseline
    if not better:
        raise SpecError(f"{where}: target {ind.target} is not better than baseline {ind.baseline}")


def _policy(raw: dict, grid_levels: tuple[str, ...] = ALL_LEVELS) -> PolicySpec:
    territory = raw.get("territory")
    territorialised = raw.get("territorialised", True)
    levels = _levels(territory, territorialised, grid_levels)
    indicators = tuple(_indicator(i, raw, levels) for i in raw["indicators"])
    policy = PolicySpec(
        code=raw["code"],
        name=raw["name"],
        short_name=raw["short_name"],
        description=raw.get("description", ""),
        kind=raw.get("kind", "priority_policy"),
        status=PolicyStatus(raw.get("status", "published")),
        group=raw.get("group"),
        organisation=raw["organisation"],
        profile=raw.get("profile", "on_track"),
        territory=territory,
        territorialised=territorialised,
        is_public=raw.get("is_public", True),
        owner_name=raw["owner"]["name"],
        owner_email=raw["owner"]["email"],
        indicators=indicators,
        grid_levels=grid_levels,
    )
    if not 2 <= len(indicators) <= 5:
        raise SpecError(f"policy {policy.code}: expected 2 to 5 indicators")
    for level in policy.levels:
        total = sum(i.weights.get(level, Decimal(0)) for i in indicators)
        if total != 100:
            raise SpecError(f"policy {policy.code}: weights at level {level} sum to {total}, not 100")
    return policy


def _user(raw: dict) -> UserSpec:
    territory = tuple(raw["territory"].split(":", 1)) if raw.get("territory") else None
    return UserSpec(
        role=Role(raw["role"]),
        name=raw["name"],
        territory=territory,
        organisation=raw.get("organisation"),
        policies=tuple(raw.get("policies", ())),
    )


def load_spec(path: Path) -> DemoSpec:
    """Read and validate the demo spec at ``path``; raises :class:`SpecError` if it is wrong."""
    with Path(path).open("rb") as fh:
        raw = tomllib.load(fh)
    try:
        meta = raw["demo"]
        grid_levels = tuple(meta.get("levels", ALL_LEVELS))
        if len(grid_levels) < 1 or len(set(grid_levels)) != len(grid_levels):
            raise SpecError(f"{path}: [demo] levels must be distinct level keys, top first")
        spec = DemoSpec(
            name=meta["name"],
            final_target_date=meta["final_target_date"],
            history_years=meta.get("history_years", 3),
            email_domain=meta["email_domain"],
            organisations=tuple(raw["organisations"]),
            groups=tuple(raw["groups"]),
            policies=tuple(_policy(p, grid_levels) for p in raw["policies"]),
            users=tuple(_user(u) for u in raw["users"]),
            texts=raw["texts"],
            grid=meta.get("grid", "admin"),
            levels=grid_levels,
        )
    except SpecError:
        raise
    except (KeyError, TypeError, ValueError) as exc:  # a missing key, a wrong enum value…
        raise SpecError(f"{path}: {type(exc).__name__}: {exc}") from exc
    _check_references(spec)
    return spec


def _check_references(spec: DemoSpec) -> None:
    orgs = {o["code"] for o in spec.organisations}
    groups = {g["code"] for g in spec.groups}
    for codes, what in ((spec.policy_codes, "policy"), (spec.indicator_codes, "indicator")):
        if len(set(codes)) != len(codes):
            raise SpecError(f"duplicate {what} codes")
    for p in spec.policies:
        if p.organisation not in orgs or (p.group and p.group not in groups):
            raise SpecError(f"policy {p.code}: unknown organisation or group")
    roles = [u.role for u in spec.users]
    if len(set(roles)) != len(roles):
        raise SpecError("one demo user per role")
    for u in spec.users:
        if u.organisation and u.organisation not in orgs:
            raise SpecError(f"user {u.role}: unknown organisation {u.organisation}")
        if set(u.policies) - set(spec.policy_codes):
            raise SpecError(f"user {u.role}: unknown policies")
