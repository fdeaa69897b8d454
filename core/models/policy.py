"""Policies (priority policies, structuring projects…), their groups, ministries and contacts."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model, UTCDateTime, utcnow


class PolicyStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Organisation(Model):
    """A ministry or any body that leads policies; its policies form its perimeter."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    acronym: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(300))


class PolicyGroup(Model):
    """A grouping of policies (commitment, axis, theme)."""

    __tablename__ = "policy_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)

    policies: Mapped[list[Policy]] = relationship(back_populates="group", order_by="Policy.code")


class Policy(Model):
    """A policy followed by indicators. ``kind`` is one of the instance's policy kinds.

    A structuring project (kind ``structuring_project``) belongs to one ``territory``.
    """

    __tablename__ = "policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    short_name: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(40), default="priority_policy", index=True)
    status: Mapped[PolicyStatus] = mapped_column(
        Enum(PolicyStatus, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]),
        default=PolicyStatus.DRAFT,
    )
    group_id: Mapped[int | None] = mapped_column(ForeignKey("policy_group.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    is_territorialised: Mapped[bool] = mapped_column(Boolean, default=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    targets_expected: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    group: Mapped[PolicyGroup | None] = relationship(back_populates="policies")
    organisation: Mapped[Organisation | None] = relationship()
    territory = relationship("Territory")
    indicators = relationship("Indicator", back_populates="policy", order_by="Indicator.position")
    contacts: Mapped[list[PolicyContact]] = relationship(back_populates="policy")

    __mapper_args__ = {"version_id_col": version}


class PolicyContact(Model):
    """A named person accountable for a policy, nationally or in one territory."""

    __tablename__ = "policy_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policy.id", ondelete="CASCADE"), index=True)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(String(40))  # owner (directeur de projet), contact, data
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))

    policy: Mapped[Policy] = relationship(back_populates="contacts")
    territory = relationship("Territory")
