"""The DataPass webhook receiver: ``POST /datapass/webhook``.

Every delivery is checked in this order, and each refusal is answered, logged and recorded:
secret configured (503), size (413), ``X-Hub-Signature-256`` present (401) and right (403),
JSON well formed (400 ``malformed``), already processed (answered as the first time), not
stale (400 ``stale``). Then ``approve`` gives a grant and answers its ``token_id``;
``revoke``/``archive`` remove it; other events, known or not, are logged and accepted (200).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging

from flask import Blueprint, current_app, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.api import (Organisation, Policy, Role, Territory, User, acting_as, db_session, enqueue,
                      plugin_settings, public, utcnow)
from plugins.datapass import grants
from plugins.datapass.models import Delivery
from plugins.datapass.perimeter import TERRITORIAL_ROLES

log = logging.getLogger("pilote.datapass")
bp = Blueprint("datapass_webhook", __name__, url_prefix="/datapass")
ACTOR = "DataPass (webhook)"
REVOKING = {"revoke", "archive"}
KNOWN = {"create", "update", "create_by_api", "update_by_api", "submit", "approve", "refuse",
         "revoke", "request_changes", "archive", "reopen", "cancel_reopening", "transfer"}
FUTURE_SKEW = dt.timedelta(minutes=5)


class Refused(Exception):
    def __init__(self, status: int, outcome: str, detail: str):
        super().__init__(detail)
        self.status, self.outcome, self.detail = status, outcome, detail


class Timestamp(fields.Field):
    """``fired_at``: seconds since the epoch (DataPass v2) or an ISO 8601 date-time."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            if isinstance(value, bool):
                raise TypeError
            if isinstance(value, (int, float)):
                return dt.datetime.fromtimestamp(value, dt.timezone.utc)
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise ValidationError("Not a timestamp.") from exc


class Applicant(Schema):
    class Meta:
        unknown = "include"

    email = fields.Email(required=True)
    given_name = fields.String(load_default="")
    family_name = fields.String(load_default="")


class Habilitation(Schema):
    class Meta:
        unknown = "include"

    id = fields.Raw(required=True, validate=lambda v: isinstance(v, (int, str)) and not isinstance(v, bool)
                    and str(v) != "")
    state = fields.String(load_default="")
    applicant = fields.Nested(Applicant, load_default=None)
    data = fields.Dict(load_default=dict)


class Payload(Schema):
    class Meta:
        unknown = "include"

    event = fields.String(required=True, validate=validate.Length(min=1, max=60))
    fired_at = Timestamp(required=True)
    model_type = fields.String(required=True, validate=validate.Length(max=120))
    data = fields.Nested(Habilitation, required=True)


class TestPing(Schema):
    class Meta:
        unknown = "include"

    test = fields.Boolean(required=True)
    timestamp = Timestamp(required=True)


def _located(errors: dict, prefix: str = "") -> str:
    out = []
    for key, value in errors.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        out.append(_located(value, path) if isinstance(value, dict) else f"{path}: {' '.join(map(str, value))}")
    return "; ".join(out)


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def event_key(payload: dict) -> str:
    """What identifies one event whatever its delivery: habilitation, event and firing time."""
    raw = "\n".join([payload["model_type"], str(payload["data"]["id"]), payload["event"],
                     str(payload["fired_at"])])
    return hashlib.sha256(raw.encode()).hexdigest()


@bp.route("/webhook", methods=["POST"])
@public  # authenticated by the HMAC signature of the body, not by a session
def receive():
    delivery = Delivery(received_at=utcnow(), remote_addr=(request.remote_addr or "")[:64],
                        environment=request.headers.get("X-App-Environment", "")[:40])
    with acting_as(None, ACTOR, "webhook"):
        try:
            return _handle(delivery)
        except Refused as refusal:
            db_session().rollback()
            log.warning("datapass webhook refused (%s, %s): %s [from %s]", refusal.status,
                        refusal.outcome, refusal.detail, delivery.remote_addr)
            delivery.status_code, delivery.outcome, delivery.detail = (
                refusal.status, refusal.outcome, refusal.detail[:2000])
            delivery.response = {"error": refusal.outcome, "detail": refusal.detail}
            if not delivery.signature_ok:
                delivery.payload = None  # nothing unauthenticated is kept
            return _answer(delivery)


def _answer(delivery: Delivery, save: bool = True):
    if save:
        db_session().add(delivery)
        db_session().commit()
    return jsonify(delivery.response), delivery.status_code


