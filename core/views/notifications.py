"""In-app notifications (list, unread count in the header) and their e-mail copies."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select, update

from core.audit import acting_as
from core.db import session as db_session, utcnow
from core.models import Notification, User

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
log = logging.getLogger(__name__)


def notify(session, user_ids, *, kind: str, text: str, url: str, actor_id: int | None,
           comment_id: int | None = None, proposal_id: int | None = None) -> list[int]:
    """Add one notification per user (the actor excluded); returns who is notified.
    The caller commits, then calls :func:`mail_notified` for the e-mail copies."""
    targets = sorted({uid for uid in user_ids if uid is not None and uid != actor_id})
    for uid in targets:
        session.add(Notification(user_id=uid, kind=kind, text=text[:500], url=url[:500],
                                 actor_id=actor_id, comment_id=comment_id, proposal_id=proposal_id))
    return targets


def mail_notified(user_ids, *, subject: str, text: str, url: str, key: str) -> int:
    """E-mail each user once per ``key`` (``send_mail`` dedupes); returns how many were queued.
    Call after the notifications are committed (``send_mail`` commits the session)."""
    from core.mail import send_mail

    session = db_session()
    link = request.url_root.rstrip("/") + url if request else url
    sent = 0
    from core.preferences import wants

    for user in session.scalars(select(User).where(User.id.in_(list(user_ids)), User.is_active.is_(True))):
        if not wants(user, "notification"):  # « Mon compte › Préférences de courriel »
            continue
        try:
            unsubscribe = _unsubscribe_link(user.id, "notification")
            body = "{}\n\n{}\n\n{}\n".format(
                text, link, _("Ne plus recevoir ces courriels : %(url)s", url=unsubscribe))
            sent += bool(send_mail([user.email], subject, body, dedupe_key=f"{key}:{user.id}",
                                   unsubscribe=unsubscribe))
        except Exception:  # noqa: BLE001 - a mail failure never undoes the committed write
            log.exception("notification e-mail to user %s failed", user.id)
    return sent


def _unsubscribe_link(user_id: int, kind: str) -> str:
    """The absolute one-click unsubscribe link of ``kind`` (also from a job, without request)."""
    from flask import current_app, has_request_context

    from core.preferences import site_root, unsubscribe_url

    root = site_root()
    if has_request_context():
        return unsubscribe_url(user_id, kind, root)
    with current_app.test_request_context("/"):
        return unsubscribe_url(user_id, kind, root)


@bp.app_template_global()
def unread_notifications() -> int:
    """The current user's unread count (0 for anonymous visitors)."""
    if not getattr(current_user, "is_authenticated", False):
        return 0
    return db_session().scalar(select(func.count(Notification.id)).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None))) or 0


@bp.route("/")
@login_required
def index():
    """The current user's notifications, newest first."""
    rows = db_session().scalars(
        select(Notification).where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(200)).all()
    return render_template("notifications/index.html", notifications=rows)


index.pilote_permission = "authenticated"


@bp.route("/lues", methods=["POST"])
@login_required
def mark_all_read():
    session = db_session()
    with acting_as(current_user.id, current_user.email, "form"):
        session.execute(update(Notification).where(
            Notification.user_id == current_user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow()))
        session.commit()
    flash(_("Toutes les notifications sont marquées comme lues."), "success")
    return redirect(url_for("notifications.index"))


mark_all_read.pilote_permission = "authenticated"


@bp.route("/<int:notification_id>/ouvrir", methods=["POST"])
@login_required
def open_one(notification_id: int):
    """Mark one notification read and go to what it is about."""
    session = db_session()
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != current_user.id:
        abort(404)
    if note.read_at is None:
        with acting_as(current_user.id, current_user.email, "form"):
            note.read_at = utcnow()
            session.commit()
    target = note.url if note.url.startswith("/") and not note.url.startswith("//") else url_for("notifications.index")
    return redirect(target)


open_one.pilote_permission = "authenticated"
