"""Pages: the requester's requests, the instructors' queue, one request and its thread, and the
administrators' page (connection status, webhook deliveries, requests)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError
from wtforms.fields import SelectChoice

from core.api import (Organisation, Policy, PolicyStatus, Role, Territory, can, db_session,
                      effective_grants, enqueue,
                      instance_config, plugin_settings, require, requires, utcnow)
from plugins.datapass import grants
from plugins.datapass.forms import ROLE_LABELS, ActionForm, RequestForm
from plugins.datapass.models import (OPEN_STATES, AccessRequest, DatapassGrant, Delivery, Message,
                                     RequestState)

bp = Blueprint("datapass", __name__, url_prefix="/datapass", template_folder="templates")
PAGE_SIZE = 100
# button pressed → (who may press it, states it applies to, new state, message required)
DECISIONS = {
    "approve": ("instructor", OPEN_STATES, RequestState.VALIDATED, False),
    "request_changes": ("instructor", {RequestState.SUBMITTED}, RequestState.CHANGES_REQUESTED, True),
    "refuse": ("instructor", OPEN_STATES, RequestState.REFUSED, True),
    "revoke": ("instructor", {RequestState.VALIDATED}, RequestState.REVOKED, True),
    "cancel": ("requester", OPEN_STATES, RequestState.CANCELLED, False),
    "message": ("any", set(RequestState), None, True),
}


def today() -> dt.date:
    value = current_app.config.get("PILOTE_TODAY")
    return dt.date.fromisoformat(value) if value else utcnow().date()


def _notify(kind: str, req: AccessRequest, message: Message | None = None) -> None:
    link = url_for("datapass.request_page", code=req.code, _external=True)
    try:
        enqueue("datapass.notify", kind=kind, request_id=req.id,
                message_id=message.id if message else None, link=link)
    except Exception:  # noqa: BLE001 - the change is committed; the notice is best effort
        current_app.logger.exception("datapass: notification %s of request %s failed", kind, req.code)


# -- the request form ------------------------------------------------------------------------


def _territory_choices() -> list[Territory]:
    levels = instance_config().level_keys
    rank = {key: i for i, key in enumerate(levels)}
    rows = db_session().scalars(select(Territory).where(Territory.level.in_(levels),
                                                        Territory.valid_to.is_(None))).all()
    return sorted(rows, key=lambda t: (rank[t.level], t.code))


def _fill_choices(form: RequestForm) -> dict:
    session = db_session()
    territories = _territory_choices()
    form.territories.choices = [SelectChoice(t.key, f"{t.name} ({t.code})" if t.level != "nation" else t.name)
                                for t in territories]
    organisations = session.scalars(select(Organisation).order_by(Organisation.name)).all()
    form.organisation.choices = [SelectChoice("", _("Aucun"))] + [SelectChoice(o.code, o.name) for o in organisations]
    policies = session.scalars(select(Policy).where(Policy.status == PolicyStatus.PUBLISHED)
                               .order_by(Policy.code)).all()
    form.policies.choices = [SelectChoice(p.code, f"{p.code} – {p.name}") for p in policies]
    return {"territories": {t.key: t for t in territories}, "organisations": {o.code: o for o in organisations},
            "policies": {p.code: p for p in policies}}


def _apply_form(form: RequestForm, req: AccessRequest, known: dict) -> None:
    """Copy the (validated) form into ``req``."""
    req.role = Role(form.role.data)
    territories = [known["territories"][k] for k in form.territories.data or [] if k in known["territories"]]
    req.territories = territories
    req.organisation = known["organisations"].get(form.organisation.data or "")
    req.policies = [known["policies"][c] for c in form.policies.data or [] if c in known["policies"]]
    req.until = form.until.data
    req.justification = form.justification.data.strip()


@bp.route("/demandes/nouvelle", methods=["GET", "POST"])
@requires("datapass.request")
def new_request():
    settings = plugin_settings("datapass")
    form = RequestForm(today=today(), max_days=settings["grant_days"])
    known = _fill_choices(form)
    if request.method == "GET":
        form.until.data = today() + dt.timedelta(days=min(365, settings["grant_days"]))
    if form.validate_on_submit():
        req = AccessRequest(requester_id=current_user.id, state=RequestState.SUBMITTED)
        _apply_form(form, req, known)
        session = db_session()
        session.add(req)
        session.flush()
        message = Message(request=req, author_id=current_user.id, kind="submit", body=req.justification)
        session.add(message)
        session.commit()
        _notify("submitted", req, message)
        flash(_("Votre demande est transmise aux instructeurs de ce périmètre."), "success")
        return redirect(url_for("datapass.request_page", code=req.code))
    status = 400 if request.method == "POST" else 200
    return render_template("datapass/request_form.html", form=form, req=None), status


@bp.route("/demandes/<code>/modifier", methods=["GET", "POST"])
@requires("datapass.request")
def edit_request(code: str):
    req = _get_request(code)
    if req.requester_id != current_user.id:
        abort(403)
    if req.state is not RequestState.CHANGES_REQUESTED:
        abort(409)
    settings = plugin_settings("datapass")
    form = RequestForm(today=today(), max_days=settings["grant_days"])
    known = _fill_choices(form)
    if request.method == "GET":
        form.role.data = req.role.value
        form.territories.data = [t.key for t in req.territories]
        form.organisation.data = req.organisation.code if req.organisation else ""
        form.policies.data = [p.code for p in req.policies]
        form.until.data, form.justification.data = req.until, req.justification
        form.version.data = str(req.version)
    conflict = False
    if form.validate_on_submit():
        if str(req.version) != (form.version.data or ""):
            conflict = True
        else:
            _apply_form(form, req, known)
            req.state, req.updated_at = RequestState.SUBMITTED, utcnow()
            message = Message(request=req, author_id=current_user.id, kind="resubmit", body=req.justification)
            db_session().add(message)
            try:
                db_session().commit()
            except StaleDataError:
                db_session().rollback()
                abort(409)
            _notify("submitted", req, message)
            flash(_("Votre demande modifiée est de nouveau soumise."), "success")
            return redirect(url_for("datapass.request_page", code=req.code))
    status = 409 if conflict else (400 if request.method == "POST" else 200)
    return render_template("datapass/request_form.html", form=form, req=req, conflict=conflict), status


# -- lists -----------------------------------------------------------------------------------


def _with_perimeter(query):
    return query.options(selectinload(AccessRequest.territories), selectinload(AccessRequest.policies),
                         selectinload(AccessRequest.organisation), selectinload(AccessRequest.requester),
                         selectinload(AccessRequest.grants))


@bp.route("/demandes")
@requires("datapass.request")
def my_requests():
    session = db_session()
    rows = session.scalars(_with_perimeter(
        select(AccessRequest).where(AccessRequest.requester_id == current_user.id)
        .order_by(AccessRequest.created_at.desc()))).all()
    held = effective_grants(current_user)
    ids = {g.territory_id for g in held if g.territory_id is not None}
    names = {t.id: t.name for t in session.scalars(select(Territory).where(Territory.id.in_(ids)))} if ids else {}
    return render_template("datapass/my_requests.html", requests=rows, held=held, territory_names=names)


@bp.route("/instruction")
@requires("datapass.instruct")
def queue():
    state = request.args.get("etat", "open")
    query = select(AccessRequest).order_by(AccessRequest.created_at.desc())
    if state == "open":
        query = query.where(AccessRequest.state.in_(OPEN_STATES))
    elif state in {s.value for s in RequestState}:
        query = query.where(AccessRequest.state == RequestState(state))
    rows = [r for r in db_session().scalars(_with_perimeter(query)).all() if can("datapass.instruct", r)]
    return render_template("datapass/queue.html", requests=rows, state=state, states=list(RequestState))


# -- one request -----------------------------------------------------------------------------


def _get_request(code: str) -> AccessRequest:
    req = db_session().scalar(_with_perimeter(select(AccessRequest).where(AccessRequest.code == code)))
    if req is None:
        abort(404)
    return req


def _may_see(req: AccessRequest) -> bool:
    return can("datapass.request", req) or can("datapass.instruct", req)


@bp.route("/demandes/<code>", methods=["GET", "POST"])
@requires("datapass.request")
def request_page(code: str):
    req = _get_request(code)
    if not _may_see(req):
        abort(403)
    form = ActionForm()
    error, status = None, 200
    if request.method == "POST":
        error, status = _act(req, form)
        if error is None:
            return redirect(url_for("datapass.request_page", code=req.code))
    if request.method == "GET":
        form.version.data = req.version
        form.until.data = req.until
    return render_template(
        "datapass/request.html", req=req, form=form, error=error,
        is_requester=req.requester_id == current_user.id,
        may_instruct=can("datapass.instruct", req), decisions=_available(req),
    ), status


def _available(req: AccessRequest) -> dict[str, bool]:
    is_requester = req.requester_id == current_user.id
    instructor = can("datapass.instruct", req)
    out = {}
    for name, (who, states, _new, _required) in DECISIONS.items():
        allowed = (who == "any" or (who == "instructor" and instructor)
                   or (who == "requester" and is_requester))
        out[name] = allowed and req.state in states
    return out


def _act(req: AccessRequest, form: ActionForm):
    """Apply the button pressed; returns (error, status). Nothing is written on refusal."""
    action = request.form.get("action", "")
    if action not in DECISIONS:
        return _("Action inconnue."), 400
    who, states, new_state, needs_message = DECISIONS[action]
    is_requester = req.requester_id == current_user.id
    if who == "instructor" or (who == "any" and not is_requester):
        require("datapass.instruct", req)  # 403: beyond what this user may grant, or their own
    if who == "requester" and not is_requester:
        abort(403)
    if not form.validate_on_submit():
        return _("Le formulaire n'est pas valide : %(errors)s", errors=_errors(form)), 400
    if form.version.data != req.version:
        return _("Quelqu'un a modifié cette demande entre-temps : relisez-la avant d'agir."), 409
    if req.state not in states:
        return _("Cette action n'est plus possible dans l'état actuel de la demande."), 409
    body = (form.body.data or "").strip()
    if needs_message and not body:
        form.body.errors = [_("Écrivez un message.")]
        return _("Un message est nécessaire pour cette action."), 400
    session = db_session()
    if action == "approve":
        if form.until.data is not None and form.until.data != req.until:
            if not today() < form.until.data <= req.until:
                form.until.errors = [_("Entre demain et la date demandée.")]
                return _("La date de fin ne peut qu'être avancée."), 400
            req.until = form.until.data
            require("datapass.instruct", req)
        grants.create_grant(user=req.requester, role=req.role, territories=req.territories,
                            policies=req.policies, organisation=req.organisation,
                            expires_at=grants.end_of_day(req.until), origin="request",
                            created_by_id=current_user.id, request=req)
    elif action == "revoke":
        for grant in [g for g in req.grants if g.revoked_at is None]:
            grants.revoke(grant, by_id=current_user.id, reason=body)
    if new_state is not None:
        req.state = new_state
        if who == "instructor":
            req.decided_by_id = current_user.id
    req.updated_at = utcnow()
    message = Message(request=req, author_id=current_user.id, kind=action, body=body)
    session.add(message)
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        return _("Quelqu'un a modifié cette demande entre-temps : relisez-la avant d'agir."), 409
    grants.forget_cached_grants()
    kind = action if action != "message" else ("message_from_requester" if is_requester else "message")
    _notify(kind, req, message)
    flash(_("C'est enregistré."), "success")
    return None, 200


def _errors(form) -> str:
    return " ".join(f"{getattr(form, name).label.text} : {' '.join(map(str, errs))}"
                    for name, errs in form.errors.items())


# -- administrators --------------------------------------------------------------------------


@bp.route("/")
@requires("datapass.status")
def status():
    settings = plugin_settings("datapass")
    session = db_session()
    args = request.args
    deliveries = select(Delivery).options(selectinload(Delivery.grant)).order_by(Delivery.id.desc())
    if args.get("evenement"):
        deliveries = deliveries.where(Delivery.event == args["evenement"])
    if args.get("resultat"):
        deliveries = deliveries.where(Delivery.outcome == args["resultat"])
    if args.get("signature") in ("ok", "ko"):
        deliveries = deliveries.where(Delivery.signature_ok.is_(args["signature"] == "ok"))
    requests = select(AccessRequest).order_by(AccessRequest.created_at.desc())
    if args.get("etat") in {s.value for s in RequestState}:
        requests = requests.where(AccessRequest.state == RequestState(args["etat"]))
    events = session.scalars(select(Delivery.event).distinct().order_by(Delivery.event)).all()
    outcomes = session.scalars(select(Delivery.outcome).distinct().order_by(Delivery.outcome)).all()
    active = session.scalars(select(DatapassGrant).where(DatapassGrant.revoked_at.is_(None))
                             .options(selectinload(DatapassGrant.user))
                             .order_by(DatapassGrant.id.desc()).limit(PAGE_SIZE)).all()
    return render_template(
        "datapass/status.html",
        api_url=settings["api_url"], webhook_configured=bool(settings["webhook_secret"]),
        webhook_url=url_for("datapass_webhook.receive", _external=True),
        deliveries=session.scalars(deliveries.limit(PAGE_SIZE)).all(),
        requests=session.scalars(_with_perimeter(requests).limit(PAGE_SIZE)).all(),
        grants=[g for g in active if g.is_active()], events=[e for e in events if e], outcomes=outcomes,
        states=list(RequestState), filters=args, settings=settings,
    )


STATE_LABELS = {
    RequestState.SUBMITTED: _l("Soumise"),
    RequestState.CHANGES_REQUESTED: _l("Modifications demandées"),
    RequestState.VALIDATED: _l("Validée"),
    RequestState.REFUSED: _l("Refusée"),
    RequestState.REVOKED: _l("Révoquée"),
    RequestState.CANCELLED: _l("Annulée"),
}


def role_label(role) -> str:
    """The French name of a role (template helper ``datapass_role_label``)."""
    return str(ROLE_LABELS[Role(role)])


def state_label(state) -> str:
    """The French name of a request state (template helper ``datapass_state_label``)."""
    return str(STATE_LABELS[RequestState(state)])
