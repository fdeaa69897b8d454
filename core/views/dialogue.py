"""Dialogue: typed comments with replies and mentions, notifications to those concerned, and
the referents' view of every local comment of a policy across territories.

A mention is written ``@adresse@exemple.fr`` in the text or picked in the « Mentionner »
field (autocompleted from the users the author may see); it is stored as a link to the user's
id (:class:`~core.models.CommentMention`), and only users who may read the policy in a related
territory can be mentioned. Text is always escaped.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import session as db_session
from core.events import emit
from core.models import (
    Comment,
    CommentMention,
    Grant,
    Policy,
    PolicyContact,
    Role,
    Territory,
    User,
)
from core.permissions import can, effective_grants, public
from core.templating import label
from core.views.entry import actor, may, safe_next, within
from core.views.notifications import mail_notified, notify

bp = Blueprint("dialogue", __name__, url_prefix="/dialogue")
MENTION = re.compile(r"@([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
MAX_BODY = 10000


def comment_types() -> list[dict]:
    return current_app.extensions["pilote"].config.data.get("comment_types", [])


def type_label(key: str) -> str:
    for item in comment_types():
        if item["key"] == key:
            return label(item.get("label")) or key
    return key


def related(territory: Territory, root_id: int | None) -> bool:
    """The grant's territory holds ``territory`` or lies below it."""
    if within(territory, root_id):
        return True
    node = db_session().get(Territory, root_id)
    while node is not None:
        if node.id == territory.id:
            return True
        node = node.parent
    return False


def mentionable(policy: Policy, territory: Territory) -> list[User]:
    """Users the author may mention: active people who may read the policy, with a grant on
    a territory related to this one (above or below it, or everywhere)."""
    out = []
    users = db_session().scalars(
        select(User).where(User.is_active.is_(True), User.is_service_account.is_(False))
        .options(selectinload(User.grants).selectinload(Grant.policies)).order_by(User.name))
    for user in users:
        grants = effective_grants(user)
        if not grants or not can("policy.read", policy, user=user):
            continue
        if any(g.territory_id is None or related(territory, g.territory_id) for g in grants):
            out.append(user)
    return out


def policy_referents(policy: Policy) -> set[int]:
    """The policy's national contacts with an account and its ministry referents."""
    session = db_session()
    ids = set(session.scalars(select(PolicyContact.user_id).where(
        PolicyContact.policy_id == policy.id, PolicyContact.territory_id.is_(None),
        PolicyContact.user_id.is_not(None))))
    for grant in session.scalars(select(Grant).where(Grant.role == Role.MINISTRY_REFERENT)
                                 .options(selectinload(Grant.policies))):
        if grant.expires_at is not None and grant.expires_at < dt.datetime.now(dt.timezone.utc):
            continue
        if (grant.organisation_id is not None and grant.organisation_id == policy.organisation_id) \
                or policy.id in {p.id for p in grant.policies}:
            ids.add(grant.user_id)
    return ids


def render_body(comment: Comment) -> Markup:
    """The comment's text, escaped, line breaks kept, mentions shown as ``@Name``."""
    html = escape(comment.body)
    for mention in comment_mentions(comment):
        html = Markup(html.replace(escape("@" + mention.user.email),
                                   Markup('<span class="mention">@%s</span>') % mention.user.name))
    return Markup(html.replace("\n", Markup("<br>")))


def comment_mentions(comment: Comment) -> list[CommentMention]:
    return list(db_session().scalars(select(CommentMention).where(CommentMention.comment_id == comment.id)
                                     .options(selectinload(CommentMention.user))))


@bp.app_template_global()
def dialogue_comments(policy: Policy | None, territory: Territory, limit: int = 30) -> dict:
    """What ``dialogue/_comments.html`` needs: threads (newest first) with their replies, the
    comment types, whether the viewer may write, and who may be mentioned."""
    session = db_session()
    if not getattr(current_user, "is_authenticated", False):  # internal dialogue: signed-in users only
        return {"threads": [], "types": [], "type_label": type_label, "render": render_body,
                "can_write": False, "writable": set(), "users": [], "hidden": True, "next": "/"}
    query = (select(Comment).where(Comment.territory_id == territory.id, Comment.parent_id.is_(None))
             .options(selectinload(Comment.replies).selectinload(Comment.author),
                      selectinload(Comment.author), selectinload(Comment.policy))
             .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(limit))
    if policy is not None:
        query = query.where(Comment.policy_id == policy.id)
    threads = [c for c in session.scalars(query) if policy is not None or can("policy.read", c.policy)]
    can_write = may("comment.write", policy, territory) if policy is not None else False
    writable = {c.id for c in threads if can_write or may("comment.write", c.policy, territory)}
    return {
        "threads": threads, "types": [(t["key"], label(t.get("label"))) for t in comment_types()],
        "type_label": type_label, "render": render_body, "can_write": can_write,
        "writable": writable, "hidden": False,
        "users": mentionable(policy, territory) if can_write else [],
        "next": request.full_path.rstrip("?") if request else "/",
    }


