"""The weekly digest: what changed last week in each user's policies and territories.

For each active user with grants, the digest lists, grouped by policy, what others did during
the week in the territories and policies that user may see: values entered, imports, weather
changes, comments and strategic decisions. The user's own actions are left out, an empty digest
is not sent, and ``send_mail(dedupe_key="digest:<user id>:<ISO week>")`` sends it once a week.

Timing: the job ``mail.weekly_digest`` is periodic (every hour, see ``pilote scheduler``); it
sends the digest of the latest *digest week*, from Monday 07:00 to the next Monday 07:00 in the
instance's time zone (``[instance] timezone``, Europe/Paris by default). So digests leave on
Monday morning soon after 07:00, and a scheduler that was stopped catches up at its next tick.
Once a week is done a marker row (``scheduled_job_run``, name ``mail.weekly_digest:<week>``)
makes the other hourly runs of that week free.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, render_template, url_for
from flask_babel import force_locale, gettext as _
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from core.db import session as db_session, utcnow
from core.models import (Comment, ImportBatch, Indicator, IndicatorValue, IndicatorValueRevision,
                         MailMessage, Policy, ScheduledJobRun, Territory, User, WeatherReport)
from core.plugins import hookimpl
from core.specs import JobSpec

log = logging.getLogger(__name__)
JOB = "mail.weekly_digest"
SEND_AT = dt.time(7, 0)  # Monday, local time of the instance
MAX_LINES = 10  # per kind and policy; the rest is counted
KINDS_ORDER = ("decision", "weather", "comment", "value", "import")


@dataclass
class Event:
    kind: str  # value, import, weather, comment, decision
    policy_id: int
    territory_id: int | None  # None: an import touching several territories (see ``territories``)
    author_id: int | None
    at: dt.datetime
    text: str
    territories: frozenset[int] = frozenset()
    per_territory: dict[int, int] = field(default_factory=dict)  # imports: values per territory


@dataclass
class Section:
    policy: Policy
    url: str
    lines: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def digest_window(now: dt.datetime, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime, str]:
    """``(start, end, ISO week)`` of the latest digest week ending at or before ``now``."""
    local = now.astimezone(tz)
    monday = local.date() - dt.timedelta(days=local.weekday())
    end = dt.datetime.combine(monday, SEND_AT, tzinfo=tz)
    if local < end:
        end -= dt.timedelta(days=7)
    end = end.astimezone(dt.timezone.utc)
    year, week, _day = end.astimezone(tz).isocalendar()
    return end - dt.timedelta(days=7), end, f"{year}-W{week:02d}"


def instance_tz() -> ZoneInfo:
    return ZoneInfo(current_app.extensions["pilote"].config.data["instance"].get("timezone") or "Europe/Paris")


# ----------------------------------------------------------------------------- collecting
def _weather_label(value) -> str:
    return {
        "secured": _("Objectifs sécurisés"), "achievable": _("Objectifs atteignables"),
        "support_needed": _("Appuis nécessaires"), "compromised": _("Objectifs compromis"),
        "not_set": _("Météo non renseignée"),
    }.get(getattr(value, "value", value), str(value))


def _short(text: str, size: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[: size - 1] + "…"


def collect(start: dt.datetime, end: dt.datetime) -> list[Event]:
    """Every change of the window, in the language of the current locale."""
    from core.views.dialogue import type_label

    session = db_session()
    events: list[Event] = []
    names = dict(session.execute(select(Territory.id, Territory.name)).all())
    # values (a revision is one write: entry, correction, API…; imports are summarised apart)
    imports: dict[tuple[int, int], dict[str, Any]] = {}
    rows = session.execute(
        select(IndicatorValueRevision, IndicatorValue, Indicator)
        .join(IndicatorValue, IndicatorValue.id == IndicatorValueRevision.value_id)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .where(IndicatorValueRevision.recorded_at >= start, IndicatorValueRevision.recorded_at < end)
        .order_by(IndicatorValueRevision.recorded_at)).all()
    for revision, value, indicator in rows:
        if revision.import_id is not None:
            item = imports.setdefault((revision.import_id, indicator.policy_id),
                                      {"territories": defaultdict(int), "at": revision.recorded_at})
            item["territories"][value.territory_id] += 1
            continue
        shown = "—" if revision.value is None else format(revision.value.normalize(), "f")
        events.append(Event("value", indicator.policy_id, value.territory_id, revision.author_id,
                            revision.recorded_at, _(
                                "%(indicator)s — %(territory)s : %(value)s au %(date)s",
                                indicator=indicator.name, territory=names.get(value.territory_id, "?"),
                                value=shown, date=value.date.strftime("%d/%m/%Y"))))
    batches = {b.id: b for b in session.scalars(select(ImportBatch).where(
        ImportBatch.id.in_(sorted({key[0] for key in imports}))))} if imports else {}
    for (batch_id, policy_id), item in imports.items():
        batch = batches.get(batch_id)
        events.append(Event("import", policy_id, None, batch.author_id if batch else None, item["at"],
                            batch.filename if batch else "?", territories=frozenset(item["territories"]),
                            per_territory=dict(item["territories"])))
    for report in session.scalars(select(WeatherReport).where(
            WeatherReport.created_at >= start, WeatherReport.created_at < end).order_by(WeatherReport.created_at)):
        text = _("%(territory)s : %(weather)s", territory=names.get(report.territory_id, "?"),
                 weather=_weather_label(report.weather))
        if report.summary:
            text += " — " + _short(report.summary)
        events.append(Event("weather", report.policy_id, report.territory_id, report.author_id,
                            report.created_at, text))
    for comment in session.scalars(select(Comment).where(
            Comment.created_at >= start, Comment.created_at < end).order_by(Comment.created_at)):
        kind = "decision" if comment.type == "decision" else "comment"
        prefix = "" if kind == "decision" else type_label(comment.type) + " — "
        events.append(Event(kind, comment.policy_id, comment.territory_id, comment.author_id,
                            comment.created_at, _("%(territory)s : %(text)s",
                                                  territory=names.get(comment.territory_id, "?"),
                                                  text=prefix + _short(comment.body))))
    return events


# ----------------------------------------------------------------------------- scope
class Visibility:
    """Which (policy, territory) pairs ``user`` may see: per grant, a policy the grant covers in
    the grant's territory subtree, and every policy readable through ``core.permissions``."""

    def __init__(self, user: User, parents: dict[int, int | None]):
        from core.defaults import _grant_covers
        from core.permissions import effective_grants, scope

        self.user, self.parents, self._covers = user, parents, _grant_covers
        self.grants = effective_grants(user)
        session = db_session()
        self.policies = {p.id: p for p in session.scalars(select(Policy).where(scope("policy.read", Policy, user=user)))}

    def _below(self, territory_id: int, root_id: int | None) -> bool:
        if root_id is None:
            return True
        node: int | None = territory_id
        seen = 0
        while node is not None and seen < 64:
            if node == root_id:
                return True
            node, seen = self.parents.get(node), seen + 1
        return False

    def sees(self, policy_id: int, territory_id: int) -> bool:
        policy = self.policies.get(policy_id)
        if policy is None:
            return False
        return any(self._covers(g, policy) and self._below(territory_id, g.territory_id) for g in self.grants)


