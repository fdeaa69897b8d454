"""Data entry next to the data: a value for indicator × territory × date, weather + summary.

The partials ``entry/_value_form.html`` and ``entry/_weather_form.html`` are included by the
steering pages; they load their data with the Jinja globals registered here. Every POST
checks the role and the territorial scope, carries the version the user saw, and shows a
conflict page (both versions) instead of overwriting someone else's change.
"""

from __future__ import annotations

import datetime as dt
import functools
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from core.audit import acting_as
from core.db import session as db_session
from core.engine.recompute import reference_date
from core.engine.values import ConflictError, ValueInput, save_values
from core.events import emit
from core.models import (
    Channel,
    Indicator,
    IndicatorValue,
    Policy,
    Role,
    TargetScope,
    Territory,
    User,
    ValueKind,
    Weather,
    WeatherReport,
)
from core.permissions import can, effective_grants, public, require

bp = Blueprint("entry", __name__, url_prefix="/saisie")

WRITER_ROLES = {Role.CENTRAL_STEERING, Role.PREFECT, Role.TERRITORIAL_COORDINATOR,
                Role.LOCAL_CONTRIBUTOR}
# Which grants give an action on a territory (``None``: any grant covering the policy).
ACTION_ROLES = {"value.write": WRITER_ROLES, "weather.write": WRITER_ROLES,
                "comment.write": WRITER_ROLES, "value.propose": None}


# --------------------------------------------------------------------------- scope
def within(territory: Territory, root_id: int | None) -> bool:
    """``territory`` is ``root_id`` or below it (``None``: everywhere)."""
    node = territory
    while node is not None:
        if root_id is None or node.id == root_id:
            return True
        node = node.parent
    return False


def may(action: str, policy: Policy | None, territory: Territory | None, user=None) -> bool:
    """Role AND territorial scope: ``can(action, policy)`` and a grant of a fitting role
    covering the policy whose territory subtree holds ``territory``."""
    from core.defaults import _grant_covers

    user = current_user if user is None else user
    if policy is None or territory is None or not getattr(user, "is_authenticated", False):
        return False
    if not can(action, policy, user=user):
        return False
    grants = effective_grants(user)
    if any(g.role is Role.ADMIN for g in grants):
        return True
    roles = ACTION_ROLES.get(action)
    return any((roles is None or g.role in roles) and _grant_covers(g, policy)
               and within(territory, g.territory_id) for g in grants)


def post_requires(action: str):
    """For POST-only views: sign-in, then ``action`` (403 otherwise). Marked ``authenticated``
    for the route audit, which fetches GET pages only; the action is still enforced here."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            require(action)
            return view(*args, **kwargs)

        wrapped.pilote_permission = "authenticated"
        return wrapped

    return decorator


def safe_next(target: str | None, default: str) -> str:
    """A local path to go back to (never another site)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return default


def actor():
    return acting_as(current_user.id, current_user.email, "form")


def today() -> dt.date:
    return reference_date(None)


def user_name(user_id: int | None) -> str:
    if user_id is None:
        return _("import ou système")
    user = db_session().get(User, user_id)
    return user.name if user else "–"


# --------------------------------------------------------------------------- values
def latest_value(indicator_id: int, territory_id: int, kind: ValueKind = ValueKind.ACTUAL):
    return db_session().scalar(
        select(IndicatorValue).where(
            IndicatorValue.indicator_id == indicator_id, IndicatorValue.territory_id == territory_id,
            IndicatorValue.kind == kind, IndicatorValue.value.is_not(None))
        .order_by(IndicatorValue.date.desc()).limit(1))


@bp.app_template_global()
def entry_value_form(indicator: Indicator, territory: Territory, policy: Policy | None = None) -> dict:
    """What ``entry/_value_form.html`` needs: rights, the current value and its version."""
    policy = policy or indicator.policy
    can_write = may("value.write", policy, territory)
    can_propose = may("value.propose", policy, territory)
    current = latest_value(indicator.id, territory.id) if (can_write or can_propose) else None
    return {
        "can_write": can_write, "can_propose": can_propose, "current": current,
        "author": user_name(current.author_id) if current else None,
        "today": today(), "kinds": list(ValueKind), "scopes": list(TargetScope),
        "next": request.full_path.rstrip("?") if request else "/",
    }


