"""Who may instruct a request: a grant of the instructor must cover the role, every territory,
the policies and the end date that the request asks for."""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from core.api import GrantSpec, Role, Territory, db_session, effective_grants

ROLES = list(Role)  # from the widest to the narrowest
INSTRUCTOR_ROLES = {Role.ADMIN, Role.CENTRAL_STEERING, Role.TERRITORIAL_COORDINATOR}
ALL_POLICIES_ROLES = {Role.ADMIN, Role.CENTRAL_STEERING}
# Roles bound to a territory: a request or a DataPass habilitation for them must name one.
TERRITORIAL_ROLES = {Role.PREFECT, Role.TERRITORIAL_COORDINATOR, Role.LOCAL_CONTRIBUTOR}


def grantable_roles(role: Role) -> list[Role]:
    """The roles an instructor holding ``role`` may give."""
    if role is Role.ADMIN:
        return ROLES
    if role is Role.CENTRAL_STEERING:
        return ROLES[1:]
    if role is Role.TERRITORIAL_COORDINATOR:
        return ROLES[ROLES.index(Role.TERRITORIAL_COORDINATOR):]
    return []


def is_below(territory_id: int, root_id: int | None) -> bool:
    """``territory_id`` is ``root_id`` or one of its descendants (None: everywhere)."""
    if root_id is None:
        return True
    session = db_session()
    node = session.get(Territory, territory_id)
    while node is not None:
        if node.id == root_id:
            return True
        node = session.get(Territory, node.parent_id) if node.parent_id else None
    return False


def covers(grant: GrantSpec, *, role: Role, territory_ids: Iterable[int], organisation_id: int | None,
           policies: Iterable, until: dt.date | None) -> bool:
    """True when ``grant`` lets its holder give ``role`` on that perimeter until that day."""
    if Role(grant.role) not in INSTRUCTOR_ROLES or role not in grantable_roles(Role(grant.role)):
        return False
    territory_ids = list(territory_ids)
    if grant.territory_id is not None:
        if not territory_ids or not all(is_below(t, grant.territory_id) for t in territory_ids):
            return False
    if grant.expires_at is not None and (until is None or until > grant.expires_at.date()):
        return False
    if Role(grant.role) in ALL_POLICIES_ROLES:
        return True
    policies = list(policies)
    if grant.policy_ids:  # an explicit list: only some of those policies
        return organisation_id is None and bool(policies) and all(p.id in grant.policy_ids for p in policies)
    if grant.organisation_id is not None:  # a ministry's perimeter: that ministry or its policies
        if organisation_id is not None:
            return organisation_id == grant.organisation_id
        return bool(policies) and all(p.organisation_id == grant.organisation_id for p in policies)
    return True


def may_instruct(user, request) -> bool:
    """The user holds a grant covering everything ``request`` asks for (never their own)."""
    if request.requester_id == getattr(user, "id", None):
        return False
    return any(
        covers(g, role=request.role, territory_ids=[t.id for t in request.territories],
               organisation_id=request.organisation_id, policies=request.policies, until=request.until)
        for g in effective_grants(user)
    )


def is_instructor(user) -> bool:
    return any(Role(g.role) in INSTRUCTOR_ROLES for g in effective_grants(user))
