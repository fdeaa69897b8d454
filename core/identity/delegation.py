"""Who may manage which users and grants.

Administrators and central steering manage everyone. Prefects and territorial coordinators
manage the users and grants of their territory subtree only, and never grant a role wider
than their own, outside their subtree, their policy perimeter or beyond their own expiry.
Nobody grants a role wider than their own (central steering cannot make administrators).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select

from core.db import session as db_session
from core.models import Grant, Policy, Role, Territory
from core.specs import GrantSpec

RANK = {role: i for i, role in enumerate(Role)}  # 0 = widest
EVERYWHERE_MANAGERS = {Role.ADMIN, Role.CENTRAL_STEERING}
TERRITORIAL_MANAGERS = {Role.PREFECT, Role.TERRITORIAL_COORDINATOR}
MANAGERS = EVERYWHERE_MANAGERS | TERRITORIAL_MANAGERS


@dataclass(frozen=True)
class GrantDraft:
    """A grant to create (or an existing one to change), as the delegation rules see it."""

    role: Role
    territory_id: int | None = None
    organisation_id: int | None = None
    policy_ids: frozenset[int] = frozenset()
    expires_at: dt.datetime | None = None

    @classmethod
    def of(cls, grant: Grant) -> GrantDraft:
        return cls(Role(grant.role), grant.territory_id, grant.organisation_id,
                   frozenset(p.id for p in grant.policies), grant.expires_at)


def _below(territory_id: int | None, root_id: int | None) -> bool:
    """``territory_id`` lies in the subtree of ``root_id`` (None = everywhere)."""
    if root_id is None:
        return True
    if territory_id is None:
        return False
    session = db_session()
    node = session.get(Territory, territory_id)
    while node is not None:
        if node.id == root_id:
            return True
        node = node.parent
    return False


def _within_perimeter(manager: GrantSpec, draft: GrantDraft) -> bool:
    if manager.role in EVERYWHERE_MANAGERS or (not manager.policy_ids and manager.organisation_id is None):
        return True
    if manager.policy_ids:
        return bool(draft.policy_ids) and draft.policy_ids <= manager.policy_ids \
            and draft.organisation_id is None
    # an organisation's perimeter: the same organisation, or some of its policies
    if draft.organisation_id == manager.organisation_id:
        return True
    if draft.organisation_id is None and draft.policy_ids:
        orgs = set(db_session().scalars(select(Policy.organisation_id).where(Policy.id.in_(draft.policy_ids))))
        return orgs == {manager.organisation_id}
    return False


def covers(manager: GrantSpec, draft: GrantDraft) -> bool:
    """One grant of the manager allows creating (or removing) ``draft``."""
    role = Role(manager.role)
    if role not in MANAGERS or RANK[Role(draft.role)] < RANK[role]:
        return False
    if role is Role.ADMIN:
        return True
    if not _below(draft.territory_id, manager.territory_id):
        return False
    if manager.expires_at is not None and (draft.expires_at is None or draft.expires_at > manager.expires_at):
        return False
    return _within_perimeter(manager, draft)


def manager_grants(grants: Iterable[GrantSpec]) -> list[GrantSpec]:
    return [g for g in grants if Role(g.role) in MANAGERS]


def may_grant(grants: Iterable[GrantSpec], draft: GrantDraft) -> bool:
    return any(covers(g, draft) for g in manager_grants(grants))


def manages_everyone(grants: Iterable[GrantSpec]) -> bool:
    return any(Role(g.role) in EVERYWHERE_MANAGERS and g.territory_id is None
               and not g.policy_ids and g.organisation_id is None for g in grants)


def may_see_user(grants: list[GrantSpec], user: Any) -> bool:
    """Everyone for global managers; else users without an active grant (asking for access)
    and users with at least one grant the manager could have given."""
    if manages_everyone(grants):
        return True
    active = user.active_grants()
    return not active or any(may_grant(grants, GrantDraft.of(g)) for g in active)


def may_administer_user(grants: list[GrantSpec], user: Any) -> bool:
    """Deactivate, reactivate, rename: every active grant of the user must be the manager's
    to give (so a coordinator never locks out someone who works elsewhere too)."""
    if manages_everyone(grants):
        return True
    if any(Role(g.role) is Role.ADMIN for g in grants):
        return True
    return all(may_grant(grants, GrantDraft.of(g)) for g in user.active_grants())


def grantable_roles(grants: list[GrantSpec]) -> list[Role]:
    """Roles the manager may give somewhere (for the form)."""
    widest = min((RANK[Role(g.role)] for g in manager_grants(grants)), default=len(RANK))
    return [role for role in Role if RANK[role] >= widest]


def check(grants: list[GrantSpec], resource: Any) -> bool | None:
    """``user.manage`` vote: None (abstain) unless the delegation rules allow it."""
    if not manager_grants(grants):
        return None
    if resource is None:
        return True
    if isinstance(resource, GrantDraft):
        return True if may_grant(grants, resource) else None
    if isinstance(resource, Grant):
        return True if may_grant(grants, GrantDraft.of(resource)) else None
    return True if may_see_user(grants, resource) else None
