"""Hook implementations of the datapass plugin."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.api import Action, JobSpec, MenuItem, hookimpl


@hookimpl
def declare_settings():
    from plugins.datapass.settings import Settings

    return Settings


@hookimpl
def register_actions():
    return [
        Action("datapass.status", "Voir l'état du raccordement DataPass, ses livraisons et les demandes"),
        Action("datapass.request", "Demander une habilitation et suivre ses demandes"),
        Action("datapass.instruct", "Instruire les demandes d'habilitation de son périmètre"),
    ]


@hookimpl
def register_blueprints(app):
    from plugins.datapass.views import bp
    from plugins.datapass.webhook import bp as webhook_bp
    from plugins.datapass.webhook import receive

    app.extensions["csrf"].exempt(receive)  # signed by DataPass (HMAC), not a browser form
    return [bp, webhook_bp]


@hookimpl
def permission_check(user, action, resource):
    """``datapass.request``: any signed-in person, on their own requests; ``datapass.instruct``:
    admins, central steering and territorial coordinators whose grants cover the request."""
    if action not in ("datapass.request", "datapass.instruct"):
        return None
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_service_account", False):
        return None
    from plugins.datapass.perimeter import is_instructor, may_instruct

    if action == "datapass.request":
        if resource is None:
            return True
        return True if resource.requester_id == user.id else None
    if resource is None:
        return True if is_instructor(user) else None
    return may_instruct(user, resource)  # False also denies administrators their own requests


@hookimpl
def user_grants(user):
    if not getattr(user, "is_authenticated", False) or getattr(user, "id", None) is None:
        return None
    from plugins.datapass.grants import grant_specs

    return grant_specs(user.id)


@hookimpl
def register_jobs():
    from plugins.datapass.notify import notify

    return [JobSpec("datapass.notify", notify, "Prévient par courriel des suites d'une demande d'habilitation")]


@hookimpl
def menu_items(user):
    return [
        MenuItem(_l("Mes habilitations"), "datapass.my_requests", action="datapass.request", order=200),
        MenuItem(_l("Instruction des demandes"), "datapass.queue", action="datapass.instruct", order=210),
    ]


@hookimpl
def template_helpers():
    from plugins.datapass.views import role_label, state_label

    return {"datapass_role_label": role_label, "datapass_state_label": state_label}
