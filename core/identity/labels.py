"""French labels of roles and audit actions, for the identity pages."""

from flask_babel import lazy_gettext as _l

from core.models import Role

ROLE_LABELS = {
    Role.ADMIN: _l("Administrateur"),
    Role.CENTRAL_STEERING: _l("Pilotage central (DITP)"),
    Role.MINISTRY_REFERENT: _l("Référent ministériel / directeur de politique"),
    Role.PREFECT: _l("Préfet"),
    Role.TERRITORIAL_COORDINATOR: _l("Coordinateur territorial"),
    Role.LOCAL_CONTRIBUTOR: _l("Contributeur local"),
    Role.READER: _l("Lecteur"),
}
TOKEN_STATUS_LABELS = {"active": _l("actif"), "revoked": _l("révoqué"), "expired": _l("expiré")}


def role_label(role) -> str:
    try:
        return str(ROLE_LABELS[Role(role)])
    except ValueError:
        return str(role)
