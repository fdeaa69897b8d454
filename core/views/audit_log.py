"""Administrators' logs: the audit log (filtered, paginated) and the outgoing e-mail."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, render_template, request
from sqlalchemy import func, select

from core.db import session as db_session
from core.models import AuditEntry, MailMessage
from core.permissions import requires

bp = Blueprint("admin_log", __name__, url_prefix="/admin")
PER_PAGE = 50
FILTERS = ("actor", "action", "entity", "entity_id", "channel", "ip", "start", "end")


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.route("/journal")
@requires("instance.admin")
def audit_log():
    args = {k: request.args.get(k, "").strip()[:100] for k in FILTERS}
    errors = {}
    query = select(AuditEntry)
    if args["actor"]:
        query = query.where(func.lower(AuditEntry.actor_label).contains(args["actor"].lower(), autoescape=True))
    if args["action"]:
        query = query.where(AuditEntry.action == args["action"])
    if args["entity"]:
        query = query.where(AuditEntry.entity == args["entity"])
    if args["entity_id"]:
        query = query.where(AuditEntry.entity_id == args["entity_id"])
    if args["channel"]:
        query = query.where(AuditEntry.channel == args["channel"])
    if args["ip"]:
        query = query.where(AuditEntry.ip == args["ip"])
    for key, op in (("start", "ge"), ("end", "lt")):
        day = _day(args[key])
        if args[key] and day is None:
            errors[key] = True
        elif day is not None:
            bound = dt.datetime.combine(day + dt.timedelta(days=1 if key == "end" else 0), dt.time(),
                                        tzinfo=dt.timezone.utc)
            query = query.where(AuditEntry.at >= bound if op == "ge" else AuditEntry.at < bound)
    session = db_session()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    entries = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                              .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    choices = {column: session.scalars(select(getattr(AuditEntry, column)).distinct()
                                       .order_by(getattr(AuditEntry, column))).all()
               for column in ("action", "entity", "channel")}
    query_args = {k: v for k, v in args.items() if v}
    return render_template("admin/audit.html", entries=entries, args=args, errors=errors, total=total,
                           page=page, pages=pages, choices=choices, query_args=query_args), \
        400 if errors else 200


@bp.route("/courriels")
@requires("instance.admin")
def mail_outbox():
    session = db_session()
    total = session.scalar(select(func.count()).select_from(MailMessage)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    messages = session.scalars(select(MailMessage).order_by(MailMessage.id.desc())
                               .offset((page - 1) * PER_PAGE).limit(PER_PAGE)).all()
    return render_template("admin/mail.html", messages=messages, page=page, pages=pages, total=total)


@bp.route("/courriels/<int:message_id>")
@requires("instance.admin")
def mail_message(message_id: int):
    message = db_session().get(MailMessage, message_id)
    if message is None:
        abort(404)
    return render_template("admin/mail_message.html", message=message)
