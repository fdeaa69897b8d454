"""Users and grants administration, within the manager's reach (see core.identity.delegation).

Administrators and central steering manage everyone; prefects and territorial coordinators
manage the users and grants of their territory subtree, never granting a wider role. Every
check is made here, on the server, for each object; every change is audited.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from wtforms import BooleanField, DateField, EmailField, SelectField, SelectMultipleField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional

from core import audit
from core.api_v1.tokens import token_status
from core.db import session as db_session, utcnow
from core.identity import delegation, reset
from core.identity.delegation import GrantDraft
from core.identity.labels import role_label
from core.models import ApiToken, Grant, Organisation, Policy, Role, Territory, User
from core.permissions import can, effective_grants, require, requires, scope
from core.views.account import TokenForm, new_token

bp = Blueprint("admin_users", __name__, url_prefix="/admin/utilisateurs")
PER_PAGE = 50


class GrantForm(FlaskForm):
    role = SelectField(_l("Rôle"), validators=[DataRequired()])
    territory = StringField(_l("Territoire (ex. region-84, department-69 ; vide : partout)"),
                            validators=[Optional(), Length(max=60)])
    organisation = SelectField(_l("Périmètre d'une organisation"), validators=[Optional()])
    policies = SelectMultipleField(_l("Politiques"), validators=[Optional()])
    expires_on = DateField(_l("Échéance (facultative)"), validators=[Optional()])


class UserForm(GrantForm):
    email = EmailField(_l("Adresse électronique"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Nom"), validators=[DataRequired(), Length(max=200)])
    is_service_account = BooleanField(_l("Compte de service (accès par jeton d'API uniquement)"))
    send_link = BooleanField(_l("Envoyer un lien pour choisir un mot de passe"), default=True)


class ExpiryForm(FlaskForm):
    expires_on = DateField(_l("Nouvelle échéance"), validators=[DataRequired()])


def _grants():
    return effective_grants(current_user)


def _fill_choices(form: GrantForm) -> None:
    session = db_session()
    form.role.choices = [SelectChoice(r.value, role_label(r)) for r in delegation.grantable_roles(_grants())]
    form.organisation.choices = [SelectChoice("", _("Aucune"))] + [
        SelectChoice(str(o.id), f"{o.acronym} — {o.name}")
        for o in session.scalars(select(Organisation).order_by(Organisation.acronym))]
    form.policies.choices = [
        SelectChoice(str(p.id), f"{p.code} — {p.name}")
        for p in session.scalars(select(Policy).where(scope("policy.read", Policy)).order_by(Policy.code))]


def _territory(key: str | None) -> tuple[Territory | None, str | None]:
    key = (key or "").strip()
    if not key:
        return None, None
    level, _sep, code = key.partition("-")
    territory = db_session().scalar(select(Territory).where(
        Territory.level == level, Territory.code == code, Territory.valid_to.is_(None)))
    if territory is None:
        return None, _("Territoire inconnu : %(key)s (forme attendue : niveau-code, ex. department-69).", key=key)
    return territory, None


def _draft(form: GrantForm) -> tuple[GrantDraft | None, Territory | None, list[Policy]]:
    """The grant the form describes, or None with errors set on the form."""
    territory, problem = _territory(form.territory.data)
    if problem:
        form.territory.errors = [*form.territory.errors, problem]
        return None, None, []
    policy_ids = frozenset(int(p) for p in form.policies.data or [])
    policies = db_session().scalars(select(Policy).where(Policy.id.in_(policy_ids))).all()
    expires = None
    if form.expires_on.data:
        if form.expires_on.data <= utcnow().date():
            form.expires_on.errors = [*form.expires_on.errors, _("L'échéance doit être dans le futur.")]
            return None, None, []
        expires = dt.datetime.combine(form.expires_on.data, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
    organisation_id = int(form.organisation.data) if form.organisation.data else None
    draft = GrantDraft(Role(form.role.data), territory.id if territory else None, organisation_id,
                       policy_ids, expires)
    return draft, territory, list(policies)


def _user_or_404(user_id: int) -> User:
    user = db_session().get(User, user_id)
    if user is None:
        abort(404)
    require("user.delegate", user)
    return user


def _describe(grant: Grant) -> dict:
    return {"user": grant.user.email if grant.user else grant.user_id, "role": grant.role,
            "territory": grant.territory.key if grant.territory else "*",
            "organisation": grant.organisation.code if grant.organisation else "",
            "policies": sorted(p.code for p in grant.policies),
            "expires_at": grant.expires_at}


def _add_grant(session, user: User, draft: GrantDraft, policies: list[Policy]) -> Grant:
    grant = Grant(role=draft.role, territory_id=draft.territory_id, organisation_id=draft.organisation_id,
                  expires_at=draft.expires_at, created_by_id=current_user.id, source="local")
    grant.policies = policies
    user.grants.append(grant)
    session.flush()
    session.refresh(grant)
    audit.record_event(session, "grant_add", "user_grant", grant.id, _describe(grant))
    return grant


# --------------------------------------------------------------------------- pages
@bp.route("/")
@requires("user.delegate")
def index():
    session = db_session()
    query = select(User).options(selectinload(User.grants).selectinload(Grant.territory)).order_by(User.email)
    search = request.args.get("q", "").strip()[:100]
    if search:
        like = f"%{search.lower()}%"
        query = query.where(or_(func.lower(User.email).like(like), func.lower(User.name).like(like)))
    grants = _grants()
    users = [u for u in session.scalars(query) if delegation.may_see_user(grants, u)]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    pages = max(1, -(-len(users) // PER_PAGE))
    return render_template("admin/users.html", users=users[(page - 1) * PER_PAGE: page * PER_PAGE],
                           page=min(page, pages), pages=pages, search=search, role_label=role_label,
                           total=len(users))


@bp.route("/nouveau", methods=["GET", "POST"])
@requires("user.delegate")
def create():
    form = UserForm()
    _fill_choices(form)
    grants = _grants()
    needs_grant = not delegation.manages_everyone(grants)
    if not needs_grant:  # global managers may create an account without any grant
        form.role.choices = [SelectChoice("", _("Aucune habilitation pour l'instant"))] + form.role.choices
        form.role.validators = [Optional()]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate():
            session = db_session()
            email = form.email.data.strip().lower()
            draft, _t, policies = _draft(form) if form.role.data else (None, None, [])
            if session.scalar(select(User.id).where(func.lower(User.email) == email)):
                form.email.errors = [_("Un compte existe déjà avec cette adresse.")]
            elif needs_grant and draft is None and not form.errors:
                form.role.errors = [_("Indiquez l'habilitation à donner.")]
            elif draft is not None and not can("user.delegate", draft):
                abort(403)
            elif not any(f.errors for f in form):
                with audit.acting_as(current_user.id, current_user.email, "form"):
                    user = User(email=email, name=form.name.data.strip(),
                                is_service_account=bool(form.is_service_account.data))
                    session.add(user)
                    session.flush()
                    if draft is not None:
                        _add_grant(session, user, draft, policies)
                    session.commit()
                    if form.send_link.data and not user.is_service_account:
                        reset.request_reset(session, email, request.remote_addr or "")
                flash(_l("Le compte %(email)s est créé.", email=email), "success")
                return redirect(url_for("admin_users.detail", user_id=user.id))
    return render_template("admin/users_new.html", form=form, needs_grant=needs_grant), status


@bp.route("/<int:user_id>")
@requires("user.delegate")
def detail(user_id: int):
    user = _user_or_404(user_id)
    return _detail_page(user)


def _detail_page(user: User, grant_form: GrantForm | None = None, created: str | None = None,
                 status: int = 200):
    if grant_form is None:
        grant_form = GrantForm(prefix="grant")
        _fill_choices(grant_form)
    grants = _grants()
    manageable = {g.id for g in user.grants if can("user.delegate", g)}
    tokens = db_session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                  .order_by(ApiToken.created_at.desc())).all()
    return render_template(
        "admin/users_detail.html", user=user, grant_form=grant_form, manageable=manageable,
        may_administer=delegation.may_administer_user(grants, user) and user.id != current_user.id,
        may_tokens=user.is_service_account and can("user.manage"), tokens=tokens,
        token_status=token_status, token_form=TokenForm(prefix="tk"), created=created,
        role_label=role_label, now=utcnow(), expiry_form=ExpiryForm(prefix="exp"),
    ), status


@bp.route("/<int:user_id>/habilitations", methods=["POST"])
@requires("user.delegate")
def add_grant(user_id: int):
    user = _user_or_404(user_id)
    form = GrantForm(prefix="grant")
    _fill_choices(form)
    if not form.validate():
        return _detail_page(user, form, status=400)
    draft, _t, policies = _draft(form)
    if draft is None:
        return _detail_page(user, form, status=400)
    if not can("user.delegate", draft):
        abort(403)
    session = db_session()
    with audit.acting_as(current_user.id, current_user.email, "form"):
        _add_grant(session, user, draft, policies)
        session.commit()
    flash(_l("Habilitation ajoutée."), "success")
    return redirect(url_for("admin_users.detail", user_id=user.id))


def _grant_or_404(user: User, grant_id: int) -> Grant:
    grant = db_session().get(Grant, grant_id)
    if grant is None or grant.user_id != user.id:
        abort(404)
    require("user.delegate", grant)
    return grant


@bp.route("/<int:user_id>/habilitations/<int:grant_id>/supprimer", methods=["POST"])
@requires("user.delegate")
def remove_grant(user_id: int, grant_id: int):
    user = _user_or_404(user_id)
    grant = _grant_or_404(user, grant_id)
    session = db_session()
    with audit.acting_as(current_user.id, current_user.email, "form"):
        audit.record_event(session, "grant_remove", "user_grant", grant.id, _describe(grant))
        session.delete(grant)  # explicit, so the audit listener sees the delete
        session.commit()
    flash(_l("Habilitation retirée."), "success")
    return redirect(url_for("admin_users.detail", user_id=user.id))


@bp.route("/<int:user_id>/habilitations/<int:grant_id>/echeance", methods=["POST"])
@requires("user.delegate")
def expire_grant(user_id: int, grant_id: int):
    user = _user_or_404(user_id)
    grant = _grant_or_404(user, grant_id)
    form = ExpiryForm(prefix="exp")
    if not form.validate():
        flash(_l("Indiquez une date d'échéance valide."), "error")
        return redirect(url_for("admin_users.detail", user_id=user.id)), 303
    expires = dt.datetime.combine(form.expires_on.data, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
    draft = GrantDraft.of(grant)
    if not can("user.delegate", GrantDraft(draft.role, draft.territory_id, draft.organisation_id,
                                           draft.policy_ids, expires)):
        abort(403)
    session = db_session()
    with audit.acting_as(current_user.id, current_user.email, "form"):
        grant.expires_at = expires
        audit.record_event(session, "grant_expiry", "user_grant", grant.id, _describe(grant))
        session.commit()
    flash(_l("Échéance enregistrée."), "success")
    return redirect(url_for("admin_users.detail", user_id=user.id))


@bp.route("/<int:user_id>/activation", methods=["POST"])
@requires("user.delegate")
def set_active(user_id: int):
    user = _user_or_404(user_id)
    if user.id == current_user.id or not delegation.may_administer_user(_grants(), user):
        abort(403)
    active = request.form.get("active") == "1"
    session = db_session()
    with audit.acting_as(current_user.id, current_user.email, "form"):
        user.is_active = active
        audit.record_event(session, "user_activate" if active else "user_deactivate", "user_account",
                           user.id, {"email": user.email})
        session.commit()
    flash(_l("Compte réactivé.") if active else _l("Compte désactivé : ses sessions et jetons sont refusés."),
          "success")
    return redirect(url_for("admin_users.detail", user_id=user.id))


@bp.route("/<int:user_id>/jetons", methods=["POST"])
@requires("user.manage")
def create_service_token(user_id: int):
    user = _user_or_404(user_id)
    if not user.is_service_account or not user.is_active:
        abort(404)
    form = TokenForm(prefix="tk")
    if not form.validate_on_submit():
        return _detail_page(user, status=400)
    return _detail_page(user, created=new_token(form, user, current_user._get_current_object()), status=201)


@bp.route("/<int:user_id>/jetons/<int:token_id>/revoquer", methods=["POST"])
@requires("user.manage")
def revoke_service_token(user_id: int, token_id: int):
    from core.api_v1.tokens import revoke_token

    user = _user_or_404(user_id)
    session = db_session()
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        abort(404)
    with audit.acting_as(current_user.id, current_user.email, "form"):
        if revoke_token(token):
            session.commit()
    flash(_l("Le jeton « %(name)s » est révoqué.", name=token.name), "success")
    return redirect(url_for("admin_users.detail", user_id=user.id))
