"""The core's own hook implementations. Registered first, so called last (fallbacks)."""

from __future__ import annotations

from sqlalchemy import false, or_, true

from core.models import Policy, PolicyStatus, Role
from core.permissions import CORE_ACTIONS, effective_grants
from core.plugins import hookimpl
from core.specs import GrantSpec

ALL_POLICIES_ROLES = {Role.ADMIN, Role.CENTRAL_STEERING}
DRAFT_READERS = {Role.ADMIN, Role.CENTRAL_STEERING, Role.MINISTRY_REFERENT}
# Roles that enter data; their territory subtree is checked where the territory is known.
WRITERS = {Role.CENTRAL_STEERING, Role.PREFECT, Role.TERRITORIAL_COORDINATOR, Role.LOCAL_CONTRIBUTOR}


@hookimpl(trylast=True)
def register_actions():
    return CORE_ACTIONS


@hookimpl(trylast=True)
def user_from_request(request):
    from core.api_v1.tokens import user_from_token

    return user_from_token(request)


@hookimpl(trylast=True)
def register_alert_rules():
    from core.engine.alerts import CORE_ALERT_RULES

    return CORE_ALERT_RULES


@hookimpl(trylast=True)
def register_aggregation_methods():
    from core.engine.aggregation import CORE_METHODS

    return CORE_METHODS


@hookimpl(trylast=True)
def permission_check(user, action, resource):
    grants = effective_grants(user)
    roles = {g.role for g in grants}
    if Role.ADMIN in roles:
        return True
    if action == "policy.read":
        if resource is None:
            return True
        return _may_read_policy(grants, resource, user)
    if action == "indicator.read":
        if resource is None:
            return True
        if not _may_read_policy(grants, resource.policy, user):
            return None
        return True if resource.is_public or getattr(user, "is_authenticated", False) else None
    if action == "policy.read_draft":
        return bool(roles & DRAFT_READERS)
    if action in ("value.write", "weather.write", "comment.write"):
        writers = [g for g in grants if g.role in WRITERS]
        if resource is None:
            return True if writers else None
        if resource.status is PolicyStatus.ARCHIVED or not _may_read_policy(grants, resource, user):
            return None
        return True if any(_grant_covers(g, resource) for g in writers) else None
    return None  # abstain: other actions are granted by administrators only


def _may_read_policy(grants, policy, user) -> bool:
    if policy.status is not PolicyStatus.PUBLISHED:
        return any(g.role in DRAFT_READERS and _grant_covers(g, policy) for g in grants)
    if not getattr(user, "is_authenticated", False):
        return policy.is_public
    return any(_grant_covers(g, policy) for g in grants)


def _grant_covers(grant: GrantSpec, policy: Policy) -> bool:
    if grant.role in ALL_POLICIES_ROLES:
        return True
    if grant.organisation_id is not None and policy.organisation_id == grant.organisation_id:
        return True
    if grant.policy_ids:
        return policy.id in grant.policy_ids
    return grant.organisation_id is None


@hookimpl(trylast=True)
def scope_filter(user, action, model):
    if model is not Policy or action != "policy.read":
        return None
    grants = effective_grants(user)
    if not grants:
        if getattr(user, "is_authenticated", False):
            return false()
        return (Policy.status == PolicyStatus.PUBLISHED) & Policy.is_public.is_(True)
    clauses = []
    for grant in grants:
        status_ok = (
            true() if grant.role in DRAFT_READERS else Policy.status == PolicyStatus.PUBLISHED
        )
        if grant.role in ALL_POLICIES_ROLES:
            clauses.append(status_ok)
            continue
        perimeter = []
        if grant.organisation_id is not None:
            perimeter.append(Policy.organisation_id == grant.organisation_id)
        if grant.policy_ids:
            perimeter.append(Policy.id.in_(sorted(grant.policy_ids)))
        clauses.append(status_ok & (or_(*perimeter) if perimeter else true()))
    return or_(*clauses)
