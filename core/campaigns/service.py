"""Campaigns: opening, what each contributor owes, live completeness, late cells, changes since
the previous review, and the snapshot frozen at closing.

Conventions:

* **Expected entries** are computed by :func:`core.engine.completeness.completeness` over the
  campaign window: periods whose first day is in ``period_start`` → ``period_end`` and that
  are due by ``period_end`` (by default the latest due date): what must be entered for the
  review, whether or not it is already due today.
* **Due date of a cell** is the campaign's due date for the cell territory's level; a level
  without one takes the nearest level above it that has one, else the latest due date.
* **Late**: a cell still missing an expected period once its territory's local date is after
  its due date (the due date is reached at midnight in the territory's time zone,
  :mod:`core.timezones`; entries made on the due day are on time).
* **Changes since the last review**: values (revisions), weather ratings and comments recorded
  on the campaign's policies since the closing of the latest closed campaign sharing at least
  one of them, or since this campaign's opening when there is none.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import utcnow
from core.engine.completeness import CompletenessReport, Counts, completeness, default_window
from core.engine.recompute import reference_date
from core.models import (Campaign, CampaignKind, CampaignSnapshot, CampaignStatus, Comment, Indicator,
                         IndicatorValue, IndicatorValueRevision, Policy, PolicyFigure, Territory, User,
                         WeatherReport, campaign_policy)
from core.timezones import local_today


def now_utc() -> dt.datetime:
    """The current instant; under ``PILOTE_TODAY`` (tests, demo) noon UTC of that day."""
    from flask import current_app, has_app_context

    if has_app_context() and current_app.config.get("PILOTE_TODAY"):
        day = dt.date.fromisoformat(current_app.config["PILOTE_TODAY"])
        return dt.datetime.combine(day, dt.time(12), tzinfo=dt.timezone.utc)
    return utcnow()


def next_code(session: Session, opened: dt.date) -> str:
    """``YYYY-NNN``: the year of opening and a number within that year."""
    prefix = f"{opened.year}-"
    codes = session.scalars(select(Campaign.code).where(Campaign.code.like(f"{prefix}%"))).all()
    numbers = [int(m.group(1)) for c in codes if (m := re.fullmatch(rf"{prefix}(\d+)", c))]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def open_campaign(session: Session, *, title: str, kind: CampaignKind | str, policies: list[Policy],
                  due_dates: dict[str, dt.date], opened_by: User | None, description: str = "",
                  period_start: dt.date | None = None, period_end: dt.date | None = None,
                  remind_days_before: int = 3, escalate_days_after: int = 3,
                  opened_at: dt.datetime | None = None) -> Campaign:
    """Create an open campaign (not committed)."""
    if not policies:
        raise ValueError("a campaign needs at least one policy")
    if not due_dates:
        raise ValueError("a campaign needs at least one due date")
    opened_at = opened_at or now_utc()
    last_due = max(due_dates.values())
    campaign = Campaign(
        code=next_code(session, opened_at.date()), title=title.strip(), kind=CampaignKind(kind),
        description=description.strip(), due_dates={k: v.isoformat() for k, v in due_dates.items()},
        period_start=period_start or default_window(opened_at.date())[0],
        period_end=period_end or last_due, remind_days_before=remind_days_before,
        escalate_days_after=escalate_days_after, status=CampaignStatus.OPEN,
        opened_by_id=opened_by.id if opened_by is not None else None, opened_at=opened_at)
    campaign.policies = list(policies)
    session.add(campaign)
    session.flush()
    return campaign


def report_of(session: Session, campaign: Campaign, *, territory_ids=None,
              policy_ids=None) -> CompletenessReport:
    """The completeness of ``campaign`` (its policies, its window), optionally restricted."""
    pids = {p.id for p in campaign.policies}
    if policy_ids is not None:
        pids &= set(policy_ids)
    return completeness(session, policy_ids=sorted(pids), territory_ids=territory_ids,
                        start=campaign.period_start, end=campaign.period_end,
                        today=max(campaign.period_end, campaign.period_start))


# --------------------------------------------------------------------------- due dates
@dataclass
class Places:
    """Territories by id with their ancestors loaded (to find levels, due dates, zones)."""

    session: Session
    cache: dict[int, Territory] = field(default_factory=dict)

    def get(self, tid: int) -> Territory:
        if tid not in self.cache:
            self.cache[tid] = self.session.get(Territory, tid)
        return self.cache[tid]

    def load(self, ids) -> None:
        missing = [t for t in set(ids) if t not in self.cache]
        if missing:
            for territory in self.session.scalars(select(Territory).where(Territory.id.in_(missing))):
                self.cache[territory.id] = territory


def due_date_of(campaign: Campaign, territory: Territory) -> dt.date:
    dates = dict(campaign.due_date_items())
    node = territory
    while node is not None:
        if node.level in dates:
            return dates[node.level]
        node = node.parent
    return max(dates.values())


def is_late(campaign: Campaign, territory: Territory, now: dt.datetime) -> bool:
    return local_today(territory, now) > due_date_of(campaign, territory)


@dataclass
class LateCell:
    cell: object
    territory: Territory
    due: dt.date


def late_cells(session: Session, campaign: Campaign, report: CompletenessReport,
               now: dt.datetime, places: Places | None = None) -> list[LateCell]:
    places = places or Places(session)
    places.load(c.territory_id for c in report.cells if c.missing)
    out = []
    for cell in report.cells:
        if not cell.missing:
            continue
        territory = places.get(cell.territory_id)
        if is_late(campaign, territory, now):
            out.append(LateCell(cell, territory, due_date_of(campaign, territory)))
    return out


# --------------------------------------------------------------------------- live figures
@dataclass
class PairFigures:
    expected: int = 0
    received: int = 0
    late: int = 0

    @property
    def rate(self):
        return Counts(self.expected, self.received).rate


def pair_figures(session: Session, campaign: Campaign, report: CompletenessReport,
                 now: dt.datetime) -> dict[tuple[int, int], PairFigures]:
    """(territory, policy) → counts, for every territory of the cells' subtrees (roll-ups)."""
    places = Places(session)
    places.load(c.territory_id for c in report.cells)
    out: dict[tuple[int, int], PairFigures] = defaultdict(PairFigures)
    for cell in report.cells:
        territory = places.get(cell.territory_id)
        late = len(cell.missing) if cell.missing and is_late(campaign, territory, now) else 0
        node = territory
        while node is not None:
            figures = out[(node.id, cell.policy_id)]
            figures.expected += cell.expected
            figures.received += cell.received
            figures.late += late
            node = node.parent
    return out


