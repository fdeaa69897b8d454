"""Drafts and publications: what a policy would show publicly now, frozen on publication.

A **draft** is computed from the live figures (public indicators only, territories of the
public levels only). Publishing writes it as a :class:`Publication` with its
:class:`PublishedFigure` rows and :class:`PublishedSeries`; public pages and downloads read
only those, so values entered later stay private until the next publication.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from core.api import (
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    Policy,
    PolicyFigure,
    PolicyStatus,
    Territory,
    WeatherReport,
    barometre_indicator_rows,
    instance_config,
    plugin_settings,
)
from plugins.barometre.models import Publication, PublishedFigure, PublishedSeries

PUBLISHED, WITHDRAWN = "published", "withdrawn"
FIGURE_FIELDS = ("baseline", "baseline_date", "actual", "actual_date", "target", "target_date",
                 "progress", "weather")


class PublicationConflict(Exception):
    """Someone published or withdrew the policy since the page was loaded."""


# --------------------------------------------------------------------------- scope
def public_grid() -> dict[str, Any]:
    return instance_config().grids[0]


def public_levels() -> list[str]:
    """The levels shown publicly: the setting, else every level of the instance's first grid."""
    grid_levels = [level["key"] for level in public_grid()["levels"]]
    chosen = plugin_settings("barometre").get("levels") or grid_levels
    return [key for key in grid_levels if key in chosen]


def public_territory_criteria() -> list:
    return [Territory.grid == public_grid()["key"], Territory.level.in_(public_levels()),
            Territory.valid_to.is_(None)]


def public_territories(session: Session) -> dict[int, Territory]:
    return {t.id: t for t in session.scalars(select(Territory).where(*public_territory_criteria()))}


def publishable(policy: Policy) -> bool:
    """Only public, published policies can reach the barometer."""
    return policy.is_public and policy.status is PolicyStatus.PUBLISHED


# --------------------------------------------------------------------------- drafts
@dataclass
class Draft:
    policy: Policy
    content: dict[str, Any]
    figures: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, list[list[str]]] = field(default_factory=dict)


def policy_content(policy: Policy, indicators: list[Indicator]) -> dict[str, Any]:
    group, organisation = policy.group, policy.organisation
    return {
        "policy": {
            "code": policy.code, "name": policy.name, "short_name": policy.short_name or "",
            "description": policy.description or "",
            "group": {"code": group.code, "name": group.name} if group else None,
            "organisation": ({"acronym": organisation.acronym, "name": organisation.name}
                             if organisation else None),
        },
        "indicators": [
            {"code": i.code, "name": i.name, "description": i.description or "", "unit": i.unit or "",
             "decimals": i.decimals, "direction": i.direction.value, "source": i.source or "",
             "source_url": i.source_url or ""}
            for i in indicators
        ],
    }


def latest_weather(session: Session, policy_id: int, territory_ids) -> dict[int, str]:
    latest = (select(func.max(WeatherReport.id)).where(WeatherReport.policy_id == policy_id)
              .group_by(WeatherReport.territory_id))
    rows = session.execute(select(WeatherReport.territory_id, WeatherReport.weather)
                           .where(WeatherReport.id.in_(latest)))
    return {tid: weather.value for tid, weather in rows if tid in territory_ids}


