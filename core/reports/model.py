"""What a report is made of: a selection, resolved into readable chapters for one user.

:func:`build_report` turns a :class:`Selection` (policy codes × territory keys, period) into a
:class:`Report` holding only what the requesting user may read: policies through
``policy.read``, territories through ``territory.read``, indicators through ``indicator.read``.
``user=None`` is the operator of the ``pilote`` command, who reads everything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.engine.recompute import reference_date
from core.figures import PolicyView, policy_views
from core.models import Indicator, Policy, PolicyFigure, PolicyStatus, Territory
from core.permissions import can, scope
from core.progress import median


class SelectionError(ValueError):
    """A selection that names an unknown policy or territory, or an impossible brief."""


@dataclass(frozen=True)
class Selection:
    """Policies (codes; empty: every readable policy) × territories (``<level>-<code>`` keys;
    empty: the top of the first grid) over a period. ``brief`` asks for a one-page brief of
    one policy or of one territory."""

    policies: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    brief: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"policies": list(self.policies), "territories": list(self.territories),
                "period_start": self.period_start.isoformat() if self.period_start else None,
                "period_end": self.period_end.isoformat() if self.period_end else None,
                "brief": self.brief}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Selection:
        day = lambda v: dt.date.fromisoformat(v) if v else None  # noqa: E731
        return cls(tuple(data.get("policies") or ()), tuple(data.get("territories") or ()),
                   day(data.get("period_start")), day(data.get("period_end")),
                   bool(data.get("brief")))


@dataclass
class Chapter:
    """One readable policy in one readable territory, with its figures and references."""

    policy: Policy
    territory: Territory
    view: PolicyView
    nation: PolicyView | None = None  # the top territory's figures, when this is not the top
    median_level: str | None = None  # the level the median is taken over
    median_overall: Decimal | None = None
    median_annual: Decimal | None = None
    range_overall: tuple[Decimal, Decimal] | None = None  # min and max over that level

    @property
    def key(self) -> str:
        return f"{self.policy.code}@{self.territory.key}"

    @property
    def anchor(self) -> str:
        return "ch-" + "".join(c if c.isalnum() else "-" for c in self.key)


@dataclass
class Report:
    """A resolved selection. ``user`` is None for the operator of the ``pilote`` command."""

    user: Any
    brief: str | None  # "policy" or "territory" for a one-page brief, None for a report
    period_start: dt.date
    period_end: dt.date
    policies: list[Policy]
    territories: list[Territory]
    chapters: list[Chapter] = field(default_factory=list)
    withheld: int = 0  # selected items left out because the user may not read them

    @property
    def title(self) -> str:
        """Policy names for one or two policies, else their count; then the territories."""
        from flask_babel import gettext as _

        from core.templating import term

        if len(self.policies) <= 2:
            what = ", ".join(p.name for p in self.policies)
        else:
            what = f"{len(self.policies)} {term('policies')}"
        where = ", ".join(t.name for t in self.territories[:3])
        if len(self.territories) > 3:
            where += _(" et %(count)s autres territoires", count=len(self.territories) - 3)
        return f"{what} — {where}" if what and where else what or where


def allowed(action: str, resource: Any, user: Any) -> bool:
    """``can`` for a report's user; the operator (None) may do everything."""
    return True if user is None else can(action, resource, user=user)


def find_territory(session: Session, key: str) -> Territory | None:
    level, _, code = key.partition("-")
    if not level or not code:
        return None
    return session.scalar(select(Territory).where(
        Territory.level == level, Territory.code == code, Territory.valid_to.is_(None)))


def top_territory(session: Session) -> Territory | None:
    top = current_app.extensions["pilote"].config.grids[0]["levels"][0]["key"]
    return session.scalar(select(Territory).where(Territory.level == top,
                                                  Territory.valid_to.is_(None))
                          .order_by(Territory.code).limit(1))


