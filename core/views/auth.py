"""Sign-in and sign-out: local accounts (throttled, with password reset by e-mail) and OpenID
Connect providers (ProConnect or any other, from ``instance.toml`` or the ``auth_providers``
hook). Every sign-in, refusal and sign-out is audited with where it came from."""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from core import audit
from core.db import session as db_session, utcnow
from core.events import emit
from core.identity import oidc, reset, throttle
from core.identity.passwords import password_problem, verify_password
from core.models import User
from core.permissions import public
from core.plugins import call_in_order

bp = Blueprint("auth", __name__)
log = logging.getLogger("pilote.auth")


class LoginForm(FlaskForm):
    email = EmailField(_l("Adresse électronique"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Mot de passe"), validators=[DataRequired(), Length(max=200)])


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("Adresse électronique"), validators=[DataRequired(), Email(), Length(max=254)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("Nouveau mot de passe"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("Confirmation du nouveau mot de passe"), validators=[
        DataRequired(), EqualTo("password", message=_l("Les deux mots de passe diffèrent."))])


# --------------------------------------------------------------------------- every request
def client_ip() -> str:
    return (request.remote_addr or "")[:45]


@bp.before_app_request
def _origin_and_session_age():
    """Record where writes come from; end sessions older than the absolute lifetime; log
    session cookies whose signature does not verify (tampered or from another key)."""
    g.pilote_origin = audit.set_origin(client_ip(), request.headers.get("User-Agent", ""))
    if "_user_id" in session:
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        started = session.get("auth_at")
        if not isinstance(started, (int, float)) or time.time() - started > lifetime:
            logout_user()
            session.clear()
            if request.endpoint and not request.endpoint.startswith(("assets.", "api_v1.")):
                flash(_("Votre session a expiré : reconnectez-vous."), "info")
    elif not session:
        cookie = request.cookies.get(current_app.config["SESSION_COOKIE_NAME"])
        serializer = current_app.session_interface.get_signing_serializer(current_app)
        if cookie and serializer is not None:
            try:
                serializer.loads(cookie)
            except BadSignature:
                log.warning("refused a session cookie with a bad signature from %s (%s)",
                            client_ip(), request.path)


@bp.app_context_processor
def _identity_helpers():
    from core.identity.labels import role_label

    return {"role_label": role_label}


@bp.teardown_app_request
def _forget_origin(_exc=None):
    token = g.pop("pilote_origin", None)
    if token is not None:
        audit.reset_origin(token)


def _safe_next(target: str | None) -> str:
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("core.home")


def providers() -> dict:
    """The OpenID Connect providers, by key (first declaration wins)."""
    found = {}
    for _owner, provider in call_in_order(current_app.extensions["pilote"].pm, "auth_providers"):
        found.setdefault(provider.key, provider)
    return found


def _start_session(user: User, channel: str, **extra) -> None:
    """Sign ``user`` in: a fresh session, the absolute lifetime clock, an audit entry."""
    session.clear()
    session.permanent = True
    login_user(user)
    session["auth_at"] = time.time()
    session.update(extra)
    with audit.acting_as(user.id, user.email, channel):
        user.last_login_at = utcnow()
        audit.record_event(db_session(), "login", "user_account", user.id, {"via": channel})
        emit(db_session(), "user_logged_in", user_id=user.id)
        db_session().commit()


def _local_login_enabled() -> bool:
    return current_app.extensions["pilote"].config.data["auth"]["local_login"]


# --------------------------------------------------------------------------- local accounts
@bp.route("/connexion", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    error, status, headers = None, 200, {}
    if request.method == "POST" and not _local_login_enabled():
        abort(404)
    if form.validate_on_submit():
        dbs = db_session()
        email = form.email.data.strip().lower()
        ip = client_ip()
        wait = throttle.retry_after(dbs, email, ip)
        if wait:
            minutes = max(1, round(wait / 60))
            error = _l("Trop de tentatives de connexion. Réessayez dans %(minutes)d minute(s).",
                       minutes=minutes)
            status, headers = 429, {"Retry-After": str(wait)}
            with audit.acting_as(None, email, "form"):
                audit.record_event(dbs, "login_failed", "user_account", "", {"reason": "throttled"})
                dbs.commit()
            log.warning("throttled sign-in for %s from %s", email, ip)
        else:
            user = dbs.scalar(select(User).where(func.lower(User.email) == email))
            password_ok = verify_password(user.password_hash if user else None, form.password.data)
            if user is not None and user.is_active and password_ok:
                throttle.clear(dbs, email)
                _start_session(user, "form")
                return redirect(_safe_next(request.args.get("next")))
            throttle.record_failure(dbs, email, ip)
            with audit.acting_as(None, email, "form"):
                audit.record_event(dbs, "login_failed", "user_account", user.id if user else "",
                                   {"reason": "password"})
                dbs.commit()
            log.info("failed sign-in for %s from %s", email, ip)
            error, status = _l("Adresse électronique ou mot de passe incorrect."), 401
    elif request.method == "POST":
        status = 400
    return render_template("pages/login.html", form=form, error=error, providers=providers().values(),
                           local_login=_local_login_enabled(),
                           next=request.args.get("next", "")), status, headers


@bp.route("/deconnexion", methods=["POST"])
@login_required
def logout():
    user = current_user._get_current_object()
    provider_key, id_token = session.get("oidc_provider"), session.get("oidc_id_token")
    with audit.acting_as(user.id, user.email, "form"):
        audit.record_event(db_session(), "logout", "user_account", user.id)
        db_session().commit()
    logout_user()
    session.clear()
    provider = providers().get(provider_key) if provider_key else None
    if provider is not None and id_token:
        state = oidc.new_secret()
        target = oidc.logout_url(provider, id_token, url_for("auth.logout_done", _external=True), state)
        if target:
            session["logout_state"] = state
            return redirect(target)
    flash(_l("Vous êtes déconnecté."), "info")
    return redirect(url_for("core.home"))


logout.pilote_permission = "authenticated"


@bp.route("/deconnexion/retour")
@public
def logout_done():
    """Back from the provider's end-session page (the local session ended before leaving)."""
    expected = session.pop("logout_state", None)
    if expected and secrets.compare_digest(request.args.get("state", ""), expected):
        flash(_l("Vous êtes déconnecté."), "info")
    else:
        log.warning("post-logout return with an unexpected state from %s", client_ip())
        flash(_l("Vous êtes déconnecté de %(name)s.", name=current_app.extensions["pilote"].config.name), "info")
    return redirect(url_for("core.home"))


@bp.route("/mot-de-passe/oubli", methods=["GET", "POST"])
@public
def forgot_password():
    if not _local_login_enabled():
        abort(404)
    form = ResetRequestForm()
    sent = False
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        dbs = db_session()
        with audit.acting_as(None, email, "form"):
            delivered = reset.request_reset(dbs, email, client_ip())
            audit.record_event(dbs, "reset_requested", "user_account", "", {"email": email,
                                                                             "mailed": delivered})
            dbs.commit()
        sent = True  # the same answer whether or not the account exists
    return render_template("auth/forgot.html", form=form, sent=sent), 400 if form.errors else 200


@bp.route("/mot-de-passe/reinitialiser/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    dbs = db_session()
    found = reset.valid_reset(dbs, token)
    if found is None:
        log.warning("refused an unknown, used or expired password-reset link from %s", client_ip())
        if request.method == "POST":  # an attempt to use it (reading the page writes nothing)
            with audit.acting_as(None, "anonymous", "form"):
                audit.record_event(dbs, "reset_refused", "password_reset", "", {"reason": "invalid"})
                dbs.commit()
        return render_template("auth/reset_invalid.html"), 400
    form = NewPasswordForm()
    error = None
    if form.validate_on_submit():
        user = dbs.get(User, found.user_id)
        error = password_problem(form.password.data, user.email)
        if error is None:
            reset.complete_reset(dbs, found, form.password.data)
            flash(_l("Votre mot de passe a été changé : connectez-vous."), "success")
            return redirect(url_for("auth.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form, error=error), status


# --------------------------------------------------------------------------- OpenID Connect
def _refuse(provider_key: str, reason: str, detail: str, status: int = 400):
    log.warning("refused OpenID Connect sign-in through %s from %s: %s %s", provider_key,
                client_ip(), reason, detail)
    dbs = db_session()
    dbs.rollback()
    with audit.acting_as(None, "anonymous", "oidc"):
        audit.record_event(dbs, "oidc_refused", "auth_provider", provider_key,
                           {"reason": reason, "detail": detail[:300]})
        dbs.commit()
    messages = {
        "state": _l("La réponse du fournisseur d'identité ne correspond pas à cette connexion "
                    "(paramètre « state »). Recommencez la connexion."),
        "nonce": _l("La réponse du fournisseur d'identité ne correspond pas à cette connexion "
                    "(paramètre « nonce »). Recommencez la connexion."),
        "signature": _l("La signature de la réponse du fournisseur d'identité est invalide."),
        "code": _l("Le code d'autorisation est invalide ou a expiré. Recommencez la connexion."),
        "inactive": _l("Ce compte est désactivé. Contactez l'administrateur."),
        "provider_error": _l("Le fournisseur d'identité a refusé la connexion."),
    }
    message = messages.get(reason, _l("La connexion par le fournisseur d'identité a échoué."))
    return render_template("auth/oidc_error.html", message=message, reason=reason), status


@bp.route("/connexion/oidc/<provider_key>")
@public
def oidc_start(provider_key: str):
    provider = providers().get(provider_key)
    if provider is None:
        abort(404)
    state, nonce = oidc.new_secret(), oidc.new_secret()
    redirect_uri = url_for("auth.oidc_callback", provider_key=provider.key, _external=True)
    try:
        target = oidc.authorization_url(provider, redirect_uri, state, nonce)
    except oidc.OidcRefused as exc:
        return _refuse(provider.key, exc.reason, exc.detail, status=502)
    session["oidc"] = {"provider": provider.key, "state": state, "nonce": nonce,
                       "next": _safe_next(request.args.get("next")), "at": time.time()}
    return redirect(target)


@bp.route("/connexion/oidc/<provider_key>/retour")
@public
def oidc_callback(provider_key: str):
    provider = providers().get(provider_key)
    if provider is None:
        abort(404)
    pending = session.pop("oidc", None) or {}
    if pending.get("provider") != provider.key or time.time() - pending.get("at", 0) > 600:
        pending = {}
    redirect_uri = url_for("auth.oidc_callback", provider_key=provider.key, _external=True)
    try:
        identity = oidc.finish(provider, redirect_uri, request.args.to_dict(),
                               pending.get("state", ""), pending.get("nonce", ""))
    except oidc.OidcRefused as exc:
        return _refuse(provider.key, exc.reason, exc.detail, status=502 if exc.reason == "provider" else 400)
    dbs = db_session()
    user = dbs.scalar(select(User).where(User.external_provider == provider.key,
                                         User.external_subject == identity.subject))
    if user is None:
        user = dbs.scalar(select(User).where(func.lower(User.email) == identity.email))
    if user is not None and not user.is_active:
        return _refuse(provider.key, "inactive", identity.email, status=403)
    with audit.acting_as(user.id if user else None, identity.email, "oidc"):
        if user is None:  # provisioned without grants: they then ask for access
            user = User(email=identity.email, name=identity.name or identity.email, is_active=True)
            dbs.add(user)
        user.external_provider, user.external_subject = provider.key, identity.subject
        dbs.commit()
    _start_session(user, "oidc", oidc_provider=provider.key, oidc_id_token=identity.id_token)
    if not user.active_grants():
        flash(_l("Votre compte est créé mais n'a encore aucune habilitation : demandez un accès "
                 "à votre coordinateur ou à l'administrateur."), "info")
    return redirect(pending.get("next") or url_for("core.home"))