def build_draft(session: Session, policy: Policy) -> Draft:
    """What publishing ``policy`` now would freeze."""
    indicators = [i for i in policy.indicators if i.is_public]
    territories = public_territories(session)
    draft = Draft(policy, policy_content(policy, indicators))

    def base(territory_id: int, code: str = "") -> dict[str, Any]:
        t = territories[territory_id]
        return {"indicator_code": code, "territory_id": t.id, "level": t.level, "code": t.code,
                **{name: None for name in FIGURE_FIELDS}}

    weather = latest_weather(session, policy.id, territories)
    policy_rows = {}
    for figure in session.scalars(select(PolicyFigure).where(PolicyFigure.policy_id == policy.id)):
        if figure.territory_id in territories:
            row = policy_rows[figure.territory_id] = base(figure.territory_id)
            row.update(progress=figure.overall, actual_date=figure.last_value_date)
    for tid, key in weather.items():
        policy_rows.setdefault(tid, base(tid))["weather"] = key
    draft.figures.extend(policy_rows.values())

    by_id = {i.id: i for i in indicators}
    if by_id:
        for figure in session.scalars(select(IndicatorFigure)
                                      .where(IndicatorFigure.indicator_id.in_(list(by_id)))):
            if figure.territory_id not in territories:
                continue
            row = base(figure.territory_id, by_id[figure.indicator_id].code)
            row.update(baseline=figure.baseline, baseline_date=figure.baseline_date,
                       actual=figure.actual, actual_date=figure.actual_date,
                       target=figure.final_target, target_date=figure.final_target_date,
                       progress=figure.overall)
            draft.figures.append(row)
    zones = {tid: (t.level, t.key) for tid, t in territories.items()}
    for indicator in indicators:
        draft.series[indicator.code] = barometre_indicator_rows(session, indicator, zones)
    return draft


# --------------------------------------------------------------------------- publications
def latest_publication(session: Session, policy_id: int) -> Publication | None:
    return session.scalar(select(Publication).where(Publication.policy_id == policy_id)
                          .order_by(Publication.number.desc()).limit(1))


def _next_number(session: Session, policy: Policy, expected: int | None) -> int:
    last = latest_publication(session, policy.id)
    current = last.number if last else 0
    if expected is not None and expected != current:
        raise PublicationConflict(current)
    return current + 1


def publish(session: Session, policy: Policy, *, author_id: int | None, note: str = "",
            expected: int | None = None, draft: Draft | None = None) -> Publication:
    """Freeze the draft of ``policy`` as its new publication (audited; not committed).

    ``expected`` is the publication number the referent saw: another one in between raises
    :class:`PublicationConflict` instead of publishing over it.
    """
    if not publishable(policy):
        raise ValueError(f"{policy.code} is not public and published")
    number = _next_number(session, policy, expected)
    draft = draft or build_draft(session, policy)
    publication = Publication(
        policy_id=policy.id, number=number, status=PUBLISHED, author_id=author_id, note=note,
        content=draft.content,
        counts={"figures": len(draft.figures),
                "series_rows": sum(len(rows) for rows in draft.series.values())},
    )
    session.add(publication)
    session.flush()  # the audit entry of the publication, and its id
    if draft.figures:
        session.execute(insert(PublishedFigure),
                        [{"publication_id": publication.id, **row} for row in draft.figures])
    if draft.series:
        session.execute(insert(PublishedSeries),
                        [{"publication_id": publication.id, "indicator_code": code, "rows": rows}
                         for code, rows in draft.series.items()])
    return publication


def withdraw(session: Session, policy: Policy, *, author_id: int | None, note: str = "",
             expected: int | None = None) -> Publication:
    """Take ``policy`` off the barometer (a new, empty publication row; audited)."""
    number = _next_number(session, policy, expected)
    publication = Publication(policy_id=policy.id, number=number, status=WITHDRAWN,
                              author_id=author_id, note=note, content={}, counts={})
    session.add(publication)
    session.flush()
    return publication


def current_publications(session: Session) -> list[Publication]:
    """The publication shown for each policy on the barometer, by policy code.

    The policy must still be public and published: making it private hides it at once.
    """
    latest = (select(Publication.policy_id, func.max(Publication.number).label("number"))
              .group_by(Publication.policy_id).subquery())
    query = (select(Publication)
             .join(latest, and_(Publication.policy_id == latest.c.policy_id,
                                Publication.number == latest.c.number))
             .join(Policy, Policy.id == Publication.policy_id)
             .where(Publication.status == PUBLISHED, Policy.is_public.is_(True),
                    Policy.status == PolicyStatus.PUBLISHED)
             .order_by(Policy.code))
    return list(session.scalars(query))


