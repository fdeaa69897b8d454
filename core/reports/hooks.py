"""The reports' core hook implementations (imported into :mod:`core.defaults`)."""

from __future__ import annotations

from core.plugins import hookimpl
from core.specs import JobSpec


@hookimpl(trylast=True, specname="report_sections")
def core_report_sections(report):
    """The core's sections: figures, charts, map, weather, comments, alerts, method."""
    from core.reports.sections import core_sections

    return core_sections(report)


def _generate(request_id: int) -> str:
    from core.reports.service import generate_request

    return generate_request(request_id)


@hookimpl(trylast=True, specname="register_jobs")
def report_jobs():
    return [JobSpec("reports.generate", _generate, "Produit le PDF d'un rapport demandé")]


@hookimpl(trylast=True, specname="menu_items")
def report_menu(user):
    """"Rapports" in the main navigation, for signed-in users."""
    if not getattr(user, "is_authenticated", False):
        return None
    from flask_babel import lazy_gettext as _l

    from core.specs import MenuItem

    return [MenuItem(_l("Rapports"), "reports.index", order=80)]
