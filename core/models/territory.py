"""Territories: nodes of one or several hierarchical grids, with validity dates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Model


class Territory(Model):
    """One node of a grid (nation, region, department, commune, contract perimeter…).

    ``code`` is the official code within its level (INSEE COG for the administrative grid:
    ``84`` for a region, ``2A`` or ``971`` for a department). ``valid_from``/``valid_to`` let a
    commune merged on 1 January keep its history: the old row is closed, a new row opens.
    """

    __tablename__ = "territory"
    __table_args__ = (
        UniqueConstraint("grid", "level", "code", "valid_from"),
        Index("ix_territory_parent", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    grid: Mapped[str] = mapped_column(String(40), default="admin")
    level: Mapped[str] = mapped_column(String(40), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"))
    population: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date, default=dt.date(1900, 1, 1))
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    parent: Mapped[Territory | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Territory]] = relationship(back_populates="parent")

    @property
    def key(self) -> str:
        """A stable, URL-safe identifier: ``<level>-<code>`` (``department-2A``)."""
        return f"{self.level}-{self.code}"

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    def __repr__(self) -> str:
        return f"<Territory {self.grid}:{self.key} {self.name!r}>"
