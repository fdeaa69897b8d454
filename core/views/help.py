"""Help pages and FAQ (« Aide »): public reading, versioned editing by administrators and
central steering (action ``help.edit``).

Every save is a new :class:`~core.models.HelpPageVersion` (author, date); restoring an old
version saves a copy of it as a new one; deleting hides the page (history kept). The edit form
sends the version it was opened at: if someone saved since, nothing is written and the conflict
page shows both versions (409). Published pages are documentation, readable by everyone,
anonymous visitors included; drafts and deleted pages only by editors.
"""

from __future__ import annotations

import re
from itertools import groupby

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from core.db import session as db_session, utcnow
from core.help.rendering import plain_text, render_markdown
from core.models import HelpPage, HelpPageVersion
from core.permissions import can, public, requires
from core.views.entry import actor

bp = Blueprint("help", __name__, url_prefix="/aide")

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
RESERVED = {"nouvelle", "questions", "admin"}
KINDS = ("page", "faq")
MAX_BODY = 100_000


def editor() -> bool:
    return bool(getattr(current_user, "is_authenticated", False)) and can("help.edit")


def current(page: HelpPage) -> HelpPageVersion | None:
    return next((v for v in page.versions if v.number == page.current_version), None)


def get_page(code: str, *, for_edit: bool = False) -> HelpPage:
    """The page ``code`` (its slug); drafts and deleted pages exist for editors only."""
    page = db_session().scalar(select(HelpPage).where(HelpPage.slug == code)
                               .options(selectinload(HelpPage.versions).selectinload(HelpPageVersion.author)))
    if page is None:
        abort(404)
    if not for_edit and not editor() and (not page.published or page.deleted_at is not None):
        abort(404)
    return page


@bp.route("/")
@public  # published help is documentation: open to everyone; drafts are listed for editors only
def index():
    """Help pages then the FAQ, grouped by category; ``?q=`` searches titles and text."""
    session = db_session()
    q = request.args.get("q", "").strip()[:200]
    query = (select(HelpPage).join(HelpPageVersion, (HelpPageVersion.page_id == HelpPage.id)
                                   & (HelpPageVersion.number == HelpPage.current_version))
             .where(HelpPage.deleted_at.is_(None))
             .options(selectinload(HelpPage.versions))
             .order_by(HelpPage.kind.desc(), HelpPage.category, HelpPage.position, HelpPage.title))
    if not editor():
        query = query.where(HelpPage.published.is_(True))
    if q:
        like = f"%{q.lower()}%"
        query = query.where(or_(func.lower(HelpPage.title).like(like),
                                func.lower(HelpPageVersion.body_markdown).like(like)))
    pages = session.scalars(query).all()
    grouped = {kind: [(category, list(items)) for category, items in
                      groupby([p for p in pages if p.kind == kind], key=lambda p: p.category)]
               for kind in KINDS}
    faq_bodies = {p.id: render_markdown(current(p).body_markdown if current(p) else "")
                  for p in pages if p.kind == "faq"}
    excerpts = {}
    if q:
        for p in pages:
            text = plain_text(current(p).body_markdown if current(p) else "")
            at = text.lower().find(q.lower())
            if at >= 0:
                start = max(at - 80, 0)
                excerpts[p.id] = ("…" if start else "") + text[start:at + len(q) + 120] + "…"
    deleted = []
    if editor():
        deleted = session.scalars(select(HelpPage).where(HelpPage.deleted_at.is_not(None))
                                  .order_by(HelpPage.title)).all()
    return render_template("help/index.html", grouped=grouped, faq_bodies=faq_bodies, q=q,
                           count=len(pages), excerpts=excerpts, editor=editor(), deleted=deleted,
                           may_ask=getattr(current_user, "is_authenticated", False) and can("question.ask"))


@bp.route("/<code>")
@public  # published pages for everyone; a draft is a 404 except for editors (checked below)
def page(code: str):
    help_page = get_page(code)
    version = current(help_page)
    return render_template("help/page.html", page=help_page, version=version,
                           body=render_markdown(version.body_markdown if version else ""),
                           editor=editor(),
                           may_ask=getattr(current_user, "is_authenticated", False) and can("question.ask"))


# --------------------------------------------------------------------------- editing
def form_data(form, page: HelpPage | None = None) -> tuple[dict, dict]:
    """(cleaned data, errors) of the edit form."""
    data = {
        "slug": (form.get("slug", "") if page is None else page.slug).strip().lower(),
        "title": form.get("title", "").strip(),
        "kind": form.get("kind", "page"),
        "category": form.get("category", "").strip(),
        "body": form.get("body", "").replace("\r\n", "\n").strip(),
        "published": form.get("published") in ("1", "on", "y"),
    }
    errors = {}
    try:
        data["position"] = int(form.get("position") or 0)
    except ValueError:
        data["position"] = 0
        errors["position"] = _("La position doit être un nombre entier.")
    if not data["title"]:
        errors["title"] = _("Le titre est obligatoire.")
    elif len(data["title"]) > 300:
        errors["title"] = _("Le titre dépasse %(n)s caractères.", n=300)
    if page is None:
        if not SLUG.match(data["slug"]) or len(data["slug"]) > 120 or data["slug"] in RESERVED:
            errors["slug"] = _("Adresse invalide : lettres minuscules, chiffres et tirets (par exemple « taux-avancement »).")
        elif db_session().scalar(select(HelpPage.id).where(HelpPage.slug == data["slug"])):
            errors["slug"] = _("Cette adresse est déjà utilisée par une autre page.")
    if data["kind"] not in KINDS:
        errors["kind"] = _("Type inconnu.")
    if len(data["category"]) > 120:
        errors["category"] = _("La rubrique dépasse %(n)s caractères.", n=120)
    if len(data["body"]) > MAX_BODY:
        errors["body"] = _("Le texte dépasse %(n)s caractères.", n=MAX_BODY)
    return data, errors


