"""Freshness: when each indicator's next value is expected in each territory, and whether it
is late (PILOTE 2 ``get_date_pro_maj_indic.sql``, reference §2.8).

* ``last_value_date``: the latest actual value used in the territory (entered or aggregated),
  as stored in :class:`core.models.IndicatorFigure` (the 1st of its month);
* ``next_update_due``: ``last_value_date`` + periodicity (months) + availability delay
  (months), at the **end of that month** (:func:`core.engine.recompute.next_update_due`,
  recomputed here from the indicator's current periodicity and delay, so that a change of
  either shows at once);
* ``up_to_date``: ``next_update_due > today`` (on the due day itself the value is already
  late, as in PILOTE); None when no date can be computed (no actual value yet, or a periodicity
  of ``other``);
* ``days_late`` = ``today − next_update_due`` in days: **positive when late**, 0 on the due
  day (late), negative while on time (−n: n days remain). PILOTE's
  ``prochaine_date_maj_jours`` is the opposite sign; it is :attr:`Freshness.days_remaining`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.engine.recompute import next_update_due, reference_date
from core.models import Indicator, IndicatorFigure


@dataclass(frozen=True)
class Freshness:
    indicator_id: int
    territory_id: int
    last_value_date: dt.date | None
    next_update_due: dt.date | None
    up_to_date: bool | None
    days_late: int | None

    @property
    def days_remaining(self) -> int | None:
        """PILOTE's ``prochaine_date_maj_jours``: days left, negative when late."""
        return None if self.days_late is None else -self.days_late


def assess(last_value_date: dt.date | None, due: dt.date | None, today: dt.date,
           indicator_id: int = 0, territory_id: int = 0) -> Freshness:
    """The :class:`Freshness` of one pair from its dates."""
    if due is None:
        return Freshness(indicator_id, territory_id, last_value_date, None, None, None)
    return Freshness(indicator_id, territory_id, last_value_date, due, due > today,
                     (today - due).days)


def freshness(
    session: Session,
    indicator_ids: Iterable[int] | None = None,
    territory_ids: Iterable[int] | None = None,
    today: dt.date | None = None,
) -> list[Freshness]:
    """Freshness of every (indicator, territory) with a stored figure, in one query.

    ``indicator_ids`` / ``territory_ids`` restrict the selection (None: all). ``today``
    defaults to the app's reference date (``PILOTE_TODAY``) or the real date. Ordered by
    indicator then territory.
    """
    today = reference_date(today)
    query = (
        select(IndicatorFigure.indicator_id, IndicatorFigure.territory_id,
               IndicatorFigure.actual_date, Indicator.periodicity,
               Indicator.availability_delay_months)
        .join(Indicator, Indicator.id == IndicatorFigure.indicator_id)
        .order_by(IndicatorFigure.indicator_id, IndicatorFigure.territory_id)
    )
    if indicator_ids is not None:
        query = query.where(IndicatorFigure.indicator_id.in_(sorted(set(indicator_ids))))
    if territory_ids is not None:
        query = query.where(IndicatorFigure.territory_id.in_(sorted(set(territory_ids))))
    out = []
    for iid, tid, last, periodicity, delay in session.execute(query):
        due = next_update_due(
            SimpleNamespace(periodicity=periodicity, availability_delay_months=delay), last)
        out.append(assess(last, due, today, iid, tid))
    return out


def late(items: Iterable[Freshness]) -> list[Freshness]:
    """The items that are not up to date (their next update is due or overdue)."""
    return [f for f in items if f.up_to_date is False]


__all__ = ["Freshness", "assess", "freshness", "late"]
