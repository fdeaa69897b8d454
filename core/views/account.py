"""« Mon compte »: my grants, my password, my API tokens (created once, revocable)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange

from core import audit
from core.api_v1.tokens import MAX_EXPIRES_DAYS, create_token, revoke_token, token_status
from core.db import session as db_session
from core.identity.passwords import hash_password, password_problem, verify_password
from core.models import ApiToken, User

bp = Blueprint("account", __name__, url_prefix="/mon-compte")


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Mot de passe actuel"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Nouveau mot de passe"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("Confirmation du nouveau mot de passe"), validators=[
        DataRequired(), EqualTo("password", message=_l("Les deux mots de passe diffèrent."))])


class TokenForm(FlaskForm):
    name = StringField(_l("Nom du jeton (à quoi il sert)"), validators=[DataRequired(), Length(max=120)])
    expires_days = IntegerField(_l("Durée de validité (jours)"), default=90,
                                validators=[DataRequired(), NumberRange(min=1, max=MAX_EXPIRES_DAYS)])
    read_only = BooleanField(_l("Lecture seule"), default=True)


def tokens_of(user: User) -> list[ApiToken]:
    return db_session().scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all()


def new_token(form: TokenForm, owner: User, actor: User) -> str:
    """Create a token for ``owner`` (audited as ``actor``); returns the token, shown once."""
    session = db_session()
    with audit.acting_as(actor.id, actor.email, "form"):
        _token, plain = create_token(session, owner, form.name.data, expires_days=form.expires_days.data,
                                     read_only=form.read_only.data, created_by_id=actor.id)
        session.commit()
    return plain


def _page(password_form=None, token_form=None, created=None, error=None, status=200):
    user = current_user._get_current_object()
    return render_template(
        "account/index.html", user=user, grants=user.active_grants(), tokens=tokens_of(user),
        token_status=token_status, password_form=password_form or PasswordChangeForm(prefix="pw"),
        token_form=token_form or TokenForm(prefix="tk"), created=created, error=error,
    ), status


@bp.route("/")
@login_required
def index():
    return _page()


index.pilote_permission = "authenticated"


@bp.route("/mot-de-passe", methods=["POST"])
@login_required
def change_password():
    form = PasswordChangeForm(prefix="pw")
    user = current_user._get_current_object()
    error = None
    if not form.validate_on_submit():
        return _page(password_form=form, status=400)
    if not verify_password(user.password_hash, form.current.data):
        error = _l("Le mot de passe actuel est incorrect.")
    else:
        error = password_problem(form.password.data, user.email)
    if error:
        return _page(password_form=form, error=error, status=400)
    session = db_session()
    with audit.acting_as(user.id, user.email, "form"):
        user.password_hash = hash_password(form.password.data)
        audit.record_event(session, "password_change", "user_account", user.id)
        session.commit()
    flash(_l("Votre mot de passe a été changé."), "success")
    return redirect(url_for("account.index"))


change_password.pilote_permission = "authenticated"


@bp.route("/jetons", methods=["POST"])
@login_required
def create_api_token():
    form = TokenForm(prefix="tk")
    if not form.validate_on_submit():
        return _page(token_form=form, status=400)
    user = current_user._get_current_object()
    return _page(created=new_token(form, user, user), status=201)


create_api_token.pilote_permission = "authenticated"


@bp.route("/jetons/<int:token_id>/revoquer", methods=["POST"])
@login_required
def revoke_api_token(token_id: int):
    user = current_user._get_current_object()
    session = db_session()
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        abort(404)
    with audit.acting_as(user.id, user.email, "form"):
        if revoke_token(token):
            session.commit()
    flash(_l("Le jeton « %(name)s » est révoqué.", name=token.name), "success")
    return redirect(url_for("account.index"))


revoke_api_token.pilote_permission = "authenticated"
