"""Activity feeds: what happened on a policy, in a territory or by a person, built from the data
that already records it — value revisions (with their channel), import batches, weather
reports, comments and replies (decisions are comments of type ``decision``), decided value
proposals — with the audit log for the channel of weather reports and comments.

Every feed is limited to what the viewer may see: the policies of ``scope("policy.read")`` and
the territories of ``territory.read`` (their grants' subtrees and the ancestors of those),
whatever the subject of the feed. A feed is merged from one query per source, each ordered by
date and cut at the end of the requested page, so a page costs a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.models import (
    AuditEntry,
    Channel,
    Comment,
    ImportBatch,
    Indicator,
    IndicatorValue,
    IndicatorValueRevision,
    Policy,
    ProposalStatus,
    Territory,
    User,
    ValueProposal,
    WeatherReport,
)

KINDS = ("value", "import", "weather", "comment", "reply", "decision", "proposal")
CHANNELS = ("form", "import", "api", "seed")
PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365}
DECISION = "decision"
PAGE_SIZE = 30


@dataclass
class ActivityItem:
    """One thing that happened."""

    at: dt.datetime
    kind: str
    actor_id: int | None
    policy_id: int | None = None
    territory_id: int | None = None
    channel: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    actor_name: str = ""
    policy: Policy | None = None
    territory: Territory | None = None
    key: str = ""


@dataclass
class FeedFilter:
    """What a feed asks for. ``policy_ids``/``territory_ids``: the feed's subject (None: any);
    they are always intersected with the viewer's scope. ``channel`` limits to values and
    imports of that channel; values of the initial load (``seed``) appear only when asked for."""

    policy_ids: set[int] | None = None
    territory_ids: set[int] | None = None
    author_id: int | None = None
    kinds: set[str] = field(default_factory=lambda: set(KINDS))
    since: dt.datetime | None = None
    channel: str = ""


@dataclass
class ViewerScope:
    """What the viewer may see: readable policy ids; visible territory ids (None: all)."""

    policy_ids: set[int]
    territory_ids: set[int] | None


@dataclass
class Feed:
    items: list[ActivityItem]
    page: int
    has_next: bool


def viewer_scope(session: Session, user=None) -> ViewerScope:
    """The policies ``user`` may read and the territories they may open (same rules as
    ``policy.read`` and ``territory.read``)."""
    from core.permissions import scope
    from core.views.pages import visible_territory_ids

    policy_ids = set(session.scalars(select(Policy.id).where(scope("policy.read", Policy, user=user))))
    return ViewerScope(policy_ids, visible_territory_ids())


def subtree_ids(session: Session, territory: Territory, whole: bool = False) -> set[int] | None:
    """``territory`` and every territory below it (with ``whole``: None when that is every
    territory, so that a feed of the top of a single grid needs no list of ids)."""
    children: dict[int, list[int]] = defaultdict(list)
    count = 0
    for tid, parent in session.execute(select(Territory.id, Territory.parent_id)):
        count += 1
        if parent is not None:
            children[parent].append(tid)
    out, todo = set(), [territory.id]
    while todo:
        node = todo.pop()
        if node not in out:
            out.add(node)
            todo.extend(children.get(node, ()))
    return None if whole and len(out) == count else out


def since_days(days: int | None, today: dt.date) -> dt.datetime | None:
    if not days:
        return None
    return dt.datetime.combine(today - dt.timedelta(days=days), dt.time(), tzinfo=dt.timezone.utc)


def _effective(scope: ViewerScope, wanted: FeedFilter) -> tuple[list[int], list[int] | None]:
    policies = scope.policy_ids if wanted.policy_ids is None else scope.policy_ids & wanted.policy_ids
    if scope.territory_ids is None:
        territories = wanted.territory_ids
    elif wanted.territory_ids is None:
        territories = scope.territory_ids
    else:
        territories = scope.territory_ids & wanted.territory_ids
    return sorted(policies), (None if territories is None else sorted(territories))


def _where(query, policy_col, territory_col, author_col, at_col, policies, territories, wanted):
    query = query.where(policy_col.in_(policies))
    if territories is not None:
        query = query.where(territory_col.in_(territories))
    if wanted.author_id is not None:
        query = query.where(author_col == wanted.author_id)
    if wanted.since is not None:
        query = query.where(at_col >= wanted.since)
    return query


def _sources(scope: ViewerScope, wanted: FeedFilter):
    """(kind group, select statement, column of the date) for each source the filter keeps."""
    policies, territories = _effective(scope, wanted)
    if not policies or territories == []:
        return []
    out = []
    rev = IndicatorValueRevision
    if "value" in wanted.kinds and wanted.channel != "none":
        query = (select(rev.id, rev.recorded_at, rev.author_id, rev.channel, rev.value, rev.revision,
                        IndicatorValue.territory_id, IndicatorValue.kind, IndicatorValue.date,
                        Indicator.policy_id, Indicator.code, Indicator.name, Indicator.unit)
                 .join(IndicatorValue, IndicatorValue.id == rev.value_id)
                 .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
                 .where(rev.import_id.is_(None), rev.channel != Channel.COMPUTED))
        if wanted.channel in CHANNELS:
            query = query.where(rev.channel == Channel(wanted.channel))
        else:  # the initial load is not activity: shown only when asked for
            query = query.where(rev.channel != Channel.SEED)
        query = _where(query, Indicator.policy_id, IndicatorValue.territory_id, rev.author_id,
                       rev.recorded_at, policies, territories, wanted)
        out.append(("value", query.order_by(rev.recorded_at.desc(), rev.id.desc()), rev.recorded_at))
    if "import" in wanted.kinds and wanted.channel in ("", "import"):
        inner = (select(rev.import_id.label("batch_id"), func.count(rev.id).label("n"),
                        func.min(Indicator.policy_id).label("policy_id"),
                        func.count(func.distinct(Indicator.policy_id)).label("policies"),
                        func.min(IndicatorValue.territory_id).label("territory_id"),
                        func.count(func.distinct(IndicatorValue.territory_id)).label("territories"))
                 .join(IndicatorValue, IndicatorValue.id == rev.value_id)
                 .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
                 .where(rev.import_id.is_not(None), Indicator.policy_id.in_(policies)))
        if territories is not None:
            inner = inner.where(IndicatorValue.territory_id.in_(territories))
        inner = inner.group_by(rev.import_id).subquery()
        query = (select(ImportBatch.id, ImportBatch.created_at, ImportBatch.author_id, ImportBatch.filename,
                        ImportBatch.format, ImportBatch.reverted_at, inner.c.n, inner.c.policy_id,
                        inner.c.policies, inner.c.territory_id, inner.c.territories)
                 .join(inner, inner.c.batch_id == ImportBatch.id))
        if wanted.author_id is not None:
            query = query.where(ImportBatch.author_id == wanted.author_id)
        if wanted.since is not None:
            query = query.where(ImportBatch.created_at >= wanted.since)
        out.append(("import", query.order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc()),
                    ImportBatch.created_at))
    if wanted.channel:
        return out  # the channel filter is about values and imports
    if "weather" in wanted.kinds:
        query = _where(select(WeatherReport.id, WeatherReport.created_at, WeatherReport.author_id,
                              WeatherReport.policy_id, WeatherReport.territory_id, WeatherReport.weather,
                              WeatherReport.summary),
                       WeatherReport.policy_id, WeatherReport.territory_id, WeatherReport.author_id,
                       WeatherReport.created_at, policies, territories, wanted)
        out.append(("weather", query.order_by(WeatherReport.created_at.desc(), WeatherReport.id.desc()),
                    WeatherReport.created_at))
    comment_kinds = wanted.kinds & {"comment", "reply", "decision"}
    if comment_kinds:
        conditions = []
        if "comment" in comment_kinds:
            conditions.append(and_(Comment.parent_id.is_(None), Comment.type != DECISION))
        if "reply" in comment_kinds:
            conditions.append(Comment.parent_id.is_not(None))
        if "decision" in comment_kinds:
            conditions.append(and_(Comment.parent_id.is_(None), Comment.type == DECISION))
        from sqlalchemy import or_

        query = _where(select(Comment.id, Comment.created_at, Comment.author_id, Comment.policy_id,
                              Comment.territory_id, Comment.type, Comment.body, Comment.parent_id)
                       .where(or_(*conditions)),
                       Comment.policy_id, Comment.territory_id, Comment.author_id, Comment.created_at,
                       policies, territories, wanted)
        out.append(("comment", query.order_by(Comment.created_at.desc(), Comment.id.desc()),
                    Comment.created_at))
    if "proposal" in wanted.kinds:
        query = _where(select(ValueProposal.id, ValueProposal.reviewed_at, ValueProposal.reviewer_id,
                              ValueProposal.status, ValueProposal.value, ValueProposal.date,
                              ValueProposal.proposer_id, ValueProposal.territory_id, ValueProposal.review_note,
                              Indicator.policy_id, Indicator.code, Indicator.name, Indicator.unit)
                       .join(Indicator, Indicator.id == ValueProposal.indicator_id)
                       .where(ValueProposal.status != ProposalStatus.PENDING,
                              ValueProposal.reviewed_at.is_not(None)),
                       Indicator.policy_id, ValueProposal.territory_id, ValueProposal.reviewer_id,
                       ValueProposal.reviewed_at, policies, territories, wanted)
        out.append(("proposal", query.order_by(ValueProposal.reviewed_at.desc(), ValueProposal.id.desc()),
                    ValueProposal.reviewed_at))
    return out


def _item(group: str, row) -> ActivityItem:
    if group == "value":
        return ActivityItem(row.recorded_at, "value", row.author_id, row.policy_id, row.territory_id,
                            row.channel.value, {"value": row.value, "kind": row.kind.value, "date": row.date,
                                                "code": row.code, "name": row.name, "unit": row.unit,
                                                "revision": row.revision}, key=f"value-{row.id}")
    if group == "import":
        return ActivityItem(row.created_at, "import", row.author_id,
                            row.policy_id if row.policies == 1 else None,
                            row.territory_id if row.territories == 1 else None, "import",
                            {"filename": row.filename, "format": row.format, "count": row.n,
                             "reverted": row.reverted_at is not None, "batch_id": row.id},
                            key=f"import-{row.id}")
    if group == "weather":
        return ActivityItem(row.created_at, "weather", row.author_id, row.policy_id, row.territory_id,
                            data={"weather": row.weather, "summary": row.summary, "id": row.id},
                            key=f"weather-{row.id}")
    if group == "comment":
        kind = "reply" if row.parent_id else ("decision" if row.type == DECISION else "comment")
        return ActivityItem(row.created_at, kind, row.author_id, row.policy_id, row.territory_id,
                            data={"type": row.type, "body": row.body, "id": row.id,
                                  "thread": row.parent_id or row.id}, key=f"comment-{row.id}")
    return ActivityItem(row.reviewed_at, "proposal", row.reviewer_id, row.policy_id, row.territory_id,
                        data={"status": row.status.value, "value": row.value, "date": row.date,
                              "code": row.code, "name": row.name, "unit": row.unit,
                              "proposer_id": row.proposer_id, "note": row.review_note},
                        key=f"proposal-{row.id}")


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def feed(session: Session, scope: ViewerScope, wanted: FeedFilter, page: int = 1,
         page_size: int = PAGE_SIZE) -> Feed:
    """One page of the feed, newest first."""
    page = max(1, page)
    needed = page * page_size + 1
    items: list[ActivityItem] = []
    for group, query, _ in _sources(scope, wanted):
        items.extend(_item(group, row) for row in session.execute(query.limit(needed)))
    items.sort(key=lambda i: (_as_utc(i.at), i.key), reverse=True)
    window = items[(page - 1) * page_size: page * page_size]
    _decorate(session, window)
    return Feed(window, page, len(items) > page * page_size)


def _decorate(session: Session, items: list[ActivityItem]) -> None:
    """Names, policies, territories, and the channel of weather reports and comments."""
    user_ids = {i.actor_id for i in items if i.actor_id} | {
        i.data["proposer_id"] for i in items if i.data.get("proposer_id")}
    users = dict(session.execute(select(User.id, User.name).where(User.id.in_(sorted(user_ids)))).all()) if user_ids else {}
    policy_ids = {i.policy_id for i in items if i.policy_id}
    policies = {p.id: p for p in session.scalars(select(Policy).where(Policy.id.in_(sorted(policy_ids))))} \
        if policy_ids else {}
    territory_ids = {i.territory_id for i in items if i.territory_id}
    territories = {t.id: t for t in session.scalars(select(Territory).where(Territory.id.in_(sorted(territory_ids))))} \
        if territory_ids else {}
    channels: dict[tuple[str, str], str] = {}
    wanted = [("weather_report", str(i.data["id"])) for i in items if i.kind == "weather"] + \
             [("comment", str(i.data["id"])) for i in items if i.kind in ("comment", "reply", "decision")]
    if wanted:
        for entity, entity_id, channel in session.execute(
                select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.channel)
                .where(AuditEntry.action == "insert", AuditEntry.entity.in_(["weather_report", "comment"]),
                       AuditEntry.entity_id.in_(sorted({e for _, e in wanted})))):
            channels[(entity, entity_id)] = channel
    for item in items:
        item.actor_name = users.get(item.actor_id, "") if item.actor_id else ""
        item.policy = policies.get(item.policy_id)
        item.territory = territories.get(item.territory_id)
        if item.data.get("proposer_id"):
            item.data["proposer"] = users.get(item.data["proposer_id"], "")
        if item.kind == "weather":
            item.channel = channels.get(("weather_report", str(item.data["id"])), "")
        elif item.kind in ("comment", "reply", "decision"):
            item.channel = channels.get(("comment", str(item.data["id"])), "")


def contributor_counts(session: Session, scope: ViewerScope, wanted: FeedFilter) -> list[dict]:
    """Per person over the filter (author ignored): values entered, imports, weather reports,
    comments (replies and decisions included), proposals decided; most active first."""
    wanted = FeedFilter(wanted.policy_ids, wanted.territory_ids, None, set(KINDS), wanted.since, "")
    counts: dict[int, Counter] = defaultdict(Counter)
    for group, query, _ in _sources(scope, wanted):
        sub = query.order_by(None).subquery()
        author = sub.c.reviewer_id if group == "proposal" else sub.c.author_id
        for uid, n in session.execute(select(author, func.count()).group_by(author)):
            if uid is not None:
                counts[uid][group] += n
    if not counts:
        return []
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(sorted(counts)))).all())
    rows = [{"user_id": uid, "name": names.get(uid, "–"), "values": c["value"], "imports": c["import"],
             "weather": c["weather"], "comments": c["comment"], "proposals": c["proposal"],
             "total": sum(c.values())} for uid, c in counts.items()]
    rows.sort(key=lambda r: (-r["total"], r["name"]))
    return rows


def authors(session: Session, scope: ViewerScope, wanted: FeedFilter) -> list[tuple[int, str]]:
    """The people who appear in the feed (for the author filter)."""
    return sorted(((r["user_id"], r["name"]) for r in contributor_counts(session, scope, wanted)),
                  key=lambda pair: pair[1])


def parse_kinds(values: Iterable[str]) -> set[str]:
    kinds = {v for v in values if v in KINDS}
    return kinds or set(KINDS)


__all__ = ["ActivityItem", "CHANNELS", "Feed", "FeedFilter", "KINDS", "PAGE_SIZE", "PERIODS", "ViewerScope",
           "authors", "contributor_counts", "feed", "parse_kinds", "since_days", "subtree_ids",
           "viewer_scope"]
