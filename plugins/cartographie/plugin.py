"""Hook implementations of the cartographie plugin."""

from __future__ import annotations

from marshmallow import Schema, fields

from core.api import hookimpl


class Settings(Schema):
    default_level = fields.String(load_default="department")


@hookimpl
def declare_settings():
    return Settings


@hookimpl
def register_blueprints(app):
    from plugins.cartographie.views import bp

    return bp
