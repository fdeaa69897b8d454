"""Hook implementations of the barometre plugin."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate

from core.api import Action, MenuItem, Role, effective_grants, hookimpl

PUBLISH = "barometre.publish"


class Settings(Schema):
    """The [plugins.barometre] table of instance.toml."""

    levels = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=list,
                         metadata={"description": "Levels shown publicly (default: every level of "
                                                  "the first grid)."})
    map_level = fields.String(load_default="department", validate=validate.Length(min=1, max=40),
                              metadata={"description": "Level of the map of a policy's page."})
    seed_publications = fields.Integer(load_default=8, validate=validate.Range(min=0, max=1000),
                                       metadata={"description": "How many public policies the "
                                                                "demo seed publishes."})


@hookimpl
def declare_settings():
    return Settings


@hookimpl
def register_blueprints(app):
    from plugins.barometre.views import bp

    return bp


@hookimpl
def register_actions():
    return [Action(PUBLISH, "Publier ou retirer une politique du baromètre public")]


@hookimpl
def permission_check(user, action, resource):
    """Central steering publishes everything; a ministry referent the policies of its grants."""
    if action != PUBLISH or not getattr(user, "is_authenticated", False):
        return None
    grants = effective_grants(user)
    if any(g.role is Role.CENTRAL_STEERING for g in grants):
        return True
    referents = [g for g in grants if g.role is Role.MINISTRY_REFERENT]
    if resource is None:
        return True if referents else None
    for grant in referents:
        if grant.organisation_id is not None and resource.organisation_id == grant.organisation_id:
            return True
        if grant.policy_ids and resource.id in grant.policy_ids:
            return True
        if grant.organisation_id is None and not grant.policy_ids:
            return True
    return None


@hookimpl
def menu_items(user):
    return [MenuItem(_l("Baromètre"), "barometre.overview", order=50),
            MenuItem(_l("Publication du baromètre"), "barometre.publications", action=PUBLISH,
                     order=51)]


@hookimpl
def seed_data(session, config, profile):
    """The demo publishes some public policies, so that the barometer is populated."""
    if profile != "demo":
        return
    from plugins.barometre.seed import publish_demo

    publish_demo(session)