def build_digest(user: User, events: list[Event], parents: dict[int, int | None]) -> list[Section]:
    """The user's sections (policies in code order), without the user's own actions."""
    from core.permissions import can

    visibility = Visibility(user, parents)
    sections: dict[int, Section] = {}
    for event in events:
        if event.author_id is not None and event.author_id == user.id:
            continue
        if event.kind == "import":
            seen = [t for t in event.territories if visibility.sees(event.policy_id, t)]
            if not seen:
                continue
            text = _("Import « %(file)s » : %(count)s valeur(s) dans %(territories)s territoire(s)",
                     file=event.text, count=sum(event.per_territory[t] for t in seen), territories=len(seen))
        else:
            if event.territory_id is None or not visibility.sees(event.policy_id, event.territory_id):
                continue
            text = event.text
        policy = visibility.policies[event.policy_id]
        section = sections.get(policy.id)
        if section is None:
            if not can("policy.read", policy, user=user):
                continue
            section = sections[policy.id] = Section(policy, url_for("core.policy", code=policy.code, _external=True))
        section.counts[event.kind] += 1
        if len(section.lines[event.kind]) < MAX_LINES:
            section.lines[event.kind].append(text)
    return [sections[k] for k in sorted(sections, key=lambda pid: sections[pid].policy.code)]


