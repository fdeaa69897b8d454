"""The ``[plugins.datapass]`` table of ``instance.toml`` (documented in docs/datapass.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from core.api import Role, SecretOrValue

# DataPass scopes of the habilitation → Pilote role. DataPass never makes administrators.
DEFAULT_ROLE_SCOPES = {
    "pilote_lecture": "reader",
    "pilote_saisie": "local_contributor",
    "pilote_coordination": "territorial_coordinator",
    "pilote_prefet": "prefect",
    "pilote_referent": "ministry_referent",
}
MAPPABLE_ROLES = [r.value for r in Role if r is not Role.ADMIN]


class Settings(Schema):
    api_url = fields.Url(load_default="https://datapass.api.gouv.fr")
    webhook_secret = SecretOrValue(load_default=None)
    # deliveries whose fired_at is older than this are refused (redeliveries of a processed
    # event are answered as before, whatever their age)
    max_age_seconds = fields.Integer(load_default=86400, validate=validate.Range(min=60))
    max_body_bytes = fields.Integer(load_default=1_000_000, validate=validate.Range(min=1000))
    # length of a grant whose habilitation gives no end date, and longest in-app request
    grant_days = fields.Integer(load_default=365, validate=validate.Range(min=1, max=3660))
    # only these habilitation types give grants; others are logged and ignored
    model_types = fields.List(fields.String(), load_default=lambda: ["authorization_request/pilote"])
    role_scopes = fields.Dict(keys=fields.String(), values=fields.String(validate=validate.OneOf(MAPPABLE_ROLES)),
                              load_default=lambda: dict(DEFAULT_ROLE_SCOPES))
    # keys of the habilitation's form data (``data.data``) holding the perimeter
    territories_field = fields.String(load_default="territoires")
    policies_field = fields.String(load_default="politiques")
    organisation_field = fields.String(load_default="perimetre_ministeriel")
    until_field = fields.String(load_default="date_fin")
    # create an account (no password: sign-in through ProConnect) for an unknown applicant
    create_users = fields.Boolean(load_default=True)
