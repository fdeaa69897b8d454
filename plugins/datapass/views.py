"""Connection status of DataPass, for administrators."""

from __future__ import annotations

from flask import Blueprint, render_template

from core.api import plugin_settings, requires

bp = Blueprint("datapass", __name__, url_prefix="/datapass", template_folder="templates")


@bp.route("/")
@requires("datapass.status")
def status():
    settings = plugin_settings("datapass")
    return render_template(
        "datapass/status.html",
        api_url=settings["api_url"],
        webhook_configured=bool(settings["webhook_secret"]),
    )