# ----------------------------------------------------------------------------- sending
def _recipients(session) -> list[User]:
    users = session.scalars(select(User).where(User.is_active.is_(True), User.is_service_account.is_(False))
                            .order_by(User.id)).all()
    return [u for u in users if u.email]


def _mark_done(session, week: str) -> bool:
    table = ScheduledJobRun.__table__
    try:
        session.execute(insert(table).values(name=f"{JOB}:{week}", last_run_at=utcnow(), runs=1))
        session.commit()
        return True
    except IntegrityError:
        session.rollback()
        return False


def send_weekly_digests(now: dt.datetime | None = None, *, force: bool = False) -> dict[str, Any]:
    """Send the digest of the latest digest week to everybody who wants it (once per week)."""
    from core.mail import send_mail
    from core.permissions import effective_grants
    from core.preferences import site_root, unsubscribe_url, wants

    now = now or utcnow()
    tz = instance_tz()
    start, end, week = digest_window(now, tz)
    session = db_session()
    report = {"week": week, "sent": 0, "empty": 0, "unwanted": 0, "already": 0, "done_before": False}
    marker = f"{JOB}:{week}"
    if not force and session.scalar(select(ScheduledJobRun.name).where(ScheduledJobRun.name == marker)):
        report["done_before"] = True
        return report
    app = current_app._get_current_object()
    config = app.extensions["pilote"].config
    sent_keys = set(session.scalars(select(MailMessage.dedupe_key).where(
        MailMessage.dedupe_key.like(f"digest:%:{week}"))))
    parents = dict(session.execute(select(Territory.id, Territory.parent_id)).all())
    root = site_root()
    by_locale: dict[str, list[Event]] = {}
    for user in _recipients(session):
        key = f"digest:{user.id}:{week}"
        if key in sent_keys:
            report["already"] += 1
            continue
        if not effective_grants(user):
            continue
        if not wants(user, "digest"):
            report["unwanted"] += 1
            continue
        locale = user.locale or config.default_locale
        with app.test_request_context(base_url=root), force_locale(locale):
            if locale not in by_locale:
                by_locale[locale] = collect(start, end)
            sections = build_digest(user, by_locale[locale], parents)
            if not sections:
                report["empty"] += 1
                continue
            context = {
                "user": user, "sections": sections, "instance_name": config.name, "week": week,
                "start": start.astimezone(tz), "end": end.astimezone(tz),
                "kinds": [(k, _kind_label(k)) for k in KINDS_ORDER],
                "unsubscribe_url": unsubscribe_url(user.id, "digest", root),
                "preferences_url": url_for("preferences.edit", _external=True),
            }
            subject = _("%(instance)s — ce qui a changé du %(start)s au %(end)s", instance=config.name,
                        start=context["start"].strftime("%d/%m"), end=context["end"].strftime("%d/%m/%Y"))
            text = render_template("mail/digest.txt", **context)
            html = render_template("mail/digest.html", **context)
        try:
            if send_mail([user.email], subject, text, html, dedupe_key=key,
                         unsubscribe=context["unsubscribe_url"]):
                report["sent"] += 1
            else:
                report["already"] += 1
        except Exception:  # noqa: BLE001 - one failing address never stops the others
            log.exception("digest for user %s not sent", user.id)
    _mark_done(session, week)
    return report


def _kind_label(kind: str) -> str:
    return {
        "decision": _("Décisions stratégiques"), "weather": _("Météo"), "comment": _("Commentaires"),
        "value": _("Valeurs saisies"), "import": _("Imports"),
    }[kind]


def _job(now: str | None = None, force: bool = False) -> dict[str, Any]:
    return send_weekly_digests(dt.datetime.fromisoformat(now) if now else None, force=force)


@hookimpl(trylast=True, specname="register_jobs")
def digest_jobs():
    return [JobSpec(JOB, _job, "Synthèse hebdomadaire par courriel (le lundi à 7 h, heure de l'instance)",
                    owner="core", every=dt.timedelta(hours=1))]
