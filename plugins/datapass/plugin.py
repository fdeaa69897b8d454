"""Hook implementations of the datapass plugin."""

from __future__ import annotations

from marshmallow import Schema, fields

from core.api import Action, SecretOrValue, hookimpl


class Settings(Schema):
    api_url = fields.Url(load_default="https://datapass.api.gouv.fr")
    webhook_secret = SecretOrValue(load_default=None)


@hookimpl
def declare_settings():
    return Settings


@hookimpl
def register_actions():
    return [Action("datapass.status", "Voir l'état du raccordement DataPass")]


@hookimpl
def register_blueprints(app):
    from plugins.datapass.views import bp

    return bp
