"""Helpers shared by test modules (``tests/`` is not a package: tests import them from here).

- ``seeded_app``: a DITP app on a fresh copy of the seeded demo database. The demo is seeded once
  per test session into a template database, copied per app (a file copy on SQLite,
  ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), so each test module writes to its own copy.
- ``redis_url``: the test Redis database, or skip when Redis does not answer.
- ``Inbox``/``free_port``/``start_smtp_server``: a real local SMTP server (aiosmtpd).
- ``make_gaps``: remove entered values so the demo has something owed.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import uuid

import pytest
from sqlalchemy import select

from core.testing.pytest_plugin import DEMO_TODAY, seed_demo

_TEMPLATE: dict[str, str] = {}


def seeded_app(database_factory, **settings):
    """A DITP app on a fresh copy of the seeded demo database (seeded once per test session)."""
    from core.app import create_app

    config = {"SECRET_KEY": uuid.uuid4().hex, "TESTING": True, "WTF_CSRF_ENABLED": False,
              "PILOTE_TODAY": DEMO_TODAY.isoformat(), **settings}
    if "url" not in _TEMPLATE:
        url = database_factory.new()
        app = create_app("ditp", settings={**config, "DATABASE_URL": url})
        with app.app_context():
            seed_demo(app)
        app.extensions["pilote"].db.dispose()
        _TEMPLATE["url"] = url
    return create_app("ditp", settings={**config, "DATABASE_URL": database_factory.clone(_TEMPLATE["url"])})


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def email(role: str) -> str:
    """The demo account of ``role`` (see core/seed)."""
    return f"{role}@demo.pilote.example"


def redis_url() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/15"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler keeping (from, to, content, auth data) of every message received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                              getattr(session, "auth_data", None)))
        return "250 OK"


def accept_pilote(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"pilote" and auth_data.password == b"smtp-pass"
    return AuthResult(success=ok, handled=False)


def start_smtp_server():
    """A started aiosmtpd controller accepting login pilote/smtp-pass, and its inbox."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=accept_pilote,
                            auth_require_tls=False, server_hostname="localhost")
    controller.start()
    return controller, inbox


def make_gaps(policy_code, department, months):
    """Delete the entered values of the policy's first monthly indicator in ``department`` for
    ``months`` (the demo is complete for the local contributor's policies); returns the indicator."""
    from core.db import session as db_session
    from core.models import Indicator, IndicatorValue, Policy, Territory, ValueKind

    session = db_session()
    indicator = session.scalar(select(Indicator).join(Policy, Policy.id == Indicator.policy_id)
                               .where(Policy.code == policy_code, Indicator.periodicity == "monthly")
                               .order_by(Indicator.id))
    place = session.scalar(select(Territory).where(Territory.level == "department", Territory.code == department))
    for month in months:
        end = (month + dt.timedelta(days=32)).replace(day=1)
        for value in session.scalars(select(IndicatorValue).where(
                IndicatorValue.indicator_id == indicator.id, IndicatorValue.territory_id == place.id,
                IndicatorValue.kind == ValueKind.ACTUAL, IndicatorValue.date >= month, IndicatorValue.date < end)):
            session.delete(value)
    session.commit()
    return indicator


def client_as(app, role: str | None = None):
    """A test client of ``app``, signed in as the demo account of ``role`` (anonymous for None)."""
    from core.testing.pytest_plugin import login

    client = app.test_client()
    if role:
        assert login(client, email(role)).status_code == 302
    return client


def query(app, statement) -> list:
    """Rows of ``statement`` run in an application context of ``app``."""
    from core.db import session

    with app.app_context():
        return session().execute(statement).all()
