"""Outgoing e-mail: :func:`send_mail` stores the message and queues its delivery.

Delivery goes through the SMTP server of ``[mail]`` in ``instance.toml``; without ``host``
(the embedded default) the message is *captured*: kept in the database and shown to
administrators at ``/admin/courriels``. The job runs on RQ when Redis is configured, inline
otherwise (see :mod:`core.jobs`).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import session as db_session, utcnow
from core.models import MailMessage, MailStatus
from core.specs import JobSpec

log = logging.getLogger(__name__)
JOB = "core.deliver_mail"


def send_mail(to: list[str], subject: str, text: str, html: str | None = None, *,
              dedupe_key: str | None = None) -> bool:
    """Queue a message to ``to``; False (and nothing sent) when ``dedupe_key`` was used before.

    The message is stored and the current database session is committed (call it after your
    own writes are committed), then its delivery is queued. Delivery failures never raise
    here: they are logged and shown on the administrators' mail page.
    """
    from core.jobs import enqueue

    recipients = [address.strip() for address in to if address and address.strip()]
    if not recipients:
        raise ValueError("send_mail needs at least one recipient")
    session = db_session()
    if dedupe_key is not None and session.scalar(
            select(MailMessage.id).where(MailMessage.dedupe_key == dedupe_key)) is not None:
        return False
    message = MailMessage(recipients=recipients, subject=subject[:300], text=text, html=html,
                          dedupe_key=dedupe_key, status=MailStatus.QUEUED)
    session.add(message)
    try:
        session.commit()
    except IntegrityError:  # the same dedupe_key, sent concurrently
        session.rollback()
        return False
    result = enqueue(JOB, message_id=message.id)
    if result.inline:  # delivered by another session: let the caller's see the new status
        session.expire(message)
    return True


def smtp_settings() -> dict | None:
    """The ``[mail]`` table when an SMTP host is configured, else None (capture)."""
    settings = current_app.extensions["pilote"].config.data["mail"]
    return settings if settings.get("host") else None


def build_message(message: MailMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    email.set_content(message.text)
    if message.html:
        email.add_alternative(message.html, subtype="html")
    return email


def _smtp_send(settings: dict, email: EmailMessage) -> None:
    security, timeout = settings["security"], settings["timeout_seconds"]
    port = settings["port"] or {"ssl": 465, "starttls": 587}.get(security, 25)
    # EHLO with the sender's domain: smtplib would otherwise resolve this host's FQDN (slow DNS)
    helo = settings["sender"].rpartition("@")[2] or "localhost"
    if security == "ssl":
        client = smtplib.SMTP_SSL(settings["host"], port, timeout=timeout, local_hostname=helo,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings["host"], port, timeout=timeout, local_hostname=helo)
    with client:
        if security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.get("user"):
            client.login(settings["user"], settings.get("password") or "")
        client.send_message(email)


def deliver(message_id: int) -> str:
    """The job: send (or capture) one stored message; returns its new status."""
    session = db_session()
    message = session.get(MailMessage, message_id)
    if message is None or message.status in (MailStatus.SENT, MailStatus.CAPTURED):
        return message.status.value if message else "missing"
    settings = smtp_settings()
    if settings is None:
        message.status = MailStatus.CAPTURED
    else:
        try:
            _smtp_send(settings, build_message(message, settings["sender"]))
            message.status, message.error = MailStatus.SENT, None
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail %s to %s not sent: %s", message.id, message.recipients, exc)
            message.status, message.error = MailStatus.FAILED, str(exc)[:500]
    message.sent_at = utcnow()
    session.commit()
    return message.status.value


CORE_JOBS = [JobSpec(JOB, deliver, "Send (or capture) one stored e-mail", owner="core")]