def resolve_mentions(text: str, field: str, policy: Policy, territory: Territory):
    """(users, unknown addresses): mentions in the text and the field, limited to the users
    the author may see."""
    wanted = {m.lower() for m in MENTION.findall(text)}
    wanted |= {part.strip().lower() for part in field.split(",") if part.strip()}
    if not wanted:
        return [], []
    allowed = {u.email.lower(): u for u in mentionable(policy, territory)}
    users = [allowed[e] for e in sorted(wanted) if e in allowed]
    return users, sorted(wanted - set(allowed))


@bp.route("/commentaires", methods=["POST"])
@public  # the object check below decides (role and territorial scope)
def add_comment():
    """A new comment (``type``) or a reply (``parent_id``) for policy × territory."""
    if not current_user.is_authenticated:
        abort(401)
    session = db_session()
    form = request.form
    parent = None
    try:
        if form.get("parent_id"):
            parent = session.get(Comment, int(form["parent_id"]))
            if parent is None:
                abort(404)
            policy, territory = parent.policy, parent.territory
        else:
            policy = session.get(Policy, int(form.get("policy_id", "")))
            territory = session.get(Territory, int(form.get("territory_id", "")))
    except ValueError:
        abort(400)
    if policy is None or territory is None:
        abort(404)
    if not may("comment.write", policy, territory):
        abort(403)
    back = safe_next(form.get("next"), url_for("core.policy", code=policy.code, territoire=territory.key))
    body = form.get("body", "").strip()
    kind = parent.type if parent else form.get("type", "")
    errors = {}
    if not body:
        errors["body"] = _("Le commentaire est vide.")
    elif len(body) > MAX_BODY:
        errors["body"] = _("Le commentaire dépasse %(n)s caractères.", n=MAX_BODY)
    if kind not in {t["key"] for t in comment_types()}:
        errors["type"] = _("Type de commentaire inconnu.")
    users, unknown = resolve_mentions(body, form.get("mentions", ""), policy, territory)
    if unknown:
        errors["mentions"] = _("Personne introuvable ou hors de votre périmètre : %(who)s.",
                               who=", ".join(unknown))
    if errors:
        return render_template("dialogue/comment_page.html", policy=policy, territory=territory,
                               parent=parent, errors=errors, data=form, back=back), 422
    with actor():
        comment = Comment(policy_id=policy.id, territory_id=territory.id, type=kind, body=body,
                          parent_id=parent.id if parent else None, author_id=current_user.id)
        session.add(comment)
        session.flush()
        for user in users:
            session.add(CommentMention(comment_id=comment.id, user_id=user.id))
        url = f"{url_for('core.policy', code=policy.code, territoire=territory.key)}#commentaire-{(parent or comment).id}"
        recipients = notify_comment(session, comment, parent, policy, territory, users, url)
        emit(session, "comment_added", comment_id=comment.id, policy_id=policy.id,
             territory_id=territory.id, parent_id=comment.parent_id)
        session.commit()
    for user_ids, subject, text in recipients:
        mail_notified(user_ids, subject=subject, text=text, url=url, key=f"comment-{comment.id}")
    flash(_("Réponse publiée.") if parent else _("Commentaire publié."), "success")
    return redirect(back + f"#commentaire-{(parent or comment).id}" if "#" not in back else back)


def notify_comment(session, comment, parent, policy, territory, mentioned, url):
    """Notify the mentioned, the thread's participants and the policy's referents (each
    person once, the author never); returns the e-mails to send after the commit."""
    author = current_user.name
    mentioned_ids = {u.id for u in mentioned}
    participants = set()
    if parent is not None:
        participants = {parent.author_id, *(r.author_id for r in parent.replies)}
    referents = policy_referents(policy)
    groups = [
        (mentioned_ids, "mention", _("%(author)s vous a mentionné dans un commentaire sur « %(policy)s » (%(territory)s).",
                                     author=author, policy=policy.name, territory=territory.name)),
        (participants - mentioned_ids, "reply", _("%(author)s a répondu dans une discussion sur « %(policy)s » (%(territory)s).",
                                                  author=author, policy=policy.name, territory=territory.name)),
        (referents - mentioned_ids - participants, "comment",
         _("Nouveau commentaire de %(author)s sur « %(policy)s » (%(territory)s).",
           author=author, policy=policy.name, territory=territory.name)),
    ]
    mails = []
    for ids, kind, text in groups:
        notified = notify(session, ids, kind=kind, text=text, url=url, actor_id=current_user.id,
                          comment_id=comment.id)
        if notified:
            mails.append((notified, text, f"{text}\n\n« {comment.body[:1000]} »"))
    return mails


