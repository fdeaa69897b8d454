"""Local sign-in and sign-out (OpenID Connect providers come with the identity work)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.security import check_password_hash
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, Length

from core import audit
from core.db import session as db_session, utcnow
from core.events import emit
from core.models import User
from core.permissions import public

bp = Blueprint("auth", __name__)
# A hash to compare against when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY_HASH = "scrypt:32768:8:1$0000000000000000$" + "0" * 128


class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse électronique"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("core.home")


@bp.route("/connexion", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db_session().scalar(select(User).where(func.lower(User.email) == email))
        password_ok = check_password_hash(
            user.password_hash if user and user.password_hash else _DUMMY_HASH, form.password.data
        )
        if user is not None and user.is_active and password_ok:
            session.clear()
            session.permanent = True
            login_user(user)
            with audit.acting_as(user.id, user.email, "form"):
                user.last_login_at = utcnow()
                emit(db_session(), "user_logged_in", user_id=user.id)
                db_session().commit()
            return redirect(_safe_next(request.args.get("next")))
        error = _l("Adresse électronique ou mot de passe incorrect.")
    return render_template("pages/login.html", form=form, error=error), (401 if error else 200)


@bp.route("/deconnexion", methods=["POST"])
@login_required
def logout():
    logout_user()
    session.clear()
    flash(_l("Vous êtes déconnecté."), "info")
    return redirect(url_for("core.home"))


logout.pilote_permission = "authenticated"
