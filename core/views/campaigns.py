"""Campaign pages: list and "what I owe", opening form, live page, closing, frozen snapshot."""

from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.campaigns import service
from core.db import session as db_session
from core.engine.completeness import Counts
from core.models import Campaign, CampaignKind, CampaignStatus, Policy, PolicyStatus, Territory, User
from core.permissions import can, effective_grants, require, requires, scope
from core.views.reports import MultiCheckboxField

bp = Blueprint("campaigns", __name__)

KINDS = [(CampaignKind.MONTHLY.value, _l("Mensuelle")), (CampaignKind.QUARTERLY.value, _l("Trimestrielle")),
         (CampaignKind.ONE_OFF.value, _l("Ponctuelle (revue, réunion interministérielle…)"))]


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def kind_label(kind) -> str:
    return str(dict(KINDS).get(getattr(kind, "value", kind), kind))


def level_labels() -> dict[str, str]:
    from core.templating import label

    config = current_app.extensions["pilote"].config
    return {level["key"]: label(level.get("label")) or level["key"] for level in config.levels}


def readable_policies(session) -> dict[int, Policy]:
    return {p.id: p for p in session.scalars(select(Policy).where(scope("policy.read", Policy)).order_by(Policy.code))}


def visible_campaigns(session) -> list[Campaign]:
    """Campaigns with at least one policy the current user may read."""
    readable = set(readable_policies(session))
    return [c for c in session.scalars(select(Campaign).order_by(Campaign.opened_at.desc(), Campaign.id.desc()))
            if readable.intersection(p.id for p in c.policies)]


def find_campaign(code: str) -> Campaign:
    session = db_session()
    campaign = session.scalar(select(Campaign).where(Campaign.code == code))
    if campaign is None:
        abort(404)
    readable = readable_policies(session)
    if not any(p.id in readable for p in campaign.policies):
        abort(404)  # a campaign of unreadable policies is not revealed
    return campaign


def grant_roots() -> list[int] | None:
    """The user's grant territories (None: a grant without territory covers everything)."""
    roots = {g.territory_id for g in effective_grants(current_user)}
    return None if not roots or None in roots else sorted(roots)


def owed_rows(session, campaign: Campaign, user: User, now):
    """Cells of ``campaign`` the user (a contributor per core completeness) still owes."""
    from core.views.completeness import late_cells

    report = service.report_of(session, campaign, territory_ids=grant_roots())
    rows = late_cells(session, report, only_user=user.id)
    for row in rows:
        row["due"] = service.due_date_of(campaign, row["territory"])
        row["late"] = service.is_late(campaign, row["territory"], now)
    return rows, report.contributors.get(user.id)


# --------------------------------------------------------------------------- list
@bp.route("/campagnes")
@requires("territory.read")
def index():
    session = db_session()
    now = service.now_utc()
    campaigns = visible_campaigns(session)
    mine = []
    for campaign in campaigns:
        if campaign.is_open:
            rows, counts = owed_rows(session, campaign, current_user, now)
            if counts is not None:
                mine.append({"campaign": campaign, "owed": len(rows), "late": sum(r["late"] for r in rows),
                             "counts": counts})
    return render_template("campaigns/index.html", campaigns=campaigns, mine=mine,
                           kind_label=kind_label, may_open=can("campaign.manage"))


