"""The ``datapass.notify`` job: e-mails the requester, or the instructors, after each step."""

from __future__ import annotations

import logging

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from core.api import Grant, Role, User, db_session, instance_config, send_mail
from plugins.datapass.forms import ROLE_LABELS
from plugins.datapass.models import AccessRequest, DatapassGrant, Message
from plugins.datapass.perimeter import INSTRUCTOR_ROLES, may_instruct

log = logging.getLogger("pilote.datapass")
TO_INSTRUCTORS = {"submitted", "message_from_requester", "cancel"}


def notify(kind: str, request_id: int | None = None, message_id: int | None = None,
           grant_id: int | None = None, link: str = "") -> int:
    """Send the notices of one step; returns how many messages were queued."""
    session = db_session()
    if grant_id is not None:
        grant = session.get(DatapassGrant, grant_id)
        if grant is None:
            return 0
        return int(_send(grant.user, f"datapass:grant:{grant.id}:{kind}", _grant_text, grant, kind))
    req = session.get(AccessRequest, request_id)
    if req is None:
        return 0
    message = session.get(Message, message_id) if message_id else None
    key = f"datapass:request:{req.id}:{message.id if message else kind}"
    recipients = instructors(req) if kind in TO_INSTRUCTORS else [req.requester]
    sent = 0
    for user in recipients:
        sent += _send(user, f"{key}:{user.id}", _request_text, req, kind, message, link)
    return sent


def instructors(req: AccessRequest) -> list[User]:
    """Everyone whose grants cover the request (local grants and DataPass ones)."""
    session = db_session()
    ids = set(session.scalars(select(Grant.user_id).where(Grant.role.in_(list(INSTRUCTOR_ROLES)))).all())
    ids |= set(session.scalars(select(DatapassGrant.user_id).where(
        DatapassGrant.role.in_(list(INSTRUCTOR_ROLES)), DatapassGrant.revoked_at.is_(None))).all())
    users = session.scalars(select(User).where(User.id.in_(ids), User.is_active.is_(True))
                            .order_by(User.id)).all()
    return [u for u in users if may_instruct(u, req)]


def _send(user: User, dedupe_key: str, build, *args) -> bool:
    config = instance_config()
    locale = user.locale if user.locale in config.locales else config.default_locale
    with force_locale(locale):
        subject, text = build(*args)
    name = config.data["instance"]["name"]
    return send_mail([user.email], f"[{name}] {subject}", text, dedupe_key=dedupe_key)


def _request_text(req: AccessRequest, kind: str, message: Message | None, link: str) -> tuple[str, str]:
    subjects = {
        "submitted": _("Demande d'habilitation à instruire"),
        "message_from_requester": _("Nouveau message sur une demande d'habilitation"),
        "cancel": _("Demande d'habilitation annulée"),
        "approve": _("Votre demande d'habilitation est acceptée"),
        "refuse": _("Votre demande d'habilitation est refusée"),
        "request_changes": _("Votre demande d'habilitation est à compléter"),
        "revoke": _("Votre habilitation est révoquée"),
        "message": _("Nouveau message sur votre demande d'habilitation"),
    }
    lines = [
        _("Demandeur : %(name)s <%(email)s>", name=req.requester.name, email=req.requester.email),
        _("Profil : %(role)s", role=ROLE_LABELS[req.role]),
        _("Territoires : %(list)s", list=", ".join(t.name for t in req.territories) or _("tous")),
        _("Jusqu'au : %(day)s", day=req.until.isoformat()),
    ]
    if message is not None and message.body:
        lines += ["", message.body]
    if link:
        lines += ["", _("Voir la demande : %(link)s", link=link)]
    return subjects.get(kind, subjects["message"]), "\n".join(lines)


def _grant_text(grant: DatapassGrant, kind: str) -> tuple[str, str]:
    if kind == "revoke":
        return (_("Votre habilitation DataPass est révoquée"),
                _("L'habilitation %(token)s (%(role)s) reçue de DataPass est révoquée.",
                  token=grant.token_id, role=ROLE_LABELS[Role(grant.role)]))
    return (_("Votre habilitation DataPass est active"),
            _("L'habilitation %(token)s (%(role)s) reçue de DataPass est active jusqu'au %(day)s.",
              token=grant.token_id, role=ROLE_LABELS[Role(grant.role)],
              day=grant.expires_at.date().isoformat() if grant.expires_at else "–"))
