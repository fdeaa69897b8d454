"""Sign-in plumbing (Flask-Login), the audit actor of each request, and security headers."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_login import LoginManager, current_user

from core import audit
from core.db import session as db_session
from core.models import User

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = None
    manager.session_protection = "strong"

    @manager.user_loader
    def load_user(user_id: str):
        user = db_session().get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.is_active else None

    @manager.request_loader
    def load_user_from_request(req):
        pm = current_app.extensions["pilote"].pm
        user = pm.hook.user_from_request(request=req)
        return user if user is not None and user.is_active else None

    @app.before_request
    def _actor():
        if current_user.is_authenticated:
            g.pilote_actor = audit.set_actor(current_user.id, current_user.email, "form")
        else:
            g.pilote_actor = audit.set_actor(None, "anonymous", "form")

    @app.teardown_request
    def _forget_actor(_exc=None):
        token = g.pop("pilote_actor", None)
        if token is not None:
            audit.reset_actor(token)

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", ""):
            response.headers.setdefault("X-Frame-Options", "DENY")  # views that allow framing say so in their CSP
        if request.endpoint and not request.endpoint.startswith("assets."):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
