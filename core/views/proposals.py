"""Value proposals: a local user proposes a corrected value with a reason; a referent of the
policy validates it (written through ``save_values``, the revision's note naming both people)
or refuses it with a reason; the proposer is notified either way."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import session as db_session, utcnow
from core.engine.values import ConflictError, ValueInput, save_values
from core.events import emit
from core.models import (
    Channel,
    Indicator,
    Policy,
    ProposalStatus,
    Territory,
    User,
    ValueKind,
    ValueProposal,
)
from core.permissions import can, public, scope
from core.views.dialogue import policy_referents
from core.views.entry import actor, clean_form, french_errors, may, safe_next
from core.views.notifications import mail_notified, notify

bp = Blueprint("proposals", __name__, url_prefix="/propositions")


class ProposalSchema(Schema):
    indicator_id = fields.Integer(required=True)
    territory_id = fields.Integer(required=True)
    date = fields.Date(required=True)
    value = fields.Decimal(required=True, allow_nan=False,
                           validate=validate.Range(min=-10 ** 19, max=10 ** 19))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    next = fields.String(load_default="")


def reviewers(policy: Policy) -> set[int]:
    """Who decides: the policy's referents, else the central steering team."""
    ids = policy_referents(policy)
    if ids:
        return ids
    from core.models import Grant, Role

    return set(db_session().scalars(select(Grant.user_id).where(Grant.role == Role.CENTRAL_STEERING)))


@bp.route("/", methods=["POST"])
@public  # the object check below decides (a grant on the policy covering the territory)
def create():
    if not current_user.is_authenticated:
        abort(401)
    session = db_session()
    raw = clean_form(request.form)
    raw["reason"] = request.form.get("reason", "").strip()
    try:
        indicator = session.get(Indicator, int(raw.get("indicator_id", "")))
        territory = session.get(Territory, int(raw.get("territory_id", "")))
    except ValueError:
        abort(400)
    if indicator is None or territory is None:
        abort(404)
    policy = indicator.policy
    if not may("value.propose", policy, territory):
        abort(403)
    back = safe_next(raw.get("next"), url_for("core.policy", code=policy.code, territoire=territory.key))
    try:
        data = ProposalSchema().load({k: v for k, v in raw.items() if v != ""})
    except ValidationError as err:
        return render_template("entry/proposal_page.html", indicator=indicator, territory=territory,
                               policy=policy, data=raw, errors=french_errors(err.messages),
                               back=back), 422
    with actor():
        proposal = ValueProposal(indicator_id=indicator.id, territory_id=territory.id,
                                 kind=ValueKind.ACTUAL, date=data["date"], value=data["value"],
                                 reason=data["reason"], proposer_id=current_user.id)
        session.add(proposal)
        session.flush()
        text = _("%(who)s propose la valeur %(value)s pour « %(indicator)s » (%(territory)s, %(date)s).",
                 who=current_user.name, value=data["value"], indicator=indicator.name,
                 territory=territory.name, date=data["date"].isoformat())
        url = url_for("proposals.index")
        notified = notify(session, reviewers(policy), kind="proposal", text=text, url=url,
                          actor_id=current_user.id, proposal_id=proposal.id)
        emit(session, "value_proposed", proposal_id=proposal.id)
        session.commit()
    mail_notified(notified, subject=text, text=f"{text}\n\n{data['reason']}", url=url,
                  key=f"proposal-{proposal.id}")
    flash(_("Proposition envoyée au référent de la politique."), "success")
    return redirect(back)


def reviewable(proposal: ValueProposal) -> bool:
    return can("value.review", proposal.indicator.policy)


