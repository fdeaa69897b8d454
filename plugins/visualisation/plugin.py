"""Hook implementations of the visualisation plugin."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import Widget, hookimpl


class Settings(Schema):
    # months of actual values shown on the trajectory charts, before the latest one
    sparkline_months = fields.Integer(load_default=24, validate=validate.Range(min=3, max=120))


@hookimpl
def declare_settings():
    return Settings


@hookimpl
def register_blueprints(app):
    from plugins.visualisation.views import bp

    return bp


@hookimpl
def render_chart(kind, data, options):
    from plugins.visualisation.charts import render

    return render(kind, data, options)


@hookimpl
def asset_urls(page):
    from plugins.visualisation.assets import assets

    return assets()


@hookimpl
def register_widgets():
    from plugins.visualisation.widgets import aside_context, comparison_context, trajectory_context

    return [
        Widget(key="visualisation.trajectory", slot="policy.indicator", template="visualisation/trajectory.html",
               order=10, context=trajectory_context),
        Widget(key="visualisation.comparison", slot="policy.main", template="visualisation/comparison.html",
               order=10, context=comparison_context),
        Widget(key="visualisation.progress", slot="policy.aside", template="visualisation/progress.html",
               order=10, context=aside_context),
    ]
