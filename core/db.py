"""Database plumbing: the declarative base, shared types and the per-app session."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from flask import Flask, current_app
from sqlalchemy import MetaData, String, create_engine, event, types
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Model(DeclarativeBase):
    """Base class of every table, core and plugins alike (one shared metadata).

    A plugin tags its tables with ``__table_args__ = {"info": {"plugin": "<name>"}}`` so that
    Alembic autogenerate only proposes changes in the branch that owns them.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ExactDecimal(types.TypeDecorator):
    """A decimal stored exactly: NUMERIC on PostgreSQL, canonical text on SQLite.

    SQLite has no decimal type (it would round-trip through binary floats), so the value is
    stored as its canonical string there; Python always sees :class:`decimal.Decimal`.
    """

    impl = types.Numeric(28, 8)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(types.Numeric(28, 8, asdecimal=True))

    def process_bind_param(self, value: Any, dialect):
        if value is None:
            return None
        if not isinstance(value, decimal.Decimal):
            value = decimal.Decimal(str(value))
        if dialect.name == "sqlite":
            return format(value.normalize(), "f")
        return value

    def process_result_value(self, value: Any, dialect):
        if value is None:
            return None
        return value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))


def utcnow() -> dt.datetime:
    """Timezone-aware now, the only clock the models use."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(types.TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on every backend."""

    impl = types.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the settings Pilote relies on."""
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """The engine and a session scoped to the Flask application context."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session = scoped_session(self.session_factory, scopefunc=_context_id)

    def init_app(self, app: Flask) -> None:
        app.teardown_appcontext(self._remove_session)

    def _remove_session(self, _exc=None) -> None:
        self.session.remove()

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


def _context_id() -> int:
    from flask import globals as flask_globals

    try:
        return id(flask_globals.app_ctx._get_current_object())
    except RuntimeError:  # outside any app context (scripts): one session per thread
        import threading

        return threading.get_ident()


def get_db(app: Flask | None = None) -> Database:
    """The :class:`Database` of ``app`` (default: the current app)."""
    return (app or current_app).extensions["pilote"].db


def session() -> Session:
    """The SQLAlchemy session of the current application context."""
    return get_db().session()
