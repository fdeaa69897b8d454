"""The campaigns' core hook implementations (imported into :mod:`core.defaults`)."""

from __future__ import annotations

import datetime as dt

from core.plugins import hookimpl
from core.specs import Action, JobSpec, MenuItem

MANAGERS = ("central_steering", "ministry_referent")


@hookimpl(trylast=True, specname="register_actions")
def campaign_actions():
    return [Action("campaign.manage", "Ouvrir et clôturer une campagne de saisie ou de revue")]


@hookimpl(trylast=True, specname="permission_check")
def campaign_permission_check(user, action, resource):
    """``campaign.manage``: central steering on any campaign; a ministry referent on policies of
    their perimeter (a campaign: all of its policies). Administrators are allowed by the core."""
    if action != "campaign.manage":
        return None
    from core.defaults import _grant_covers
    from core.models import Campaign, Policy
    from core.permissions import effective_grants

    grants = [g for g in effective_grants(user) if g.role in MANAGERS]
    if not grants:
        return None
    if resource is None or any(g.role == "central_steering" for g in grants):
        return True
    if isinstance(resource, Policy):
        policies = [resource]
    elif isinstance(resource, Campaign):
        policies = list(resource.policies)
    else:
        return None
    ok = bool(policies) and all(any(_grant_covers(g, p) for g in grants) for p in policies)
    return True if ok else None


def _remind(now: str | None = None) -> dict:
    from core.campaigns.reminders import remind

    return remind(dt.datetime.fromisoformat(now) if now else None)


@hookimpl(trylast=True, specname="register_jobs")
def campaign_jobs():
    return [JobSpec("campaigns.remind", _remind,
                    "Rappels et relances par courriel des campagnes ouvertes", owner="core",
                    every=dt.timedelta(hours=1))]


@hookimpl(trylast=True, specname="menu_items")
def campaign_menu(user):
    from flask_babel import lazy_gettext as _l

    if not getattr(user, "is_authenticated", False):
        return None
    return [MenuItem(_l("Campagnes"), "campaigns.index", "territory.read", 52)]