def save_version(page: HelpPage, data: dict) -> HelpPageVersion:
    """Apply ``data`` to ``page`` and append its next version (the caller commits)."""
    number = max((v.number for v in page.versions), default=0) + 1
    version = HelpPageVersion(number=number, title=data["title"], body_markdown=data["body"],
                              author_id=current_user.id, created_at=utcnow())
    page.versions.append(version)
    page.title, page.kind, page.category = data["title"], data["kind"], data["category"]
    page.position, page.published = data["position"], data["published"]
    page.current_version = number
    return version


@bp.route("/nouvelle", methods=["GET", "POST"])
@requires("help.edit")
def create():
    data, errors = {"kind": request.args.get("type", "page"), "published": False}, {}
    if request.method == "POST":
        data, errors = form_data(request.form)
        if not errors:
            session = db_session()
            with actor():
                help_page = HelpPage(slug=data["slug"], title=data["title"], current_version=0)
                session.add(help_page)
                save_version(help_page, data)
                session.commit()
            flash(_("Page d'aide créée."), "success")
            return redirect(url_for("help.page", code=help_page.slug))
    return render_template("help/edit.html", page=None, data=data, errors=errors,
                           preview=render_markdown(data.get("body", "")) if data.get("body") else None,
                           kinds=kind_options()), 422 if errors else 200


def kind_options():
    return [("page", _("Page d'aide")), ("faq", _("Question de la FAQ"))]


@bp.route("/<code>/modifier", methods=["GET", "POST"])
@requires("help.edit")
def edit(code: str):
    help_page = get_page(code, for_edit=True)
    stored = current(help_page)
    if help_page.deleted_at is not None:
        abort(404)
    if request.method == "GET":
        data = {"slug": help_page.slug, "title": help_page.title, "kind": help_page.kind,
                "category": help_page.category, "position": help_page.position,
                "published": help_page.published, "body": stored.body_markdown if stored else ""}
        return render_template("help/edit.html", page=help_page, data=data, errors={},
                               version=help_page.current_version, kinds=kind_options(), preview=None)
    data, errors = form_data(request.form, help_page)
    try:
        seen = int(request.form.get("version", ""))
    except ValueError:
        abort(400)
    if errors:
        return render_template("help/edit.html", page=help_page, data=data, errors=errors, version=seen,
                               kinds=kind_options(), preview=None), 422
    if seen != help_page.current_version:
        return render_template("help/conflict.html", page=help_page, stored=stored, mine=data,
                               stored_html=render_markdown(stored.body_markdown if stored else ""),
                               mine_html=render_markdown(data["body"]), kinds=kind_options()), 409
    if request.form.get("action") == "preview":
        return render_template("help/edit.html", page=help_page, data=data, errors={}, version=seen,
                               kinds=kind_options(), preview=render_markdown(data["body"]))
    with actor():
        save_version(help_page, data)
        db_session().commit()
    flash(_("Nouvelle version enregistrée."), "success")
    return redirect(url_for("help.page", code=help_page.slug))


@bp.route("/<code>/historique")
@requires("help.edit")
def history(code: str):
    help_page = get_page(code, for_edit=True)
    return render_template("help/history.html", page=help_page,
                           versions=sorted(help_page.versions, key=lambda v: -v.number))


@bp.route("/<code>/version")
@requires("help.edit")
def version(code: str):
    """One version as it was (``?numero=N``), with a button to restore it."""
    help_page = get_page(code, for_edit=True)
    try:
        number = int(request.args.get("numero", ""))
    except ValueError:
        abort(404)
    old = next((v for v in help_page.versions if v.number == number), None)
    if old is None:
        abort(404)
    return render_template("help/version.html", page=help_page, version=old,
                           body=render_markdown(old.body_markdown))


@bp.route("/<code>/restaurer", methods=["POST"])
@requires("help.edit")
def restore(code: str):
    """Save a copy of version ``numero`` as the newest version (nothing is lost)."""
    help_page = get_page(code, for_edit=True)
    try:
        number = int(request.form.get("numero", ""))
        seen = int(request.form.get("version", ""))
    except ValueError:
        abort(400)
    old = next((v for v in help_page.versions if v.number == number), None)
    if old is None:
        abort(404)
    if seen != help_page.current_version:
        stored = current(help_page)
        mine = {"title": old.title, "body": old.body_markdown, "kind": help_page.kind,
                "category": help_page.category, "position": help_page.position,
                "published": help_page.published}
        return render_template("help/conflict.html", page=help_page, stored=stored, mine=mine,
                               stored_html=render_markdown(stored.body_markdown if stored else ""),
                               mine_html=render_markdown(old.body_markdown), kinds=kind_options()), 409
    data = {"title": old.title, "body": old.body_markdown, "kind": help_page.kind,
            "category": help_page.category, "position": help_page.position,
            "published": help_page.published}
    with actor():
        help_page.deleted_at = None
        save_version(help_page, data)
        db_session().commit()
    flash(_("Version %(n)s restaurée comme nouvelle version.", n=number), "success")
    return redirect(url_for("help.page", code=help_page.slug))


@bp.route("/<code>/supprimer", methods=["POST"])
@requires("help.edit")
def delete(code: str):
    """Hide the page everywhere (its versions are kept; « Restaurer » brings it back)."""
    help_page = get_page(code, for_edit=True)
    with actor():
        help_page.deleted_at = utcnow()
        db_session().commit()
    flash(_("Page d'aide supprimée. Son historique est conservé."), "success")
    return redirect(url_for("help.index"))
