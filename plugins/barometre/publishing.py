"""The referents' side: drafts, differences with the last publication, publish and withdraw."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms import HiddenField, TextAreaField
from wtforms.validators import InputRequired, Length, Regexp

from core.api import Indicator, Policy, PolicyStatus, Territory, can, db_session, require, requires
from plugins.barometre.plugin import PUBLISH
from plugins.barometre.models import Publication
from plugins.barometre.snapshot import (
    PUBLISHED,
    PublicationConflict,
    build_draft,
    diff,
    last_entry_at,
    latest_publication,
    publish,
    public_levels,
    publishable,
    withdraw,
)
from plugins.barometre.views import bp

MAX_CHANGES_SHOWN = 60


class PublicationForm(FlaskForm):
    note = TextAreaField(_l("Note de publication (facultative, non publiée)"),
                         validators=[Length(max=500)])
    expected = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,6}$")])


def _policy(code: str) -> Policy:
    policy = db_session().scalar(select(Policy).where(Policy.code == code).options(
        selectinload(Policy.indicators).selectinload(Indicator.weights)))
    if policy is None:
        abort(404)
    require(PUBLISH, policy)
    return policy


@bp.route("/publications")
@requires(PUBLISH)
def publications():
    session = db_session()
    rows = []
    policies = session.scalars(select(Policy).where(Policy.status != PolicyStatus.ARCHIVED)
                               .options(selectinload(Policy.indicators)).order_by(Policy.code))
    for policy in policies:
        if not can(PUBLISH, policy):
            continue
        last = latest_publication(session, policy.id)
        entered = last_entry_at(session, policy)
        rows.append({"policy": policy, "last": last, "publishable": publishable(policy),
                     "stale": bool(last and last.status == PUBLISHED and entered
                                   and entered > last.created_at)})
    return render_template("barometre/publications.html", rows=rows)


@bp.route("/publications/<code>", methods=["GET", "POST"])
@requires(PUBLISH)
def publication(code: str):
    """The draft, its difference with the last publication; POST ``action`` = ``publish`` or
    ``withdraw``."""
    if request.method == "POST":
        action = request.form.get("action", "")
        if action not in ("publish", "withdraw"):
            abort(400)
        return _act(code, action)
    return _publication_page(_policy(code), PublicationForm())


def _publication_page(policy: Policy, form: PublicationForm, status: int = 200):
    session = db_session()
    last = latest_publication(session, policy.id)
    draft = build_draft(session, policy) if publishable(policy) else None
    changes = diff(session, draft, last) if draft else None
    history = session.scalars(select(Publication).where(Publication.policy_id == policy.id)
                              .order_by(Publication.number.desc())).all()
    names = {}
    if changes:
        keys = {(c.level, c.code) for c in changes.changes[:MAX_CHANGES_SHOWN]}
        codes = sorted({code for _level, code in keys})
        names = {(t.level, t.code): t.name for t in session.scalars(
            select(Territory).where(Territory.code.in_(codes), Territory.valid_to.is_(None)))}
    if not form.expected.data:
        form.expected.data = str(last.number if last else 0)
    top = public_levels()[0]
    national = [f for f in draft.figures if f["level"] == top] if draft else []
    indicator_names = {i.code: i.name for i in policy.indicators}
    return render_template(
        "barometre/publication.html", policy=policy, last=last, draft=draft, changes=changes,
        shown=changes.changes[:MAX_CHANGES_SHOWN] if changes else [], names=names,
        history=history, form=form, national=national, indicator_names=indicator_names,
        private_indicators=[i for i in policy.indicators if not i.is_public],
    ), status


def _act(code: str, action: str):
    session = db_session()
    policy = _policy(code)
    form = PublicationForm()
    if not form.validate_on_submit():
        return _publication_page(policy, form, 400)
    if action == "publish" and not publishable(policy):
        flash(_("Seule une politique publique et publiée peut paraître au baromètre."), "error")
        return _publication_page(policy, form, 409)
    last = latest_publication(session, policy.id)
    if action == "withdraw" and (last is None or last.status != PUBLISHED):
        flash(_("Cette politique n'est pas au baromètre : rien à retirer."), "error")
        return _publication_page(policy, form, 409)
    try:
        do = publish if action == "publish" else withdraw
        do(session, policy, author_id=current_user.id, note=form.note.data or "",
           expected=int(form.expected.data))
    except PublicationConflict:
        session.rollback()
        flash(_("Quelqu'un a publié ou retiré cette politique pendant que vous consultiez la page. "
                "Vérifiez le nouvel état ci-dessous avant de recommencer ; votre note est conservée."),
              "error")
        form.expected.data = None
        return _publication_page(_policy(code), form, 409)
    session.commit()
    flash(_("Politique publiée au baromètre.") if action == "publish"
          else _("Politique retirée du baromètre."), "success")
    return redirect(url_for("barometre.publication", code=policy.code))