@bp.route("/commentaires/<int:comment_id>/modifier", methods=["POST"])
@public  # the object check below decides (the author, still in scope)
def edit_comment(comment_id: int):
    """Edit one's own comment; a stale ``version`` shows both versions instead of saving."""
    if not current_user.is_authenticated:
        abort(401)
    session = db_session()
    comment = session.get(Comment, comment_id)
    if comment is None:
        abort(404)
    if comment.author_id != current_user.id or not may("comment.write", comment.policy, comment.territory):
        abort(403)
    back = safe_next(request.form.get("next"), url_for("core.policy", code=comment.policy.code,
                                                       territoire=comment.territory.key))
    body = request.form.get("body", "").strip()
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        abort(400)
    if not body or len(body) > MAX_BODY:
        return render_template("dialogue/comment_page.html", policy=comment.policy,
                               territory=comment.territory, parent=None, editing=comment,
                               errors={"body": _("Le commentaire est vide.") if not body else
                                       _("Le commentaire dépasse %(n)s caractères.", n=MAX_BODY)},
                               data=request.form, back=back), 422
    if version != comment.version:
        return render_template("dialogue/comment_conflict.html", comment=comment, mine=body,
                               back=back), 409
    with actor():
        comment.body = body
        session.commit()
    flash(_("Commentaire modifié."), "success")
    return redirect(back)


@bp.route("/utilisateurs/<code>")
@public  # the object check below decides
def mention_users(code: str):
    """JSON for mention autocompletion: users the current user may mention on this policy in
    ``?territoire=`` (name and e-mail), filtered by ``?q=``."""
    from core.views.pages import selected_territory

    policy = db_session().scalar(select(Policy).where(Policy.code == code))
    if policy is None:
        abort(404)
    if not current_user.is_authenticated:
        abort(401)
    territory = selected_territory()
    if not may("comment.write", policy, territory):
        abort(403)
    q = request.args.get("q", "").strip().lower()[:100]
    users = [u for u in mentionable(policy, territory) if q in u.name.lower() or q in u.email.lower()]
    return {"users": [{"id": u.id, "name": u.name, "email": u.email} for u in users[:20]]}


PERIODS = {"30": 30, "90": 90, "365": 365}


@bp.route("/politiques/<code>")
@public  # the object check below decides (the policy's referents)
def policy_comments(code: str):
    """Every recent local comment of a policy across territories, for its referents; filters:
    comment type, territory level, period (days)."""
    from core.engine.recompute import reference_date

    session = db_session()
    policy = session.scalar(select(Policy).where(Policy.code == code))
    if policy is None:
        abort(404)
    if not current_user.is_authenticated:
        abort(401)
    if not can("value.review", policy):
        abort(403)
    levels = current_app.extensions["pilote"].config.level_keys
    kind = request.args.get("type", "")
    level = request.args.get("niveau", "")
    period = request.args.get("periode", "90")
    query = (select(Comment).join(Territory, Territory.id == Comment.territory_id)
             .where(Comment.policy_id == policy.id, Comment.parent_id.is_(None))
             .options(selectinload(Comment.replies).selectinload(Comment.author),
                      selectinload(Comment.author), selectinload(Comment.territory))
             .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(300))
    if kind in {t["key"] for t in comment_types()}:
        query = query.where(Comment.type == kind)
    if level in levels:
        query = query.where(Territory.level == level)
    else:
        level = ""
    if period in PERIODS:
        since = dt.datetime.combine(reference_date(None) - dt.timedelta(days=PERIODS[period]),
                                    dt.time(), tzinfo=dt.timezone.utc)
        query = query.where(Comment.created_at >= since)
    else:
        period = ""
    comments = session.scalars(query).all()
    return render_template(
        "dialogue/policy_comments.html", policy=policy, comments=comments,
        types=[(t["key"], label(t.get("label"))) for t in comment_types()],
        levels=current_app.extensions["pilote"].config.levels, type_label=type_label,
        render=render_body, filters={"type": kind, "niveau": level, "periode": period})
