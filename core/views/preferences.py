"""« Mon compte › Préférences de courriel » and the unsubscribe link of every e-mail.

The unsubscribe link carries a signed token (user × kind): it works without signing in and
turns off that kind only. Opening it shows one button (a POST): mail scanners that prefetch
links therefore never unsubscribe anybody by themselves.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
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


@bp.route("/courriels/desabonnement/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET: the one button to stop this kind of e-mail; POST: stop it (no sign-in needed)."""
    user, kind = _from_token(token)
    done = False
    if request.method == "POST":
        session = db_session()
        with audit.acting_as(user.id, user.email, "form"):
            set_preference(session, user.id, kind, False)
            session.commit()
        done = True
    return render_template("account/unsubscribe.html", token=token, kind=kind,
                           label=KINDS[kind], email=user.email, done=done)


unsubscribe.pilote_permission = "public"
