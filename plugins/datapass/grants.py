"""DataPass grants: served to the core through ``user_grants``, created on approval, revoked at once."""

from __future__ import annotations

import datetime as dt

from flask import g, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.api import GrantSpec, db_session, utcnow
from plugins.datapass.models import DatapassGrant

SOURCE = "datapass"


def end_of_day(day: dt.date) -> dt.datetime:
    """A grant valid "until" a day lasts to the end of that day (UTC)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)


def _cache() -> dict:
    if not has_app_context():
        return {}
    if "datapass_grants" not in g:
        g.datapass_grants = {}
    return g.datapass_grants


def forget_cached_grants() -> None:
    """Drop this request's cache after a grant changed (the next check reads the table)."""
    if has_app_context():
        g.pop("datapass_grants", None)


def grant_specs(user_id: int) -> list[GrantSpec]:
    """The user's active DataPass grants, one :class:`GrantSpec` per territory (cached per request)."""
    cache = _cache()
    if user_id in cache:
        return cache[user_id]
    now = utcnow()
    rows = db_session().scalars(
        select(DatapassGrant)
        .where(DatapassGrant.user_id == user_id, DatapassGrant.revoked_at.is_(None))
        .options(selectinload(DatapassGrant.territories), selectinload(DatapassGrant.policies))
    ).all()
    specs = []
    for row in rows:
        if not row.is_active(now):
            continue
        policy_ids = frozenset(p.id for p in row.policies)
        for territory_id in [t.id for t in row.territories] or [None]:
            specs.append(GrantSpec(role=row.role, territory_id=territory_id,
                                   organisation_id=row.organisation_id, policy_ids=policy_ids,
                                   expires_at=row.expires_at, source=SOURCE))
    cache[user_id] = specs
    return specs


def create_grant(*, user, role, territories, policies, organisation, expires_at, origin: str,
                 created_by_id: int | None = None, request=None,
                 habilitation_id: str | None = None) -> DatapassGrant:
    grant = DatapassGrant(user=user, role=role, territories=list(territories), policies=list(policies),
                          organisation=organisation, expires_at=expires_at, origin=origin,
                          created_by_id=created_by_id, request=request,
                          habilitation_id=habilitation_id)
    db_session().add(grant)
    forget_cached_grants()
    return grant


def revoke(grant: DatapassGrant, *, by_id: int | None, reason: str) -> None:
    grant.revoked_at = utcnow()
    grant.revoked_by_id = by_id
    grant.revoke_reason = reason[:200]
    forget_cached_grants()


def active_for_habilitation(habilitation_id: str) -> list[DatapassGrant]:
    rows = db_session().scalars(
        select(DatapassGrant).where(DatapassGrant.habilitation_id == habilitation_id,
                                    DatapassGrant.revoked_at.is_(None))
    ).all()
    return [r for r in rows if r.is_active()]