# --------------------------------------------------------------------------- opening
def campaign_form(levels: dict[str, str], policies: list[Policy], formdata=None):
    policy_choices = _choices((str(p.id), f"{p.code} — {p.name}") for p in policies)

    class CampaignForm(FlaskForm):
        title = StringField(_l("Intitulé"), validators=[DataRequired(), Length(max=200)])
        kind = SelectField(_l("Type de campagne"), choices=_choices(KINDS), default=CampaignKind.MONTHLY.value)
        description = TextAreaField(_l("Message aux contributeurs"), validators=[Optional(), Length(max=5000)])
        policies = MultiCheckboxField(_l("Politiques"), choices=policy_choices,
                                      validate_choice=True)
        period_start = DateField(_l("Début de la période attendue (facultatif)"), validators=[Optional()])
        remind_days_before = IntegerField(_l("Rappel, en jours avant l'échéance"), default=3,
                                          validators=[DataRequired(), NumberRange(0, 60)])
        escalate_days_after = IntegerField(_l("Relance des coordinateurs, en jours après l'échéance"), default=3,
                                           validators=[DataRequired(), NumberRange(1, 60)])

    for key, label in levels.items():
        setattr(CampaignForm, f"due_{key}", DateField(
            _l("Échéance — %(level)s", level=label), validators=[Optional()]))
    return CampaignForm(formdata=formdata) if formdata is not None else CampaignForm()


@bp.route("/campagnes/nouvelle", methods=["GET", "POST"])
@requires("campaign.manage")
def new():
    session = db_session()
    policies = [p for p in session.scalars(select(Policy).where(
        scope("policy.read", Policy), Policy.status == PolicyStatus.PUBLISHED).order_by(Policy.code))
        if can("campaign.manage", p)]
    levels = level_labels()
    form = campaign_form(levels, policies)
    if form.validate_on_submit():
        due = {key: getattr(form, f"due_{key}").data for key in levels if getattr(form, f"due_{key}").data}
        chosen = [p for p in policies if str(p.id) in (form.policies.data or [])]
        ok = True
        if not chosen:
            form.policies.errors = [*form.policies.errors, _("Choisissez au moins une politique.")]
            ok = False
        if not due:
            first = getattr(form, f"due_{next(iter(levels))}")
            first.errors = [*first.errors, _("Indiquez au moins une échéance.")]
            ok = False
        if ok and form.period_start.data and form.period_start.data > max(due.values()):
            form.period_start.errors = [*form.period_start.errors,
                                        _("Le début de la période doit précéder l'échéance.")]
            ok = False
        if ok:
            campaign = service.open_campaign(
                session, title=form.title.data, kind=form.kind.data, policies=chosen, due_dates=due,
                opened_by=current_user, description=form.description.data or "",
                period_start=form.period_start.data, remind_days_before=form.remind_days_before.data,
                escalate_days_after=form.escalate_days_after.data)
            session.commit()
            flash(_("Campagne %(code)s ouverte.", code=campaign.code), "success")
            return redirect(url_for("campaigns.show", code=campaign.code))
    return render_template("campaigns/new.html", form=form, levels=levels,
                           due_fields=[getattr(form, f"due_{k}") for k in levels])


