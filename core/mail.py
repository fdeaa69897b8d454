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
from email import policy as email_policy
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
# Headers stored verbatim (``set_raw``) are written as they are: a List-Unsubscribe URL longer
# than 78 characters would otherwise be refolded into RFC 2047 encoded words, which mail
# providers do not decode. Headers set with ``email[name] = value`` are folded as before.
_POLICY = email_policy.default.clone(refold_source="none")


def send_mail(to: list[str], subject: str, text: str, html: str | None = None, *,
              dedupe_key: str | None = None, unsubscribe: str | None = None) -> bool:
    """Queue a message to ``to``; False (and nothing sent) when ``dedupe_key`` was used before.

    ``unsubscribe``: the absolute one-click unsubscribe link of a mail about a preference kind
    (:func:`core.preferences.unsubscribe_url`); it becomes the ``List-Unsubscribe`` and
    ``List-Unsubscribe-Post`` headers (RFC 2369, RFC 8058). Leave it out for transactional mail.

    The message is stored and the current database session is committed (call it after your
    own writes are committed), then its delivery is queued. Delivery failures never raise
    here: they are logged and shown on the administrators' mail page.
    """
    from core.jobs import enqueue

    recipients = [address.strip() for address in to if address and address.strip()]
    if not recipients:
        raise ValueError("send_mail needs at least one recipient")
    if unsubscribe is not None and not _header_safe_url(unsubscribe):
        raise ValueError("the unsubscribe link must be an absolute http(s) URL (ASCII, no spaces)")
    session = db_session()
    if dedupe_key is not None and session.scalar(
            select(MailMessage.id).where(MailMessage.dedupe_key == dedupe_key)) is not None:
        return False
    message = MailMessage(recipients=recipients, subject=subject[:300], text=text, html=html,
                          dedupe_key=dedupe_key, unsubscribe_url=unsubscribe,
                          status=MailStatus.QUEUED)
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


def _header_safe_url(url: str) -> bool:
    """An absolute http(s) URL that can go verbatim into a header (ASCII, no spaces, no <>)."""
    return (url.startswith(("https://", "http://")) and len(url) <= 900 and url.isascii()
            and url.isprintable() and not any(c in url for c in " <>"))


def smtp_settings() -> dict | None:
    """The ``[mail]`` table when an SMTP host is configured, else None (capture)."""
    settings = current_app.extensions["pilote"].config.data["mail"]
    return settings if settings.get("host") else None


def build_message(message: MailMessage, sender: str) -> EmailMessage:
    email = EmailMessage(policy=_POLICY)
    email["From"] = sender
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    if message.unsubscribe_url:
        # RFC 2369 link, and RFC 8058: providers POST "List-Unsubscribe=One-Click" to that URL
        email.set_raw("List-Unsubscribe", f"<{message.unsubscribe_url}>")
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
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
