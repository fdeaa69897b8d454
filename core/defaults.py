"""The core's own hook implementations. Registered first, so called last (fallbacks)."""

from __future__ import annotations

from sqlalchemy import false, or_, true

from core.models import Policy, PolicyStatus, Role
from core.permissions import CORE_ACTIONS, effective_grants
from core.plugins import hookimpl
from core.specs import GrantSpec
from core.identity.hooks import (auth_providers, identity_actions, identity_jobs, identity_menu,  # noqa: F401
                                 identity_permission_check)
from core.reports.hooks import core_report_sections, report_jobs, report_menu  # noqa: F401
from core.views.imports_web import entry_menu_items, import_jobs  # noqa: F401
from core.campaigns.hooks import (campaign_actions, campaign_jobs, campaign_menu,  # noqa: F401
                                  campaign_permission_check)
from core.digest import digest_jobs  # noqa: F401
from core.help.hooks import (help_actions, help_menu, help_permission_check,  # noqa: F401
                             help_seed_data, help_template_helpers)

ALL_POLICIES_ROLES = {Role.ADMIN, Role.CENTRAL_STEERING}
DRAFT_READERS = {Role.ADMIN, Role.CENTRAL_STEERING, Role.MINISTRY_REFERENT}
# Roles that enter data; their territory subtree is checked where the territory is known.
WRITERS = {Role.CENTRAL_STEERING, Role.PREFECT, Role.TERRITORIAL_COORDINATOR, Role.LOCAL_CONTRIBUTOR}
ROADMAP_MANAGERS = {Role.CENTRAL_STEERING, Role.PREFECT, Role.TERRITORIAL_COORDINATOR}
REVIEWERS = {Role.CENTRAL_STEERING, Role.MINISTRY_REFERENT}
EMAIL_READERS = {Role.CENTRAL_STEERING, Role.MINISTRY_REFERENT, Role.PREFECT, Role.TERRITORIAL_COORDINATOR}


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
def menu_items(user):
    from flask_babel import lazy_gettext as _l

    from core.specs import MenuItem

    return [MenuItem(_l("Complétude des saisies"), "completeness.overview", action="territory.read", order=50),
            MenuItem(_l("Annuaire"), "directory.index", action="territory.read", order=55)]


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
    if action == "territory.read":
        if not getattr(user, "is_authenticated", False):
            # anonymous visitors see the public policies of any one territory, no listings
            return None if resource is None else True
        if resource is None:
            return True if grants else None
        return True if any(_territory_related(g.territory_id, resource) for g in grants) else None
    if action == "roadmap.manage":
        managers = [g for g in grants if g.role in ROADMAP_MANAGERS]
        if resource is None:
            return True if managers else None
        return True if any(_territory_below(resource, g.territory_id) for g in managers) else None
    if action == "contributor.email":
        return True if roles & EMAIL_READERS else None
    if action == "value.propose":  # any signed-in user who reads the policy (scope checked in views)
        if resource is None:
            return True if grants else None
        if resource.status is PolicyStatus.ARCHIVED:
            return None
        return True if _may_read_policy(grants, resource, user) else None
    if action == "value.review":  # the policy's central referents
        reviewers = [g for g in grants if g.role in REVIEWERS]
        if resource is None:
            return True if reviewers else None
        return True if any(_grant_covers(g, resource) for g in reviewers) else None
    if action == "comment.feature":  # the policy's central referents feature local successes
        featurers = [g for g in grants if g.role in REVIEWERS]
        if resource is None:
            return True if featurers else None
        return True if any(_grant_covers(g, resource) for g in featurers) else None
    if action == "catalog.edit":
        return True if Role.CENTRAL_STEERING in roles else None
    return None  # abstain: other actions are granted by administrators only


def _territory_below(territory, root_id) -> bool:
    """``territory`` is ``root_id`` or one of its descendants (None: everywhere)."""
    node = territory
    while node is not None:
        if root_id is None or node.id == root_id:
            return True
        node = node.parent
    return False


def _territory_related(root_id, territory) -> bool:
    """In the grant's subtree, or one of its ancestors (to compare with national values)."""
    if _territory_below(territory, root_id):
        return True
    from core.db import session
    from core.models import Territory

    node = session().get(Territory, root_id)
    while node is not None:
        if node.id == territory.id:
            return True
        node = node.parent
    return False


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
