"""Jinja globals shared by core pages, themes and plugin templates."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, current_app, render_template, request, url_for
from flask_babel import format_date, format_datetime, format_decimal, format_percent, get_locale, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

from core.permissions import can
from core.plugins import PluginError, call_in_order
from core.specs import MenuItem

# Default wording. An instance renames terms in its gettext domain ``instance``
# (``translations/<locale>/LC_MESSAGES/instance.po``, msgid = the French term below), or, the
# quick way, in ``[wording.<locale>]`` of instance.toml, which wins over the catalogs.
TERMS = {
    "policy": _l("politique"),
    "policies": _l("politiques"),
    "indicator": _l("indicateur"),
    "indicators": _l("indicateurs"),
    "territory": _l("territoire"),
    "territories": _l("territoires"),
}

CORE_MENU = [
    MenuItem(_l("Tableau de bord"), "core.home", order=0),
]


def _state():
    return current_app.extensions["pilote"]


def term(key: str) -> str:
    """An instance-worded domain term (``term('policies')``): ``[wording.<locale>]`` of
    instance.toml first, then the translation catalogs (the instance domain wins there)."""
    wording = _state().config.data["wording"].get(str(get_locale()), {})
    if key in wording:
        return wording[key]
    return str(TERMS.get(key, key))


def label(localised: dict[str, str] | str | None) -> str:
    """Pick the current locale's label in a ``{fr = …, en = …}`` table."""
    if localised is None or isinstance(localised, str):
        return localised or ""
    locale = str(get_locale())
    return localised.get(locale) or localised.get("*") or next(iter(localised.values()), "")


@lru_cache(maxsize=2048)
def _digest(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def static_url(kind: str, filename: str, owner: str | None = None) -> str:
    """URL of a static file with a content hash for cache busting.

    ``kind``: ``theme`` (searched along the theme chain), ``instance``, ``core`` or
    ``plugin`` (then ``owner`` is the plugin name).
    """
    from core.views.assets import locate

    path = locate(kind, filename, owner)
    version = _digest(str(path), path.stat().st_mtime) if path else "missing"
    if kind == "plugin":
        return url_for(f"{owner}.static", filename=filename, v=version)
    return url_for("assets.static_file", kind=kind, filename=filename, v=version)


def render_slot(slot: str, **context: Any) -> Markup:
    """Render every widget registered for ``slot``, by order then plugin precedence."""
    widgets = [w for w in _state().widgets.values() if w.slot == slot]
    widgets.sort(key=lambda w: w.order)  # stable: precedence order kept within equal orders
    parts = []
    for widget in widgets:
        extra = widget.context(**context) if widget.context else {}
        if extra is None:
            continue
        parts.append(render_template(widget.template, widget=widget, **context, **extra))
    return Markup("\n".join(parts))


def page_assets() -> list[Any]:
    return [a for _, a in call_in_order(_state().pm, "asset_urls", page=request.endpoint)]


def menu() -> list[MenuItem]:
    items = list(CORE_MENU)
    items += [item for _, item in call_in_order(_state().pm, "menu_items", user=current_user)]
    return [i for i in items if i.action is None or can(i.action)]


def number(value: Any, decimals: int = 0) -> str:
    if value is None:
        return "–"
    fmt = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=fmt)


def percent(value: Any, decimals: int = 0) -> str:
    if value is None:
        return "–"
    fmt = "#,##0" + ("." + "0" * decimals if decimals else "") + " %"
    return format_percent(float(value) / 100, format=fmt)


def init_app(app: Flask) -> None:
    state = app.extensions["pilote"]
    helpers: dict[str, Any] = {}
    for owner, mapping in call_in_order(state.pm, "template_helpers"):
        for name, func in mapping.items():
            if owner != "core" and not name.startswith(owner + "_"):
                raise PluginError(f"template helper {name!r} of plugin {owner!r} must start with {owner}_")
            if name in helpers:
                raise PluginError(f"duplicate template helper {name!r}")
            helpers[name] = func
    app.jinja_env.globals.update(
        term=term,
        label=label,
        static_url=static_url,
        render_slot=render_slot,
        page_assets=page_assets,
        menu=menu,
        can=can,
        format_date=format_date,
        format_datetime=format_datetime,
        get_locale=get_locale,
        instance=state.config.data["instance"],
        theme=state.theme,
        **helpers,
    )
    app.jinja_env.filters.update(number=number, percent=percent)
