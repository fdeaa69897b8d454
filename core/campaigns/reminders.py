"""Campaign reminders by e-mail (job ``campaigns.remind``, hourly; ``pilote campaigns remind``).

For each open campaign and each cell still missing an expected entry, with ``d`` = days from
the territory's local date to its due date:

* ``before``: ``0 < d <= remind_days_before`` → the contributors who owe it;
* ``due``: ``d == 0`` (the due date has begun in the territory's time zone);
* ``after``: ``d < 0`` → the contributors who still owe it;
* ``escalation``: ``-d >= escalate_days_after`` → the territorial coordinators and prefects
  whose grant covers the territory and the policy, listing who is late.

One e-mail per recipient, stage, due date and time zone, with a ``dedupe_key`` naming them: a
second run (the job runs hourly) sends nothing new. Recipients who do not want
``campaign_reminder`` / ``campaign_escalation`` e-mails (:func:`core.preferences.wants`) get none.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, format_date, gettext as _
from sqlalchemy import select

from core.campaigns.service import Places, due_date_of, now_utc, report_of
from core.db import session as db_session, utcnow
from core.mail import send_mail
from core.models import Campaign, CampaignStatus, Grant, Indicator, Policy, Role, User
from core.preferences import wants
from core.timezones import local_today, zone_name_of

ESCALATION_ROLES = (Role.TERRITORIAL_COORDINATOR, Role.PREFECT)
STAGES = ("before", "due", "after", "escalation")


def stage_of(days_left: int, campaign: Campaign) -> list[str]:
    if 0 < days_left <= campaign.remind_days_before:
        return ["before"]
    if days_left == 0:
        return ["due"]
    if days_left < 0:
        return ["after", "escalation"] if -days_left >= campaign.escalate_days_after else ["after"]
    return []


def _link(endpoint: str, **values) -> str:
    """An absolute link for an e-mail (works in a job, without a request)."""
    from core.preferences import site_root

    root = site_root()
    if has_request_context():
        return root.rstrip("/") + url_for(endpoint, **values)
    with current_app.test_request_context("/"):
        return root.rstrip("/") + url_for(endpoint, **values)


def _unsubscribe(user_id: int, kind: str) -> str:
    from core.preferences import site_root, unsubscribe_url

    root = site_root()
    if has_request_context():
        return unsubscribe_url(user_id, kind, root)
    with current_app.test_request_context("/"):
        return unsubscribe_url(user_id, kind, root)


def _escalation_grants(session):
    now = utcnow()
    rows = session.scalars(select(Grant).join(User, User.id == Grant.user_id)
                           .where(Grant.role.in_(ESCALATION_ROLES), User.is_active.is_(True))).all()
    return [g for g in rows if g.expires_at is None or g.expires_at > now]


def _covers(grant: Grant, policy: Policy, territory) -> bool:
    node, inside = territory, grant.territory_id is None
    while node is not None and not inside:
        inside = node.id == grant.territory_id
        node = node.parent
    if not inside:
        return False
    if grant.organisation_id is not None and policy.organisation_id == grant.organisation_id:
        return True
    ids = {p.id for p in grant.policies}
    return policy.id in ids if ids else grant.organisation_id is None


def remind(now: dt.datetime | None = None, campaign_codes: list[str] | None = None) -> dict[str, int]:
    """Send the reminders due at ``now`` (default: now); returns e-mails sent per stage."""
    session = db_session()
    now = now or now_utc()
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    query = select(Campaign).where(Campaign.status == CampaignStatus.OPEN).order_by(Campaign.id)
    if campaign_codes:
        query = query.where(Campaign.code.in_(campaign_codes))
    sent = dict.fromkeys(STAGES, 0)
    sent["skipped"] = 0
    for campaign in session.scalars(query).all():
        # nothing to send yet (time zones move the local date by a day at most)
        if min(day for _, day in campaign.due_date_items()) - now.date() > dt.timedelta(
                days=campaign.remind_days_before + 1):
            continue
        for stage, count in _remind_campaign(session, campaign, now).items():
            sent[stage] += count
    return sent


def _remind_campaign(session, campaign: Campaign, now: dt.datetime) -> dict[str, int]:
    report = report_of(session, campaign)
    places = Places(session)
    places.load(c.territory_id for c in report.cells if c.missing)
    policies = {p.id: p for p in campaign.policies}
    indicators = {i.id: i for i in session.scalars(
        select(Indicator).where(Indicator.id.in_({c.indicator_id for c in report.cells if c.missing})))}
    # (recipient id, stage, due date, zone) -> cells
    groups: dict[tuple[int, str, dt.date, str], list] = defaultdict(list)
    escalation_grants = None
    for cell in report.cells:
        if not cell.missing:
            continue
        territory = places.get(cell.territory_id)
        due = due_date_of(campaign, territory)
        zone = zone_name_of(territory) or "default"
        for stage in stage_of((due - local_today(territory, now)).days, campaign):
            if stage == "escalation":
                if escalation_grants is None:
                    escalation_grants = _escalation_grants(session)
                bosses = {g.user_id for g in escalation_grants
                          if _covers(g, policies[cell.policy_id], territory)}
                for uid in bosses:
                    groups[(uid, stage, due, zone)].append((cell, territory))
            else:
                for uid in cell.contributor_ids:
                    groups[(uid, stage, due, zone)].append((cell, territory))
    counts = dict.fromkeys(STAGES, 0)
    counts["skipped"] = 0
    if not groups:
        return counts
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({k[0] for k in groups})))}
    owers = {u.id: u for u in session.scalars(select(User).where(
        User.id.in_({uid for cells in groups.values() for c, _ in cells for uid in c.contributor_ids})))}
    for (uid, stage, due, zone), cells in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3])):
        user = users.get(uid)
        if user is None or not user.email:
            continue
        kind = "campaign_escalation" if stage == "escalation" else "campaign_reminder"
        if not wants(user, kind):
            counts["skipped"] += 1
            continue
        key = f"campaign:{campaign.code}:{stage}:{due.isoformat()}:{zone}:user:{uid}"
        unsubscribe = _unsubscribe(uid, kind)
        with force_locale(user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "fr")):
            subject, text = _message(campaign, stage, due, cells, policies, indicators, owers)
            text += "\n" + _("Ne plus recevoir ces courriels : %(url)s", url=unsubscribe)
        if send_mail([user.email], subject, text, dedupe_key=key, unsubscribe=unsubscribe):
            counts[stage] += 1
    return counts


def _message(campaign, stage, due, cells, policies, indicators, owers) -> tuple[str, str]:
    day = format_date(due, "long")
    subjects = {
        "before": _("Campagne « %(title)s » : échéance le %(date)s", title=campaign.title, date=day),
        "due": _("Campagne « %(title)s » : échéance aujourd’hui (%(date)s)", title=campaign.title, date=day),
        "after": _("Campagne « %(title)s » : saisies en retard depuis le %(date)s", title=campaign.title, date=day),
        "escalation": _("Campagne « %(title)s » : retards dans votre territoire", title=campaign.title),
    }
    intros = {
        "before": _("Les saisies suivantes sont attendues pour la campagne « %(title)s » au plus tard le %(date)s.",
                    title=campaign.title, date=day),
        "due": _("L’échéance de la campagne « %(title)s » est aujourd’hui, le %(date)s. Ces saisies manquent encore :",
                 title=campaign.title, date=day),
        "after": _("L’échéance de la campagne « %(title)s » (le %(date)s) est passée. Ces saisies manquent encore :",
                   title=campaign.title, date=day),
        "escalation": _("Ces saisies de la campagne « %(title)s » attendues le %(date)s manquent toujours dans votre territoire :",
                        title=campaign.title, date=day),
    }
    lines = [intros[stage], ""]
    for cell, territory in sorted(cells, key=lambda ct: (ct[0].policy_id, ct[0].indicator_id, ct[1].code)):
        indicator = indicators.get(cell.indicator_id)
        periods = ", ".join(d.isoformat() for d in cell.missing)
        line = f"- {policies[cell.policy_id].name} — {indicator.name if indicator else cell.indicator_id} — {territory.name} : {periods}"
        if stage == "escalation":
            names = ", ".join(owers[u].name for u in cell.contributor_ids if u in owers)
            line += " (" + _("contributeurs : %(names)s", names=names or "—") + ")"
        lines.append(line)
    lines.append("")
    if stage != "escalation":
        lines.append(_("Ce que vous devez saisir : %(url)s", url=_link("campaigns.owed", code=campaign.code)))
    lines += [_("La campagne : %(url)s", url=_link("campaigns.show", code=campaign.code)), "",
              _("Vous recevez ce message selon vos préférences de courriel dans Pilote.")]
    return subjects[stage], "\n".join(lines)