def _handle(delivery: Delivery):
    settings = plugin_settings("datapass")
    secret = settings.get("webhook_secret")
    if not secret:
        raise Refused(503, "not_configured", "no webhook_secret is configured for DataPass")
    if (request.content_length or 0) > settings["max_body_bytes"]:
        raise Refused(413, "too_large", f"body larger than {settings['max_body_bytes']} bytes")
    body = request.get_data(cache=True)
    if len(body) > settings["max_body_bytes"]:
        raise Refused(413, "too_large", f"body larger than {settings['max_body_bytes']} bytes")
    header = request.headers.get("X-Hub-Signature-256", "")
    if not header:
        raise Refused(401, "unsigned", "missing X-Hub-Signature-256 header")
    if not signature_ok(secret, body, header):
        raise Refused(403, "bad_signature", "X-Hub-Signature-256 does not match the body")
    delivery.signature_ok = True
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, "malformed", f"the body is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise Refused(400, "malformed", "the body is not a JSON object")
    if "test" in raw:
        return _test_ping(delivery, raw, settings)
    try:
        payload = Payload().load(raw)
    except ValidationError as exc:
        raise Refused(400, "malformed", _located(exc.messages)) from None
    delivery.event = payload["event"]
    delivery.model_type = payload["model_type"]
    delivery.habilitation_id = str(payload["data"]["id"])[:80]
    delivery.fired_at = payload["fired_at"]
    key = event_key(raw)
    first = db_session().scalar(select(Delivery).where(Delivery.event_key == key))
    if first is not None:
        return _duplicate(delivery, first)
    now = utcnow()
    if payload["fired_at"] < now - dt.timedelta(seconds=settings["max_age_seconds"]):
        raise Refused(400, "stale", f"fired_at {payload['fired_at'].isoformat()} is older than "
                                    f"{settings['max_age_seconds']} s")
    if payload["fired_at"] > now + FUTURE_SKEW:
        raise Refused(400, "stale", f"fired_at {payload['fired_at'].isoformat()} is in the future")
    delivery.payload = raw
    _dispatch(delivery, payload, settings)
    delivery.event_key = key
    db_session().add(delivery)
    try:
        db_session().commit()
    except IntegrityError:  # the same event, delivered twice at the same moment
        db_session().rollback()
        first = db_session().scalar(select(Delivery).where(Delivery.event_key == key))
        return _duplicate(Delivery(received_at=delivery.received_at, remote_addr=delivery.remote_addr,
                                   environment=delivery.environment, signature_ok=True,
                                   event=delivery.event, model_type=delivery.model_type,
                                   habilitation_id=delivery.habilitation_id,
                                   fired_at=delivery.fired_at), first)
    log.info("datapass webhook %s %s: %s %s", delivery.event, delivery.habilitation_id,
             delivery.outcome, delivery.detail)
    if delivery.grant_id is not None:
        try:  # mails are queued: the answer never waits for them, nor fails with them
            enqueue("datapass.notify", kind="revoke" if delivery.event in REVOKING else "approve",
                    grant_id=delivery.grant_id)
        except Exception:  # noqa: BLE001 - the grant is committed; the notice is best effort
            log.exception("datapass webhook: notification of grant %s failed", delivery.grant_id)
    return jsonify(delivery.response), delivery.status_code


def _duplicate(delivery: Delivery, first: Delivery):
    delivery.outcome = "duplicate"
    delivery.detail = f"already processed as delivery #{first.id}"
    delivery.status_code, delivery.response = first.status_code, first.response
    delivery.duplicate_of_id, delivery.grant_id = first.id, first.grant_id
    log.info("datapass webhook redelivered: %s", delivery.detail)
    return _answer(delivery)


def _test_ping(delivery: Delivery, raw: dict, settings):
    try:
        ping = TestPing().load(raw)
    except ValidationError as exc:
        raise Refused(400, "malformed", _located(exc.messages)) from None
    if ping["timestamp"] < utcnow() - dt.timedelta(seconds=settings["max_age_seconds"]):
        raise Refused(400, "stale", f"timestamp {ping['timestamp'].isoformat()} is too old")
    delivery.event, delivery.outcome, delivery.status_code = "test", "test", 200
    delivery.response = {"ok": True}
    return _answer(delivery)


