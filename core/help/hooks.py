"""The help feature's core hook implementations (imported into :mod:`core.defaults`)."""

from __future__ import annotations

from flask import g, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from core.plugins import hookimpl
from core.specs import Action, MenuItem

EDITORS = ("central_steering",)  # administrators are allowed by the core


@hookimpl(trylast=True, specname="register_actions")
def help_actions():
    return [
        Action("help.edit", "Rédiger, publier et restaurer les pages d'aide et la FAQ"),
        Action("question.ask", "Poser une question aux référents d'une politique"),
    ]


@hookimpl(trylast=True, specname="permission_check")
def help_permission_check(user, action, resource):
    """``help.edit``: central steering (and administrators). ``question.ask``: any signed-in
    user with a grant, on a published policy they may read."""
    if action not in ("help.edit", "question.ask"):
        return None
    from core.permissions import can, effective_grants

    grants = effective_grants(user)
    if action == "help.edit":
        return True if any(g.role in EDITORS for g in grants) else None
    if not grants:
        return None
    if resource is None:
        return True
    from core.models import PolicyStatus

    if resource.status is not PolicyStatus.PUBLISHED:
        return None
    return True if can("policy.read", resource, user=user) else None


@hookimpl(trylast=True, specname="menu_items")
def help_menu(user):
    from flask_babel import lazy_gettext as _l

    return [MenuItem(_l("Aide"), "help.index", None, 95)]


def _published_titles() -> dict[str, str]:
    """slug → title of the published help pages (once per request)."""
    if "pilote_help_titles" not in g:
        from sqlalchemy import select

        from core.db import session
        from core.models import HelpPage

        rows = session().execute(select(HelpPage.slug, HelpPage.title).where(
            HelpPage.published.is_(True), HelpPage.deleted_at.is_(None)))
        g.pilote_help_titles = dict(rows.all())
    return g.pilote_help_titles


def help_link(slug: str, text: str | None = None) -> Markup:
    """An accessible « ? » link to the help page ``slug``, its text saying what it explains
    (« Aide : <title> » by default). A missing or unpublished page renders nothing."""
    title = _published_titles().get(slug)
    if title is None:
        return Markup("")
    wording = text or _("Aide : %(title)s", title=title)
    return Markup('<a class="help-link" href="%s"><span class="help-link__icon" aria-hidden="true">?</span> %s</a>') % (
        url_for("help.page", code=slug), wording)


@hookimpl(trylast=True, specname="template_helpers")
def help_template_helpers():
    return {"help_link": help_link}


@hookimpl(trylast=True, specname="seed_data")
def help_seed_data(session, config, profile):
    from core.help.seed import seed_help

    seed_help(session)
