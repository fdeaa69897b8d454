"""What the public pages show, read from the published snapshots only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask import abort
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.api import Territory, Weather
from plugins.barometre.models import Publication, PublishedFigure
from plugins.barometre.snapshot import (
    current_publications,
    figures_of,
    public_levels,
    public_territory_criteria,
    visible_indicators,
)


@dataclass
class PublicPolicy:
    """A policy as published: frozen wording, still-public indicators, and its figures in one
    territory (policy row and indicator rows, by indicator code)."""

    publication: Publication
    indicators: list[dict[str, Any]]
    figure: PublishedFigure | None = None
    indicator_figures: dict[str, PublishedFigure] = field(default_factory=dict)

    @property
    def code(self) -> str:
        return self.content["code"]

    @property
    def content(self) -> dict[str, Any]:
        return self.publication.content["policy"]

    @property
    def published_on(self) -> dt.date:
        return self.publication.created_at.date()

    @property
    def weather(self) -> Weather:
        return weather_of(self.figure)

    @property
    def progress(self) -> Decimal | None:
        return self.figure.progress if self.figure else None

    @property
    def last_update(self) -> dt.date | None:
        return self.figure.actual_date if self.figure else None


def weather_of(figure: PublishedFigure | str | None) -> Weather:
    """The frozen weather of a policy figure, or of a weather key (not set when unknown)."""
    key = figure if isinstance(figure, str) or figure is None else figure.weather
    return Weather(key) if key in {w.value for w in Weather} else Weather.NOT_SET


def public_policies(session: Session, territory: Territory | None = None) -> list[PublicPolicy]:
    """Every policy on the barometer, with its figures in ``territory`` when given."""
    publications = current_publications(session)
    indicators = visible_indicators(session, publications)
    out = [PublicPolicy(p, indicators[p.id]) for p in publications]
    return public_policies_in(session, out, territory) if territory is not None else out


def public_policy(session: Session, code: str, territory: Territory | None = None) -> PublicPolicy:
    for item in public_policies(session):
        if item.code == code:
            if territory is not None:
                return public_policies_in(session, [item], territory)[0]
            return item
    abort(404)


def public_policies_in(session: Session, items: list[PublicPolicy],
                       territory: Territory) -> list[PublicPolicy]:
    """Fill ``items`` with their figures in ``territory``."""
    by_publication = {p.publication.id: p for p in items}
    for figure in figures_of(session, list(by_publication), territory_id=territory.id):
        item = by_publication[figure.publication_id]
        if not figure.indicator_code:
            item.figure = figure
        elif any(i["code"] == figure.indicator_code for i in item.indicators):
            item.indicator_figures[figure.indicator_code] = figure
    return items


# --------------------------------------------------------------------------- territories
def top_territory(session: Session) -> Territory:
    territory = session.scalar(select(Territory).where(
        *public_territory_criteria(), Territory.level == public_levels()[0])
        .order_by(Territory.code).limit(1))
    if territory is None:
        abort(404)
    return territory


def public_territory(session: Session, level: str, code: str) -> Territory:
    territory = session.scalar(select(Territory).where(
        *public_territory_criteria(), Territory.level == level, Territory.code == code))
    if territory is None:
        abort(404)
    return territory


def territory_from_key(session: Session, key: str | None) -> Territory:
    """``?territoire=<level>-<code>`` among the public territories (the top one by default)."""
    if not key:
        return top_territory(session)
    level, _, code = key.partition("-")
    return public_territory(session, level, code)


def ordered_territories(session: Session, levels: list[str] | None = None) -> list[Territory]:
    levels = levels or public_levels()
    rank = {key: n for n, key in enumerate(public_levels())}
    rows = session.scalars(select(Territory).where(*public_territory_criteria(),
                                                   Territory.level.in_(levels)))
    return sorted(rows, key=lambda t: (rank[t.level], t.code))


def search_territories(session: Session, query: str, limit: int = 50) -> list[Territory]:
    like = f"%{query}%"
    rank = {key: n for n, key in enumerate(public_levels())}
    rows = session.scalars(select(Territory).where(
        *public_territory_criteria(),
        or_(Territory.name.ilike(like), Territory.code.ilike(query))).limit(limit))
    return sorted(rows, key=lambda t: (rank[t.level], t.name))


def public_children(session: Session, territory: Territory) -> list[Territory]:
    return list(session.scalars(select(Territory).where(
        *public_territory_criteria(), Territory.parent_id == territory.id).order_by(Territory.code)))


def public_parent(territory: Territory) -> Territory | None:
    parent = territory.parent
    if parent is None or parent.level not in public_levels() or parent.valid_to is not None:
        return None
    return parent


# --------------------------------------------------------------------------- series
def number(text: str) -> float | None:
    return float(text) if text not in ("", None) else None


def series_points(rows: list[list[str]], key: str) -> dict[str, Any]:
    """Baseline, actual points and targets of the territory ``key`` in frozen series rows."""
    points, baseline, targets = [], None, []
    for _code, zone, day, _level, vi, va, vc, _ta in rows:
        if zone != key:
            continue
        if vi != "":
            baseline = {"date": day, "value": number(vi)}
        if va != "":
            points.append([day, number(va)])
        if vc != "":
            targets.append({"date": day, "value": number(vc), "final": True})
    return {"points": points, "baseline": baseline, "targets": targets}