def _policies(session: Session, codes: tuple[str, ...], user: Any) -> tuple[list[Policy], int]:
    query = (select(Policy).options(selectinload(Policy.indicators).selectinload(Indicator.weights),
                                    selectinload(Policy.group), selectinload(Policy.organisation))
             .order_by(Policy.code))
    if codes:
        found = session.scalars(query.where(Policy.code.in_(codes))).all()
        unknown = sorted(set(codes) - {p.code for p in found})
        if unknown:
            raise SelectionError(f"unknown policy code(s): {', '.join(unknown)}")
        found.sort(key=lambda p: codes.index(p.code))
    else:
        query = query.where(Policy.status != PolicyStatus.ARCHIVED)
        if user is not None:
            query = query.where(scope("policy.read", Policy, user=user))
        found = session.scalars(query).all()
    readable = [p for p in found if allowed("policy.read", p, user)]
    return readable, len(found) - len(readable)


def _territories(session: Session, keys: tuple[str, ...], user: Any) -> tuple[list[Territory], int]:
    if not keys:
        top = top_territory(session)
        found = [top] if top else []
    else:
        found = []
        for key in dict.fromkeys(keys):
            territory = find_territory(session, key)
            if territory is None:
                raise SelectionError(f"unknown territory {key!r} (form: level-code, e.g. region-84)")
            found.append(territory)
    readable = [t for t in found if allowed("territory.read", t, user)]
    return readable, len(found) - len(readable)


def build_report(session: Session, selection: Selection, user: Any = None) -> Report:
    """Resolve ``selection`` for ``user``: everything unreadable is left out (and counted)."""
    end = selection.period_end or reference_date(None)
    start = selection.period_start or end - dt.timedelta(days=365)
    if start > end:
        raise SelectionError("the period starts after it ends")
    policies, hidden_p = _policies(session, selection.policies, user)
    territories, hidden_t = _territories(session, selection.territories, user)
    brief = None
    if selection.brief:
        if len(selection.policies) == 1 and len(territories) == 1:
            brief = "policy"
        elif not selection.policies and len(selection.territories) == 1:
            brief = "territory"
        else:
            raise SelectionError("a brief is about one policy in one territory, or one territory")
    report = Report(user=user, brief=brief, period_start=start, period_end=end,
                    policies=policies, territories=territories, withheld=hidden_p + hidden_t)
    report.chapters = _chapters(session, policies, territories, user)
    return report


def _chapters(session: Session, policies: list[Policy], territories: list[Territory],
              user: Any) -> list[Chapter]:
    if not policies or not territories:
        return []
    top = top_territory(session)
    levels = current_app.extensions["pilote"].config.level_keys
    deepest = levels[-1] if levels else None
    stats = _level_stats(session, [p.id for p in policies], {t.level for t in territories} | {deepest})
    national = policy_views(session, policies, top, with_indicators=False) if top else {}
    chapters = []
    for territory in territories:
        views = policy_views(session, policies, territory, with_indicators=True)
        median_level = deepest if territory.parent_id is None else territory.level
        for policy in policies:
            view = views[policy.id]
            view.indicators = [i for i in view.indicators if allowed("indicator.read", i.indicator, user)]
            overall, annual = stats.get((policy.id, median_level), ([], []))
            chapters.append(Chapter(
                policy=policy, territory=territory, view=view,
                nation=national.get(policy.id) if top and territory.id != top.id else None,
                median_level=median_level, median_overall=median(overall),
                median_annual=median(annual),
                range_overall=(min(overall), max(overall)) if overall else None,
            ))
    return chapters


def _level_stats(session: Session, policy_ids: list[int], levels: set[str | None]):
    """(policy id, level) → (overall rates, annual rates) over the current territories."""
    out: dict[tuple[int, str], tuple[list, list]] = {}
    rows = session.execute(
        select(PolicyFigure.policy_id, Territory.level, PolicyFigure.overall, PolicyFigure.annual)
        .join(Territory, Territory.id == PolicyFigure.territory_id)
        .where(PolicyFigure.policy_id.in_(policy_ids), Territory.level.in_([lv for lv in levels if lv]),
               Territory.valid_to.is_(None)))
    for pid, level, overall, annual in rows:
        overall_list, annual_list = out.setdefault((pid, level), ([], []))
        if overall is not None:
            overall_list.append(overall)
        if annual is not None:
            annual_list.append(annual)
    return out
