"""« Mon compte › Préférences de courriel » and the unsubscribe link of every e-mail.

The unsubscribe link carries a signed token (user × kind): it works without signing in and
turns off that kind only. Opening it shows one button (a POST): mail scanners that prefetch
links therefore never unsubscribe anybody by themselves. Mail providers that read the
``List-Unsubscribe-Post`` header (RFC 8058) POST ``List-Unsubscribe=One-Click`` to the same URL
without any CSRF token: the signed token of the URL is the authorisation for that POST only;
the browser form keeps its CSRF check.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core import audit
from core.db import session as db_session
from core.models import User
from core.preferences import KINDS, preferences_of, read_unsubscribe_token, set_preference

bp = Blueprint("preferences", __name__)


@bp.route("/mon-compte/courriels", methods=["GET", "POST"])
@login_required
def edit():
    """The current user's choices, one checkbox per kind of e-mail."""
    user = current_user._get_current_object()
    if request.method == "POST":
        session = db_session()
        with audit.acting_as(user.id, user.email, "form"):
            changed = [kind for kind in KINDS
                       if set_preference(session, user.id, kind, request.form.get(f"kind_{kind}") == "on")]
            session.commit()
        flash(_("Vos préférences de courriel sont enregistrées.") if changed
              else _("Aucun changement."), "success")
        return redirect(url_for("preferences.edit"))
    return render_template("account/preferences.html", user=user, kinds=KINDS,
                           prefs=preferences_of(user))


edit.pilote_permission = "authenticated"


def _from_token(token: str) -> tuple[User, str]:
    found = read_unsubscribe_token(token)
    if found is None:
        abort(404)
    user = db_session().get(User, found[0])
    if user is None:
        abort(404)
    return user, found[1]


def _one_click() -> bool:
    """The RFC 8058 one-click POST of a mail provider (body ``List-Unsubscribe=One-Click``)."""
    return request.method == "POST" and request.form.get("List-Unsubscribe") == "One-Click"


def _check_csrf() -> None:
    """The check Flask-WTF would have made (the view is exempt for the one-click POST only)."""
    config = current_app.config
    if config.get("WTF_CSRF_ENABLED", True) and config.get("WTF_CSRF_CHECK_DEFAULT", True):
        current_app.extensions["csrf"].protect()  # raises CSRFError (400) when missing or wrong


@bp.route("/courriels/desabonnement/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET: the one button to stop this kind of e-mail; POST: stop it (no sign-in needed).
    A POST carries the form's CSRF token, or is a mail provider's RFC 8058 one-click POST."""
    user, kind = _from_token(token)
    done = False
    if request.method == "POST":
        one_click = _one_click()
        if not one_click:
            _check_csrf()
        session = db_session()
        with audit.acting_as(user.id, user.email, "one-click" if one_click else "form"):
            set_preference(session, user.id, kind, False)
            session.commit()
        done = True
    return render_template("account/unsubscribe.html", token=token, kind=kind,
                           label=KINDS[kind], email=user.email, done=done)


unsubscribe.pilote_permission = "public"


@bp.record_once
def _exempt_unsubscribe_from_csrf(state) -> None:
    """Flask-WTF checks every POST before the view runs; this view makes that check itself,
    for every POST but the one-click one (see :func:`_check_csrf`)."""
    csrf = state.app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(unsubscribe)
