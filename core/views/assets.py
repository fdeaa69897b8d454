"""Static files of the core, the theme chain and the instance, plus the branding tokens."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory
from werkzeug.security import safe_join

from core.permissions import public

bp = Blueprint("assets", __name__, url_prefix="/static")
CORE_STATIC = Path(__file__).resolve().parents[1] / "static"


def _roots(kind: str, owner: str | None = None) -> list[Path]:
    state = current_app.extensions["pilote"]
    if kind == "theme":
        return [d for t in state.themes for d in t.static_dirs]
    if kind == "instance":
        return [state.config.dir / "static"]
    if kind == "core":
        return [CORE_STATIC]
    if kind == "plugin" and owner in state.config.enabled_plugins:
        plugin = state.pm.get_plugin(owner)
        return [Path(plugin.__file__).parent / "static"]
    return []


def locate(kind: str, filename: str, owner: str | None = None) -> Path | None:
    for root in _roots(kind, owner):
        candidate = safe_join(str(root), filename)
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@bp.route("/<any(theme, instance, core):kind>/<path:filename>")
@public
def static_file(kind: str, filename: str):
    path = locate(kind, filename)
    if path is None:
        abort(404)
    response = send_from_directory(path.parent, path.name, max_age=31536000)
    return response


@bp.route("/tokens.css")
@public
def tokens():
    state = current_app.extensions["pilote"]
    lines = [f"  --pilote-{name}: {value};" for name, value in sorted(state.tokens.items())
             if _safe_css_value(value)]
    css = ":root {\n" + "\n".join(lines) + "\n}\n"
    return Response(css, mimetype="text/css", headers={"Cache-Control": "public, max-age=300"})


def _safe_css_value(value: str) -> bool:
    return not any(ch in value for ch in ";{}<>\\")
