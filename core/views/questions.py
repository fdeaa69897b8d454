"""« Poser une question » : a signed-in user asks the referents of a policy a question, about a
territory or the whole policy. The question is a comment thread of type ``question`` on that
policy × territory (the instance must declare the type in ``[[comment_types]]``); the policy's
referents are notified in-app and by e-mail, answer in the thread (here, or in the dialogue of
the policy page), and every reply notifies the asker (the dialogue's participants rule).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import session as db_session
from core.events import emit
from core.models import Comment, Grant, Policy, PolicyStatus, Role, Territory
from core.permissions import can, requires, scope
from core.views.dialogue import MAX_BODY, comment_types, notify_comment, policy_referents, render_body
from core.views.entry import actor, may
from core.views.notifications import mail_notified, notify

bp = Blueprint("questions", __name__, url_prefix="/questions")
TYPE = "question"


def signed_in() -> None:
    if not getattr(current_user, "is_authenticated", False):
        abort(401)


def territory_of(key: str) -> Territory | None:
    level, _, code = (key or "").partition("-")
    if not (level and code):
        return None
    return db_session().scalar(select(Territory).where(Territory.level == level, Territory.code == code,
                                                       Territory.valid_to.is_(None)))


def top_territory() -> Territory | None:
    from core.views.pages import selected_territory

    return selected_territory()


def recipients(policy: Policy) -> set[int]:
    """The policy's referents; without any, central steering (so that no question is lost)."""
    ids = policy_referents(policy)
    if not ids:
        ids = set(db_session().scalars(select(Grant.user_id).where(Grant.role == Role.CENTRAL_STEERING)))
    return ids


def askable_policies() -> list[Policy]:
    return db_session().scalars(select(Policy).where(scope("policy.read", Policy),
                                                     Policy.status == PolicyStatus.PUBLISHED)
                                .order_by(Policy.code)).all()


def thread_url(comment: Comment) -> str:
    return url_for("questions.show", comment_id=comment.id)


@bp.route("/nouvelle", methods=["GET", "POST"])
@requires("question.ask")
def ask():
    """The question form (``?politique=CODE&territoire=<level>-<code>`` preselect), then the thread."""
    from core.views.pages import territory_choices

    session = db_session()
    source = request.form if request.method == "POST" else request.args
    code = source.get("politique", "")
    policy = session.scalar(select(Policy).where(Policy.code == code)) if code else None
    if code and policy is None:
        abort(404)
    if policy is not None and not can("question.ask", policy):
        abort(403)
    territory = territory_of(source.get("territoire", "")) if source.get("territoire") else top_territory()
    if territory is None:
        abort(404)
    if not can("territory.read", territory):
        abort(403)
    body = source.get("body", "").strip() if request.method == "POST" else ""
    errors = {}
    if request.method == "POST":
        if policy is None:
            errors["politique"] = _("Choisissez la politique concernée.")
        if not body:
            errors["body"] = _("La question est vide.")
        elif len(body) > MAX_BODY:
            errors["body"] = _("La question dépasse %(n)s caractères.", n=MAX_BODY)
        if TYPE not in {t["key"] for t in comment_types()}:
            errors["type"] = _("Cette instance ne déclare pas le type de commentaire « question ».")
        if not errors:
            with actor():
                comment = Comment(policy_id=policy.id, territory_id=territory.id, type=TYPE, body=body,
                                  author_id=current_user.id)
                session.add(comment)
                session.flush()
                url = thread_url(comment)
                text = _("%(author)s pose une question sur « %(policy)s » (%(territory)s).",
                         author=current_user.name, policy=policy.name, territory=territory.name)
                notified = notify(session, recipients(policy), kind="question", text=text, url=url,
                                  actor_id=current_user.id, comment_id=comment.id)
                emit(session, "comment_added", comment_id=comment.id, policy_id=policy.id,
                     territory_id=territory.id, parent_id=None)
                session.commit()
            mail_notified(notified, subject=text, text=f"{text}\n\n« {body[:1000]} »", url=url,
                          key=f"question-{comment.id}")
            flash(_("Question envoyée aux référents de la politique. Vous serez prévenu de leur réponse."),
                  "success")
            return redirect(url)
    return render_template("help/question_new.html", policy=policy, territory=territory, body=body,
                           errors=errors, territories=territory_choices(),
                           policy_options=[(p.code, f"{p.code} – {p.name}") for p in askable_policies()]), \
        422 if errors else 200


