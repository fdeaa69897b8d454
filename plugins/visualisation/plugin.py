"""Hook implementations of the visualisation plugin."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import Widget, hookimpl


class Settings(Schema):
    sparkline_months = fields.Integer(load_default=24, validate=validate.Range(min=3, max=120))


@hookimpl
def declare_settings():
    return Settings


@hookimpl
def register_blueprints(app):
    from plugins.visualisation.views import bp

    return bp


@hookimpl
def register_widgets():
    from plugins.visualisation.sparkline import widget_context

    return [
        Widget(
            key="visualisation.sparkline",
            slot="policy.indicator",
            template="visualisation/sparkline.html",
            order=10,
            context=widget_context,
        )
    ]