def previous_review(session: Session, campaign: Campaign) -> Campaign | None:
    """The latest campaign closed before this one (or before now) sharing a policy with it."""
    pids = [p.id for p in campaign.policies]
    if not pids:
        return None
    query = (select(Campaign).join(campaign_policy, campaign_policy.c.campaign_id == Campaign.id)
             .where(campaign_policy.c.policy_id.in_(pids), Campaign.id != campaign.id,
                    Campaign.status == CampaignStatus.CLOSED))
    if campaign.closed_at is not None:
        query = query.where(Campaign.closed_at < campaign.closed_at)
    return session.scalars(query.order_by(Campaign.closed_at.desc()).limit(1)).first()


@dataclass
class Changes:
    since: dt.datetime
    previous: Campaign | None
    values: list = field(default_factory=list)    # (revision, value, indicator)
    weather: list = field(default_factory=list)   # WeatherReport
    comments: list = field(default_factory=list)  # Comment
    counts: dict = field(default_factory=dict)


def changes_since_last_review(session: Session, campaign: Campaign, *, territory_ids=None,
                              policy_ids=None, limit: int = 50) -> Changes:
    previous = previous_review(session, campaign)
    since = previous.closed_at if previous is not None else campaign.opened_at
    until = campaign.closed_at  # a closed campaign shows what changed during its review
    pids = {p.id for p in campaign.policies}
    if policy_ids is not None:
        pids &= set(policy_ids)
    pids = sorted(pids)

    def bounded(query, column):
        query = query.where(column > since)
        return query.where(column <= until) if until is not None else query

    def in_scope(query, column):
        return query.where(column.in_(territory_ids)) if territory_ids is not None else query

    values_q = in_scope(bounded(
        select(IndicatorValueRevision, IndicatorValue, Indicator)
        .join(IndicatorValue, IndicatorValue.id == IndicatorValueRevision.value_id)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .where(Indicator.policy_id.in_(pids)), IndicatorValueRevision.recorded_at), IndicatorValue.territory_id)
    weather_q = in_scope(bounded(select(WeatherReport).where(WeatherReport.policy_id.in_(pids)),
                                 WeatherReport.created_at), WeatherReport.territory_id)
    comments_q = in_scope(bounded(select(Comment).where(Comment.policy_id.in_(pids)), Comment.created_at),
                          Comment.territory_id)
    changes = Changes(since=since, previous=previous)
    changes.counts = {
        "values": session.scalar(select(func.count()).select_from(values_q.subquery())),
        "weather": session.scalar(select(func.count()).select_from(weather_q.subquery())),
        "comments": session.scalar(select(func.count()).select_from(comments_q.subquery())),
    }
    changes.values = session.execute(values_q.order_by(IndicatorValueRevision.recorded_at.desc()).limit(limit)).all()
    changes.weather = session.scalars(weather_q.order_by(WeatherReport.created_at.desc()).limit(limit)).all()
    changes.comments = session.scalars(comments_q.order_by(Comment.created_at.desc()).limit(limit)).all()
    return changes