def may_answer(comment: Comment) -> bool:
    """The asker (to follow up), the policy's referents, and local writers in scope."""
    return (comment.author_id == current_user.id or current_user.id in recipients(comment.policy)
            or may("comment.write", comment.policy, comment.territory))


def load_question(comment_id: int) -> Comment:
    comment = db_session().scalar(
        select(Comment).where(Comment.id == comment_id)
        .options(selectinload(Comment.replies).selectinload(Comment.author), selectinload(Comment.author)))
    if comment is None or comment.type != TYPE or comment.parent_id is not None:
        abort(404)
    if comment.author_id != current_user.id and not can("policy.read", comment.policy):
        abort(403)
    return comment


@bp.route("/<int:comment_id>")
def show(comment_id: int):
    """The question and its answers, with the reply form for who may answer."""
    signed_in()
    comment = load_question(comment_id)
    return render_template("help/question.html", question=comment, render=render_body,
                           may_answer=may_answer(comment), errors={}, body="")


show.pilote_permission = "authenticated"  # object check: the asker or readers of the policy


@bp.route("/<int:comment_id>/repondre", methods=["POST"])
def answer(comment_id: int):
    """A reply in the thread; notifies the asker and the other participants, and the referents."""
    signed_in()
    session = db_session()
    comment = load_question(comment_id)
    if not may_answer(comment):
        abort(403)
    body = request.form.get("body", "").strip()
    error = (_("La réponse est vide.") if not body else
             _("La réponse dépasse %(n)s caractères.", n=MAX_BODY) if len(body) > MAX_BODY else None)
    if error:
        return render_template("help/question.html", question=comment, render=render_body,
                               may_answer=True, errors={"body": error}, body=body), 422
    url = thread_url(comment)
    with actor():
        reply = Comment(policy_id=comment.policy_id, territory_id=comment.territory_id, type=TYPE,
                        body=body, parent_id=comment.id, author_id=current_user.id)
        session.add(reply)
        session.flush()
        mails = notify_comment(session, reply, comment, comment.policy, comment.territory, [], url)
        emit(session, "comment_added", comment_id=reply.id, policy_id=comment.policy_id,
             territory_id=comment.territory_id, parent_id=comment.id)
        session.commit()
    for user_ids, subject, text in mails:
        mail_notified(user_ids, subject=subject, text=text, url=url, key=f"comment-{reply.id}")
    flash(_("Réponse publiée."), "success")
    return redirect(url + f"#commentaire-{reply.id}")


answer.pilote_permission = "authenticated"  # object check: the asker, the referents, local writers


@bp.route("/")
def mine():
    """Questions I asked, and those addressed to me as a referent of their policy."""
    signed_in()
    session = db_session()
    asked = session.scalars(select(Comment).where(Comment.type == TYPE, Comment.parent_id.is_(None),
                                                  Comment.author_id == current_user.id)
                            .options(selectinload(Comment.replies), selectinload(Comment.policy),
                                     selectinload(Comment.territory))
                            .order_by(Comment.created_at.desc()).limit(200)).all()
    referents: dict[int, set[int]] = {}
    received = [c for c in session.scalars(
        select(Comment).where(Comment.type == TYPE, Comment.parent_id.is_(None),
                              Comment.author_id != current_user.id)
        .options(selectinload(Comment.replies), selectinload(Comment.policy), selectinload(Comment.territory),
                 selectinload(Comment.author))
        .order_by(Comment.created_at.desc()).limit(500))
        if current_user.id in referents.setdefault(c.policy_id, recipients(c.policy))]
    return render_template("help/questions.html", asked=asked, received=received[:200])


mine.pilote_permission = "authenticated"