@bp.route("/")
@login_required
def index():
    """Pending proposals the user may decide on, and the user's own proposals."""
    session = db_session()
    pending = []
    if can("value.review"):
        readable = select(Policy.id).where(scope("policy.read", Policy))
        rows = session.scalars(
            select(ValueProposal).join(Indicator).where(
                ValueProposal.status == ProposalStatus.PENDING, Indicator.policy_id.in_(readable))
            .options(selectinload(ValueProposal.indicator).selectinload(Indicator.policy),
                     selectinload(ValueProposal.territory), selectinload(ValueProposal.proposer))
            .order_by(ValueProposal.created_at)).all()
        pending = [p for p in rows if reviewable(p)]
    mine = session.scalars(
        select(ValueProposal).where(ValueProposal.proposer_id == current_user.id)
        .options(selectinload(ValueProposal.indicator), selectinload(ValueProposal.territory),
                 selectinload(ValueProposal.reviewer))
        .order_by(ValueProposal.created_at.desc()).limit(100)).all()
    return render_template("entry/proposals.html", pending=pending, mine=mine)


index.pilote_permission = "authenticated"


@bp.route("/<int:proposal_id>/decision", methods=["POST"])
@public  # the object check below decides (a referent of the policy)
def decide(proposal_id: int):
    """``decision=accept`` writes the value; ``decision=refuse`` needs a ``note`` (reason)."""
    if not current_user.is_authenticated:
        abort(401)
    session = db_session()
    proposal = session.get(ValueProposal, proposal_id)
    if proposal is None:
        abort(404)
    if not reviewable(proposal):
        abort(403)
    decision = request.form.get("decision")
    note = request.form.get("note", "").strip()[:5000]
    if proposal.status is not ProposalStatus.PENDING:
        flash(_("Cette proposition a déjà été traitée."), "warning")
        return redirect(url_for("proposals.index"))
    if decision not in ("accept", "refuse"):
        abort(400)
    if decision == "refuse" and not note:
        flash(_("Indiquez le motif du refus."), "error")
        return redirect(url_for("proposals.index") + f"#proposition-{proposal.id}")
    proposer = session.get(User, proposal.proposer_id) if proposal.proposer_id else None
    indicator, territory = proposal.indicator, proposal.territory
    with actor():
        if decision == "accept":
            provenance = _("Proposé par %(proposer)s, validé par %(reviewer)s (proposition n° %(id)s)",
                           proposer=proposer.name if proposer else "–", reviewer=current_user.name,
                           id=proposal.id)
            try:
                save_values(session, [ValueInput(indicator.id, territory.id, proposal.kind, proposal.date,
                                                 proposal.value, source=provenance[:300])],
                            channel=Channel.FORM, author_id=current_user.id,
                            note=provenance + (f" — {note}" if note else ""))
            except ConflictError:  # no expected version is given: cannot happen, kept safe
                session.rollback()
                abort(409)
            proposal.status = ProposalStatus.ACCEPTED
            text = _("Votre proposition pour « %(indicator)s » (%(territory)s) a été validée par %(who)s.",
                     indicator=indicator.name, territory=territory.name, who=current_user.name)
        else:
            proposal.status = ProposalStatus.REFUSED
            text = _("Votre proposition pour « %(indicator)s » (%(territory)s) a été refusée par %(who)s : %(why)s",
                     indicator=indicator.name, territory=territory.name, who=current_user.name, why=note)
        proposal.reviewer_id = current_user.id
        proposal.reviewed_at = utcnow()
        proposal.review_note = note
        url = url_for("proposals.index")
        notified = notify(session, [proposal.proposer_id], kind="proposal_decided", text=text,
                          url=url, actor_id=current_user.id, proposal_id=proposal.id)
        emit(session, "value_proposal_decided", proposal_id=proposal.id, status=proposal.status.value)
        session.commit()
    mail_notified(notified, subject=text, text=text, url=url, key=f"proposal-{proposal.id}-decided")
    flash(_("Proposition validée : la valeur est enregistrée.") if decision == "accept"
          else _("Proposition refusée ; son auteur est prévenu."), "success")
    return redirect(url_for("proposals.index"))
