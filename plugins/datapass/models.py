"""Tables of the datapass plugin: access requests and their messages, the grants they give,
and every webhook delivery received from DataPass."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from sqlalchemy import JSON, Boolean, Column, Date, Enum, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.api import Model, Role, UTCDateTime, utcnow

INFO = {"plugin": "datapass"}


def _enum(kind):
    return Enum(kind, native_enum=False, length=40, values_callable=lambda e: [m.value for m in e])


def new_code() -> str:
    """A short public identifier, used in URLs."""
    return secrets.token_hex(6)


class RequestState(enum.StrEnum):
    """DataPass's lifecycle, reduced to what an in-app request goes through."""

    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    VALIDATED = "validated"
    REFUSED = "refused"
    REVOKED = "revoked"
    CANCELLED = "cancelled"


OPEN_STATES = {RequestState.SUBMITTED, RequestState.CHANGES_REQUESTED}

request_territory = Table(
    "datapass_request_territory", Model.metadata,
    Column("request_id", ForeignKey("datapass_access_request.id", ondelete="CASCADE"), primary_key=True),
    Column("territory_id", ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True),
    info=INFO,
)
request_policy = Table(
    "datapass_request_policy", Model.metadata,
    Column("request_id", ForeignKey("datapass_access_request.id", ondelete="CASCADE"), primary_key=True),
    Column("policy_id", ForeignKey("policy.id", ondelete="CASCADE"), primary_key=True),
    info=INFO,
)
grant_territory = Table(
    "datapass_grant_territory", Model.metadata,
    Column("grant_id", ForeignKey("datapass_grant.id", ondelete="CASCADE"), primary_key=True),
    Column("territory_id", ForeignKey("territory.id", ondelete="CASCADE"), primary_key=True),
    info=INFO,
)
grant_policy = Table(
    "datapass_grant_policy", Model.metadata,
    Column("grant_id", ForeignKey("datapass_grant.id", ondelete="CASCADE"), primary_key=True),
    Column("policy_id", ForeignKey("policy.id", ondelete="CASCADE"), primary_key=True),
    info=INFO,
)


class AccessRequest(Model):
    """A user asks for ``role`` on territories (subtrees) and policies, with a justification."""

    __tablename__ = "datapass_access_request"
    __table_args__ = (Index("ix_datapass_access_request_state", "state"), {"info": INFO})

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True, default=new_code)
    requester_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"))
    justification: Mapped[str] = mapped_column(Text)
    until: Mapped[dt.date] = mapped_column(Date)
    state: Mapped[RequestState] = mapped_column(_enum(RequestState), default=RequestState.SUBMITTED)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    __mapper_args__ = {"version_id_col": version}

    requester = relationship("User", foreign_keys=[requester_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])
    organisation = relationship("Organisation")
    territories = relationship("Territory", secondary=request_territory, order_by="Territory.code")
    policies = relationship("Policy", secondary=request_policy, order_by="Policy.code")
    messages: Mapped[list[Message]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="Message.id")
    grants: Mapped[list[DatapassGrant]] = relationship(back_populates="request")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def active_grant(self) -> DatapassGrant | None:
        return next((g for g in self.grants if g.is_active()), None)


class Message(Model):
    """One message of a request's thread; ``kind`` says which step it went with."""

    __tablename__ = "datapass_message"
    __table_args__ = {"info": INFO}

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("datapass_access_request.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30), default="message")
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    request: Mapped[AccessRequest] = relationship(back_populates="messages")
    author = relationship("User")


class DatapassGrant(Model):
    """A grant given through DataPass (an approved in-app request or an ``approve`` webhook).

    Served to the core by the ``user_grants`` hook, one :class:`GrantSpec` per territory, while
    it is neither revoked nor expired.
    """

    __tablename__ = "datapass_grant"
    __table_args__ = (Index("ix_datapass_grant_habilitation", "habilitation_id"), {"info": INFO})

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[str] = mapped_column(String(40), unique=True,
                                          default=lambda: "pilote-" + secrets.token_hex(8))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="SET NULL"))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    origin: Mapped[str] = mapped_column(String(20))  # "request" or "webhook"
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("datapass_access_request.id", ondelete="SET NULL"))
    habilitation_id: Mapped[str | None] = mapped_column(String(80))  # DataPass's request id
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str] = mapped_column(String(200), default="")

    user = relationship("User", foreign_keys=[user_id])
    organisation = relationship("Organisation")
    territories = relationship("Territory", secondary=grant_territory, order_by="Territory.code")
    policies = relationship("Policy", secondary=grant_policy, order_by="Policy.code")
    request: Mapped[AccessRequest | None] = relationship(back_populates="grants")

    def is_active(self, when: dt.datetime | None = None) -> bool:
        when = when or utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > when)


class Delivery(Model):
    """One POST received on the webhook, accepted or not (rejected ones keep no payload)."""

    __tablename__ = "datapass_delivery"
    __table_args__ = {"info": INFO}

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Set only on the delivery that was processed: a redelivery finds it and answers the same.
    event_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    event: Mapped[str] = mapped_column(String(60), default="")
    model_type: Mapped[str] = mapped_column(String(120), default="")
    habilitation_id: Mapped[str] = mapped_column(String(80), default="")
    fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    environment: Mapped[str] = mapped_column(String(40), default="")
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    signature_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON, default=dict)
    payload: Mapped[dict | None] = mapped_column(JSON)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("datapass_grant.id", ondelete="SET NULL"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("datapass_delivery.id", ondelete="SET NULL"))

    grant = relationship("DatapassGrant")