def subtree_ids(session: Session, roots) -> set[int] | None:
    """Ids of the territories in the subtrees of ``roots`` (None: everything)."""
    if roots is None:
        return None
    parents = dict(session.execute(select(Territory.id, Territory.parent_id)).all())
    out = set()
    for tid in parents:
        node = tid
        while node is not None:
            if node in roots:
                out.add(tid)
                break
            node = parents.get(node)
    return out


# --------------------------------------------------------------------------- closing
def close_campaign(session: Session, campaign: Campaign, closed_by: User | None,
                   now: dt.datetime | None = None) -> int:
    """Freeze the snapshot (every territory × policy of the campaign) and close; returns the
    number of snapshot rows. Not committed."""
    if not campaign.is_open:
        raise ValueError(f"campaign {campaign.code} is already closed")
    now = now or now_utc()
    report = report_of(session, campaign)
    figures = pair_figures(session, campaign, report, now)
    pids = [p.id for p in campaign.policies]
    progress = {(f.territory_id, f.policy_id): f.overall for f in session.scalars(
        select(PolicyFigure).where(PolicyFigure.policy_id.in_(pids)))}
    weather: dict[tuple[int, int], str] = {}
    for report_row in session.scalars(select(WeatherReport).where(WeatherReport.policy_id.in_(pids))
                                      .order_by(WeatherReport.created_at, WeatherReport.id)):
        weather[(report_row.territory_id, report_row.policy_id)] = report_row.weather.value
    for (tid, pid), counts in sorted(figures.items()):
        session.add(CampaignSnapshot(campaign=campaign, territory_id=tid, policy_id=pid,
                                     expected=counts.expected, received=counts.received, late=counts.late,
                                     progress=progress.get((tid, pid)), weather=weather.get((tid, pid))))
    campaign.status = CampaignStatus.CLOSED
    campaign.closed_at = now
    campaign.closed_by_id = closed_by.id if closed_by is not None else None
    session.flush()
    return len(figures)


def campaigns_of_policy(session: Session, policy_id: int) -> list[Campaign]:
    """Closed campaigns of a policy, latest first (for reports citing "campagne X")."""
    return session.scalars(
        select(Campaign).join(campaign_policy, campaign_policy.c.campaign_id == Campaign.id)
        .where(campaign_policy.c.policy_id == policy_id, Campaign.status == CampaignStatus.CLOSED)
        .order_by(Campaign.closed_at.desc())).all()


def today() -> dt.date:
    return reference_date(None)