class ValueSchema(Schema):
    indicator_id = fields.Integer(required=True)
    territory_id = fields.Integer(required=True)
    kind = fields.Enum(ValueKind, by_value=True, load_default=ValueKind.ACTUAL)
    target_scope = fields.Enum(TargetScope, by_value=True, load_default=None, allow_none=True)
    date = fields.Date(required=True)
    value = fields.Decimal(required=True, allow_nan=False, places=None,
                           validate=validate.Range(min=-10 ** 19, max=10 ** 19))
    source = fields.String(load_default="", validate=validate.Length(max=300))
    seen_date = fields.Date(load_default=None, allow_none=True)
    seen_kind = fields.String(load_default="")
    seen_version = fields.Integer(load_default=None, allow_none=True)
    next = fields.String(load_default="")


def clean_form(form) -> dict:
    """Form fields as a dict, blank strings dropped (so defaults apply), decimals with a comma."""
    data = {k: v.strip() for k, v in form.items() if k != "csrf_token" and v.strip() != ""}
    if "value" in data:
        data["value"] = data["value"].replace("\u202f", "").replace(" ", "").replace(",", ".")
    return data


def load_target(indicator_id: int, territory_id: int) -> tuple[Indicator, Territory]:
    session = db_session()
    indicator = session.get(Indicator, indicator_id)
    territory = session.get(Territory, territory_id)
    if indicator is None or territory is None:
        abort(404)
    return indicator, territory


@bp.route("/valeur", methods=["POST"])
@public  # the object check below decides (role and territorial scope)
def save_value():
    """Write one value through ``save_values``; a stale version shows the conflict page."""
    if not current_user.is_authenticated:
        abort(401)
    raw = clean_form(request.form)
    try:
        ids = {k: int(raw.get(k, "")) for k in ("indicator_id", "territory_id")}
    except ValueError:
        abort(400)
    indicator, territory = load_target(ids["indicator_id"], ids["territory_id"])
    if not may("value.write", indicator.policy, territory):
        abort(403)
    back = safe_next(raw.get("next"), url_for("core.policy", code=indicator.policy.code,
                                              territoire=territory.key))
    try:
        data = ValueSchema().load(raw)
    except ValidationError as err:
        return value_page(indicator, territory, raw, err.messages, back), 422
    if data["kind"] is ValueKind.TARGET and data["target_scope"] is None:
        data["target_scope"] = TargetScope.ANNUAL
    if data["kind"] is not ValueKind.TARGET:
        data["target_scope"] = None
    same = data["seen_date"] == data["date"] and data["seen_kind"] == data["kind"].value
    expected = data["seen_version"] if same and data["seen_version"] is not None else 0
    entry = ValueInput(indicator.id, territory.id, data["kind"], data["date"], data["value"],
                       target_scope=data["target_scope"], source=data["source"] or "",
                       expected_version=expected)
    session = db_session()
    try:
        with actor():
            report = save_values(session, [entry], channel=Channel.FORM, author_id=current_user.id)
            session.commit()
    except ConflictError as exc:
        session.rollback()
        return conflict_page(indicator, territory, data, exc, back), 409
    if report.unchanged:
        flash(_("Valeur inchangée : %(value)s.", value=data["value"]), "info")
    else:
        flash(_("Valeur enregistrée pour « %(name)s » (%(territory)s, %(date)s). Les taux "
                "d'avancement sont recalculés.", name=indicator.name, territory=territory.name,
                date=data["date"].isoformat()), "success")
    return redirect(back)


def value_page(indicator, territory, raw, errors, back):
    return render_template("entry/value_page.html", indicator=indicator, territory=territory,
                           policy=indicator.policy, entry_data=raw, entry_errors=french_errors(errors), back=back)


def conflict_page(indicator, territory, data, exc: ConflictError, back):
    stored = {"value": exc.current_value, "version": exc.current_version,
              "author": user_name(exc.current_author_id), "at": exc.current_recorded_at}
    return render_template("entry/conflict.html", indicator=indicator, territory=territory,
                           policy=indicator.policy, mine=data, stored=stored, back=back)


