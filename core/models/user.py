"""Users and grants: a grant is role × territory subtree × policy set, with an optional expiry."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Column, Enum, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model, UTCDateTime, utcnow


class Role(enum.StrEnum):
    """Roles, from the widest to the narrowest."""

    ADMIN = "admin"
    CENTRAL_STEERING = "central_steering"
    MINISTRY_REFERENT = "ministry_referent"
    PREFECT = "prefect"
    TERRITORIAL_COORDINATOR = "territorial_coordinator"
    LOCAL_CONTRIBUTOR = "local_contributor"
    READER = "reader"


grant_policy = Table(
    "grant_policy",
    Model.metadata,
    Column("grant_id", ForeignKey("user_grant.id", ondelete="CASCADE"), primary_key=True),
    Column("policy_id", ForeignKey("policy.id", ondelete="CASCADE"), primary_key=True),
)


class User(Model):
    """A person (or a service account) who signs in to Pilote."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("external_provider", "external_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_service_account: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # the OpenID Connect provider key and ``sub`` of the last sign-in through a provider
    external_provider: Mapped[str | None] = mapped_column(String(40))
    external_subject: Mapped[str | None] = mapped_column(String(255))

    grants: Mapped[list[Grant]] = relationship(
        back_populates="user", foreign_keys="Grant.user_id", cascade="all, delete-orphan"
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def active_grants(self, when: dt.datetime | None = None) -> list[Grant]:
        when = when or utcnow()
        return [g for g in self.grants if g.expires_at is None or g.expires_at > when]

    @property
    def roles(self) -> set[Role]:
        return {g.role for g in self.active_grants()}


class Grant(Model):
    """What a user may do: ``role`` on a territory subtree (None = everywhere) and on a set of
    policies (an organisation's perimeter, explicit policies, or all when both are empty)."""

    __tablename__ = "user_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e])
    )
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    source: Mapped[str] = mapped_column(String(40), default="local")
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(back_populates="grants", foreign_keys=[user_id])
    territory = relationship("Territory")
    organisation = relationship("Organisation")
    policies = relationship("Policy", secondary=grant_policy)


class LoginFailure(Model):
    """A failed local sign-in, kept a short while to throttle guessing (per account and per IP,
    in the database so that every worker sees the same counts)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_email_at", "email", "at"), Index("ix_login_failure_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(45))


class PasswordReset(Model):
    """A single-use, expiring password-reset link; only the hash of its token is stored."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45), default="")
