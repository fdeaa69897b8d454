"""The reports' core hook implementations (imported into :mod:`core.defaults`)."""

from __future__ import annotations

import datetime as dt

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


def _moment(now: str | None) -> dt.datetime | None:
    """An ISO date-time argument of a job (UTC when it has no offset)."""
    if not now:
        return None
    moment = dt.datetime.fromisoformat(now)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _check_interrupted(now: str | None = None) -> list[str]:
    from core.reports.housekeeping import fail_interrupted

    return fail_interrupted(_moment(now))


def _purge_files(now: str | None = None) -> dict[str, int]:
    from core.reports.housekeeping import purge_files

    return purge_files(_moment(now))


@hookimpl(trylast=True, specname="register_jobs")
def report_jobs():
    return [JobSpec("reports.generate", _generate, "Produit le PDF d'un rapport demandé"),
            JobSpec("reports.check_interrupted", _check_interrupted,
                    "Marque en échec les rapports dont la production s'est interrompue",
                    owner="core", every=dt.timedelta(minutes=5)),
            JobSpec("reports.purge_files", _purge_files,
                    "Supprime les PDF de rapports expirés et les fichiers orphelins",
                    owner="core", every=dt.timedelta(hours=1))]


@hookimpl(trylast=True, specname="menu_items")
def report_menu(user):
    """"Rapports" in the main navigation, for signed-in users."""
    if not getattr(user, "is_authenticated", False):
        return None
    from flask_babel import lazy_gettext as _l

    from core.specs import MenuItem

    return [MenuItem(_l("Rapports"), "reports.index", order=80)]