@bp.route("/indicateurs/<code>")
@public  # the object checks below decide; read-only for those who may not write
def value_form(code: str):
    """The value form on its own page (without JavaScript, after an error, deep links)."""
    from core.views.pages import selected_territory

    indicator = db_session().scalar(select(Indicator).where(Indicator.code == code))
    if indicator is None:
        abort(404)
    if not current_user.is_authenticated:
        abort(401)
    if not can("indicator.read", indicator):
        abort(403)
    territory = selected_territory()
    back = url_for("core.policy", code=indicator.policy.code, territoire=territory.key)
    return value_page(indicator, territory, {}, {}, back)


# --------------------------------------------------------------------------- weather
def latest_weather(policy_id: int, territory_id: int) -> WeatherReport | None:
    return db_session().scalar(
        select(WeatherReport).where(WeatherReport.policy_id == policy_id,
                                    WeatherReport.territory_id == territory_id)
        .order_by(WeatherReport.created_at.desc(), WeatherReport.id.desc()).limit(1))


@bp.app_template_global()
def entry_weather_form(policy: Policy, territory: Territory) -> dict:
    """What ``entry/_weather_form.html`` needs: the current rating and whether one may write."""
    current = latest_weather(policy.id, territory.id) if policy and territory else None
    return {"can_write": may("weather.write", policy, territory), "current": current,
            "choices": list(Weather),
            "next": request.full_path.rstrip("?") if request else "/"}


class WeatherSchema(Schema):
    policy_id = fields.Integer(required=True)
    territory_id = fields.Integer(required=True)
    weather = fields.Enum(Weather, by_value=True, required=True)
    summary = fields.String(load_default="", validate=validate.Length(max=10000))
    seen_id = fields.Integer(load_default=0)
    next = fields.String(load_default="")


@bp.route("/meteo", methods=["POST"])
@public  # the object check below decides (role and territorial scope)
def save_weather():
    """Append a weather report; if another one was saved since the form was shown, show both."""
    if not current_user.is_authenticated:
        abort(401)
    raw = clean_form(request.form)
    session = db_session()
    try:
        policy = session.get(Policy, int(raw.get("policy_id", "")))
        territory = session.get(Territory, int(raw.get("territory_id", "")))
    except ValueError:
        abort(400)
    if policy is None or territory is None:
        abort(404)
    if not may("weather.write", policy, territory):
        abort(403)
    back = safe_next(raw.get("next"), url_for("core.policy", code=policy.code, territoire=territory.key))
    try:
        data = WeatherSchema().load({**raw, "summary": request.form.get("summary", "")})
    except ValidationError as err:
        return render_template("entry/weather_page.html", policy=policy, territory=territory,
                               entry_data=raw, entry_errors=french_errors(err.messages), back=back), 422
    current = latest_weather(policy.id, territory.id)
    if current is not None and current.id != data["seen_id"]:
        return render_template("entry/weather_conflict.html", policy=policy, territory=territory,
                               mine=data, stored=current, back=back), 409
    with actor():
        report = WeatherReport(policy_id=policy.id, territory_id=territory.id,
                               weather=data["weather"], summary=data["summary"].strip(),
                               author_id=current_user.id)
        session.add(report)
        session.flush()
        emit(session, "weather_saved", policy_id=policy.id, territory_id=territory.id,
             report_id=report.id)
        session.commit()
    flash(_("Météo enregistrée pour %(territory)s.", territory=territory.name), "success")
    return redirect(back)


def french_errors(messages: dict) -> dict[str, str]:
    """Marshmallow's messages per field, in the UI language (one sentence per field)."""
    known = {
        "Not a valid number.": _("Ce n'est pas un nombre valide."),
        "Not a valid date.": _("Date invalide (format AAAA-MM-JJ)."),
        "Not a valid integer.": _("Ce n'est pas un nombre entier."),
        "Missing data for required field.": _("Champ obligatoire."),
        "Field may not be null.": _("Champ obligatoire."),
        "Not a valid string.": _("Texte invalide."),
    }
    out = {}
    for name, errors in messages.items():
        if isinstance(errors, dict):
            errors = [m for sub in errors.values() for m in (sub if isinstance(sub, list) else [sub])]
        text = []
        for message in errors if isinstance(errors, list) else [errors]:
            message = str(message)
            if message in known:
                text.append(known[message])
            elif message.startswith("Must be one of") or message.startswith("Must be"):
                text.append(_("Valeur non autorisée."))
            elif message.startswith("Longer than") or message.startswith("Length must be"):
                text.append(_("Texte trop long."))
            else:
                text.append(message)
        out[name] = " ".join(text)
    return out
