"""The identity work's core hook implementations (imported into :mod:`core.defaults`)."""

from __future__ import annotations

from flask import current_app

from core.plugins import hookimpl
from core.specs import Action, AuthProvider, MenuItem


@hookimpl(trylast=True, specname="permission_check")
def identity_permission_check(user, action, resource):
    """``user.delegate`` for the delegation rules (administrators are allowed by the core)."""
    if action != "user.delegate":
        return None
    from core.identity.delegation import check
    from core.permissions import effective_grants

    return check(effective_grants(user), resource)


@hookimpl(trylast=True, specname="register_jobs")
def identity_jobs():
    from core.mail import CORE_JOBS

    return CORE_JOBS


@hookimpl(trylast=True)
def auth_providers():
    """The ``[auth.providers.<key>]`` tables of ``instance.toml``."""
    providers = current_app.extensions["pilote"].config.data["auth"]["providers"]
    return [AuthProvider(key=key, label=p["label"], server_metadata_url=p["server_metadata_url"],
                         client_id=p["client_id"], client_secret=p["client_secret"],
                         scopes=tuple(p["scopes"]), style=p["style"],
                         token_auth_method=p["token_auth_method"])
            for key, p in providers.items()]


@hookimpl(trylast=True, specname="register_actions")
def identity_actions():
    return [Action("user.delegate", "Gérer les utilisateurs et habilitations de son périmètre territorial")]


@hookimpl(trylast=True, specname="menu_items")
def identity_menu(user):
    from flask_babel import lazy_gettext as _l

    if not getattr(user, "is_authenticated", False):
        return None
    return [MenuItem(_l("Mon compte"), "account.index", None, 900),
            MenuItem(_l("Utilisateurs"), "admin_users.index", "user.delegate", 910),
            MenuItem(_l("Journal d'audit"), "admin_log.audit_log", "instance.admin", 920)]