def visible_indicators(session: Session, publications: list[Publication]) -> dict[int, list[dict]]:
    """The frozen indicators of each publication that are still public (by publication id)."""
    codes = {i["code"] for p in publications for i in p.content.get("indicators", [])}
    public = set(session.scalars(select(Indicator.code).where(
        Indicator.code.in_(sorted(codes)), Indicator.is_public.is_(True)))) if codes else set()
    return {p.id: [i for i in p.content.get("indicators", []) if i["code"] in public]
            for p in publications}


def figures_of(session: Session, publication_ids: list[int], *, territory_id: int | None = None,
               level: str | None = None) -> list[PublishedFigure]:
    if not publication_ids:
        return []
    query = select(PublishedFigure).where(PublishedFigure.publication_id.in_(publication_ids))
    if territory_id is not None:
        query = query.where(PublishedFigure.territory_id == territory_id)
    if level is not None:
        query = query.where(PublishedFigure.level == level)
    return list(session.scalars(query))


def series_of(session: Session, publication_id: int) -> dict[str, list[list[str]]]:
    return {s.indicator_code: s.rows for s in session.scalars(
        select(PublishedSeries).where(PublishedSeries.publication_id == publication_id))}


def last_entry_at(session: Session, policy: Policy) -> dt.datetime | None:
    """When a value of a public indicator or a weather of the policy was last written."""
    ids = [i.id for i in policy.indicators if i.is_public]
    value = session.scalar(select(func.max(IndicatorValue.recorded_at))
                           .where(IndicatorValue.indicator_id.in_(ids))) if ids else None
    weather = session.scalar(select(func.max(WeatherReport.created_at))
                             .where(WeatherReport.policy_id == policy.id))
    dates = [d for d in (value, weather) if d is not None]
    return max(dates) if dates else None


# --------------------------------------------------------------------------- differences
@dataclass
class Change:
    indicator_code: str
    level: str
    code: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def fields(self) -> list[str]:
        if self.before is None or self.after is None:
            return []
        return [f for f in FIGURE_FIELDS if not _same(self.before[f], self.after[f])]


@dataclass
class Diff:
    changes: list[Change]
    indicators_added: list[str]
    indicators_removed: list[str]
    wording_changed: bool

    @property
    def empty(self) -> bool:
        return not (self.changes or self.indicators_added or self.indicators_removed
                    or self.wording_changed)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(a) == Decimal(b) or a is b is None
    return a == b


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["indicator_code"], row["level"], row["code"]


def diff(session: Session, draft: Draft, publication: Publication | None) -> Diff:
    """What changes between the last publication (None: nothing published) and the draft."""
    before_rows = {}
    before_content: dict[str, Any] = {}
    if publication is not None and publication.status == PUBLISHED:
        before_content = publication.content
        for f in figures_of(session, [publication.id]):
            before_rows[(f.indicator_code, f.level, f.code)] = {n: getattr(f, n) for n in FIGURE_FIELDS}
    after_rows = {_key(r): {n: r[n] for n in FIGURE_FIELDS} for r in draft.figures}
    rank = {key: n for n, key in enumerate(public_levels())}
    changes = []
    for key in sorted(set(before_rows) | set(after_rows),
                      key=lambda k: (k[0], rank.get(k[1], 99), k[2])):
        before, after = before_rows.get(key), after_rows.get(key)
        change = Change(*key, before, after)
        if before is None or after is None or change.fields:
            changes.append(change)
    old = [i["code"] for i in before_content.get("indicators", [])]
    new = [i["code"] for i in draft.content["indicators"]]
    return Diff(
        changes=changes,
        indicators_added=[c for c in new if c not in old],
        indicators_removed=[c for c in old if c not in new],
        wording_changed=bool(before_content) and before_content != draft.content,
    )