def _dispatch(delivery: Delivery, payload: dict, settings) -> None:
    event = payload["event"]
    delivery.status_code = 200
    if event == "approve":
        if payload["model_type"] not in settings["model_types"]:
            delivery.outcome = "ignored"
            delivery.detail = f"habilitation type {payload['model_type']!r} gives no grant here"
            delivery.response = {"ok": True}
            return
        grant = _approve(payload, settings)
        db_session().flush()
        delivery.grant_id = grant.id
        delivery.outcome = "granted"
        delivery.detail = f"grant {grant.token_id} ({grant.role.value}) for {grant.user.email}"
        delivery.response = {"token_id": grant.token_id}
    elif event in REVOKING:
        revoked = grants.active_for_habilitation(str(payload["data"]["id"]))
        for grant in revoked:
            grants.revoke(grant, by_id=None, reason=f"DataPass: {event}")
        delivery.grant_id = revoked[0].id if revoked else None
        delivery.outcome = "revoked" if revoked else "nothing_to_revoke"
        delivery.detail = ", ".join(g.token_id for g in revoked)
        delivery.response = {"ok": True, "revoked": [g.token_id for g in revoked]}
    else:
        delivery.outcome = "ignored" if event in KNOWN else "unknown_event"
        delivery.detail = f"event {event!r} changes nothing in Pilote"
        delivery.response = {"ok": True}
        if event not in KNOWN:
            log.warning("datapass webhook: unknown event %r accepted and logged", event)


def _codes(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return [str(v).strip() for v in value if str(v).strip()]
    raise Refused(422, "unmappable", f"expected a list of codes, got {value!r}")


def _approve(payload: dict, settings):
    """Map the habilitation to a user, a role and a perimeter, then give the grant (a new
    validation of the same habilitation replaces the previous grant)."""
    habilitation = payload["data"]
    form = habilitation.get("data") or {}
    applicant = habilitation.get("applicant")
    if not applicant:
        raise Refused(422, "unmappable", "data.applicant.email is missing")
    scopes = form.get("scopes") or []
    if isinstance(scopes, dict):
        scopes = [k for k, v in scopes.items() if v]
    roles = {Role(settings["role_scopes"][s]) for s in scopes if isinstance(s, str) and s in settings["role_scopes"]}
    if not roles:
        raise Refused(422, "unmappable", f"no scope of {scopes!r} maps to a role (role_scopes)")
    role = min(roles, key=list(Role).index)  # the widest
    session = db_session()
    territories = []
    for key in _codes(form.get(settings["territories_field"])):
        level, _, code = key.partition("-")
        territory = session.scalar(select(Territory).where(Territory.level == level, Territory.code == code,
                                                          Territory.valid_to.is_(None)))
        if territory is None:
            raise Refused(422, "unmappable", f"{settings['territories_field']}: unknown territory {key!r}")
        territories.append(territory)
    if role in TERRITORIAL_ROLES and not territories:
        raise Refused(422, "unmappable", f"{settings['territories_field']}: role {role.value} needs a territory")
    policies = []
    for code in _codes(form.get(settings["policies_field"])):
        policy = session.scalar(select(Policy).where(Policy.code == code))
        if policy is None:
            raise Refused(422, "unmappable", f"{settings['policies_field']}: unknown policy {code!r}")
        policies.append(policy)
    organisation = None
    org_code = form.get(settings["organisation_field"])
    if org_code:
        organisation = session.scalar(select(Organisation).where(Organisation.code == str(org_code)))
        if organisation is None:
            raise Refused(422, "unmappable", f"{settings['organisation_field']}: unknown organisation {org_code!r}")
    expires_at = utcnow() + dt.timedelta(days=settings["grant_days"])
    until = form.get(settings["until_field"])
    if until:
        try:
            expires_at = grants.end_of_day(dt.date.fromisoformat(str(until)[:10]))
        except ValueError:
            raise Refused(422, "unmappable", f"{settings['until_field']}: not a date: {until!r}") from None
    user = _applicant_user(applicant, settings)
    for previous in grants.active_for_habilitation(str(habilitation["id"])):
        grants.revoke(previous, by_id=None, reason="DataPass: superseded by a new validation")
    return grants.create_grant(user=user, role=role, territories=territories, policies=policies,
                               organisation=organisation, expires_at=expires_at, origin="webhook",
                               habilitation_id=str(habilitation["id"])[:80])


def _applicant_user(applicant: dict, settings) -> User:
    email = applicant["email"].strip().lower()
    session = db_session()
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        if not settings["create_users"]:
            raise Refused(422, "unknown_applicant", f"no account for {email} (create_users = false)")
        name = " ".join(p for p in (applicant.get("given_name"), applicant.get("family_name")) if p)
        user = User(email=email, name=(name or email)[:200], password_hash=None)
        session.add(user)
        current_app.logger.info("datapass: account created for %s", email)
    return user