# --------------------------------------------------------------------------- campaign page
@bp.route("/campagnes/<code>")
@requires("territory.read")
def show(code: str):
    from core.views.completeness import scoped_roots

    session = db_session()
    campaign = find_campaign(code)
    readable = readable_policies(session)
    policy_ids = [p.id for p in campaign.policies if p.id in readable]
    top = session.scalar(select(Territory).where(Territory.parent_id.is_(None)).order_by(Territory.id))
    roots = scoped_roots(top) if top is not None else None
    everywhere = roots is None or (top is not None and roots == [top.id])
    in_scope = None if everywhere else service.subtree_ids(session, set(roots))
    now = service.now_utc()
    context = dict(campaign=campaign, kind_label=kind_label, levels=level_labels(),
                   policies=[p for p in campaign.policies if p.id in readable],
                   may_manage=can("campaign.manage", campaign), show_emails=can("contributor.email"))
    changes = service.changes_since_last_review(session, campaign, territory_ids=in_scope, policy_ids=policy_ids)
    users = {}
    author_ids = {r[0].author_id for r in changes.values} | {w.author_id for w in changes.weather} | \
        {c.author_id for c in changes.comments}
    author_ids.discard(None)
    if author_ids:
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(author_ids)))}
    if roots is None:
        roots = [top.id] if top is not None else []
    late_by_policy: dict[int, int] = defaultdict(int)
    if campaign.is_open:
        report = service.report_of(session, campaign, territory_ids=roots, policy_ids=policy_ids)
        figures = service.pair_figures(session, campaign, report, now)
        late = service.late_cells(session, campaign, report, now)
        late_by_user: dict[int, int] = defaultdict(int)
        for item in late:
            late_by_policy[item.cell.policy_id] += len(item.cell.missing)
            for uid in item.cell.contributor_ids:
                late_by_user[uid] += len(item.cell.missing)
        late_users = [(report.contributors[uid], n) for uid, n in sorted(late_by_user.items())
                      if uid in report.contributors]
        late_users.sort(key=lambda pair: (-pair[1], pair[0].name))
        rows = {(tid, pid): (f.expected, f.received, f.late) for (tid, pid), f in figures.items()}
        by_policy = {pid: [c.expected, c.received, late_by_policy.get(pid, 0)] for pid, c in report.policies.items()}
        context.update(report=report, late_users=late_users, late_count=sum(len(i.cell.missing) for i in late))
    else:
        rows = {(s.territory_id, s.policy_id): (s.expected, s.received, s.late) for s in campaign.snapshot
                if s.policy_id in readable}
        by_policy = defaultdict(lambda: [0, 0, 0])
        for (tid, pid), (expected, received, late_n) in rows.items():
            if tid in roots:  # the top of the user's scope: no double counting of roll-ups
                by_policy[pid][0] += expected
                by_policy[pid][1] += received
                by_policy[pid][2] += late_n
    # per territory: the user's territorial scope only (roll-ups above it would be partial)
    by_territory: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (tid, pid), (expected, received, late_n) in rows.items():
        if in_scope is None or tid in in_scope:
            by_territory[tid][0] += expected
            by_territory[tid][1] += received
            by_territory[tid][2] += late_n
    territories = {t.id: t for t in session.scalars(select(Territory).where(Territory.id.in_(list(by_territory))))} \
        if by_territory else {}
    by_policy = defaultdict(lambda: [0, 0, 0], by_policy)
    level_order = {key: i for i, key in enumerate(current_app.extensions["pilote"].config.level_keys)}
    territory_rows = sorted(
        ((territories[tid], Counts(v[0], v[1]), v[2]) for tid, v in by_territory.items() if tid in territories),
        key=lambda r: (level_order.get(r[0].level, 99), r[0].code))
    policy_rows = [(p, Counts(*by_policy[p.id][:2]), by_policy[p.id][2]) for p in context["policies"]]
    due_rows = [(level, day, context["levels"].get(level, level)) for level, day in campaign.due_date_items()]
    return render_template("campaigns/show.html", territory_rows=territory_rows[:400], policy_rows=policy_rows,
                           changes=changes, authors=users, due_rows=due_rows, **context)


@bp.route("/campagnes/<code>/ce-que-je-dois")
@requires("territory.read")
def owed(code: str):
    session = db_session()
    campaign = find_campaign(code)
    rows, counts = owed_rows(session, campaign, current_user, service.now_utc())
    readable = readable_policies(session)
    rows = [r for r in rows if r["indicator"].policy_id in readable]
    return render_template("campaigns/owed.html", campaign=campaign, rows=rows, counts=counts,
                           policies=readable)


@bp.route("/campagnes/<code>/cloture", methods=["POST"])
@requires("campaign.manage")
def close(code: str):
    session = db_session()
    campaign = find_campaign(code)
    require("campaign.manage", campaign)
    if not campaign.is_open:
        flash(_("Cette campagne est déjà clôturée."), "info")
        return redirect(url_for("campaigns.show", code=code))
    service.close_campaign(session, campaign, current_user)
    session.commit()
    flash(_("Campagne %(code)s clôturée : les chiffres sont figés.", code=campaign.code), "success")
    return redirect(url_for("campaigns.show", code=code))


__all__ = ["bp", "CampaignStatus"]
