"""Catalogue administration: policies (name, description, contacts, group, ministry, kind,
public flag, status), indicators and their parameters (aggregation method checked against the
registered methods), and the territories of custom grids. Optimistic versions, audited writes,
marshmallow validation with errors located on their field."""

from __future__ import annotations

import decimal

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from core.db import session as db_session
from core.models import (
    Direction,
    Indicator,
    IndicatorCategory,
    IndicatorWeight,
    Organisation,
    Periodicity,
    Policy,
    PolicyContact,
    PolicyGroup,
    PolicyStatus,
    Territory,
)
from core.permissions import requires
from core.views.entry import actor, french_errors, post_requires

bp = Blueprint("admin_catalog", __name__, url_prefix="/admin/catalogue")
CONTACT_ROLES = ("owner", "contact", "data")


def config():
    return current_app.extensions["pilote"].config


def form_data() -> dict:
    return {k: v.strip() for k, v in request.form.items() if k != "csrf_token"}


def optional_id(value: str):
    return int(value) if value else None


# --------------------------------------------------------------------------- index
@bp.route("/")
@requires("catalog.edit")
def index():
    session = db_session()
    policies = session.scalars(select(Policy).options(selectinload(Policy.indicators))
                               .order_by(Policy.code)).all()
    return render_template("admin/catalog_index.html", policies=policies)


# --------------------------------------------------------------------------- policies
class PolicySchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    short_name = fields.String(load_default=None, validate=validate.Length(max=120))
    description = fields.String(load_default="")
    kind = fields.String(required=True)
    status = fields.Enum(PolicyStatus, by_value=True, required=True)
    group_id = fields.Integer(load_default=None, allow_none=True)
    organisation_id = fields.Integer(load_default=None, allow_none=True)
    is_public = fields.Boolean(load_default=False)
    contacts = fields.String(load_default="")
    version = fields.Integer(required=True)

    @validates("kind")
    def _kind(self, value, **_kw):
        if value not in {k["key"] for k in config().policy_kinds}:
            raise ValidationError(_("Type de politique inconnu."))

    @validates("group_id")
    def _group(self, value, **_kw):
        if value is not None and db_session().get(PolicyGroup, value) is None:
            raise ValidationError(_("Regroupement inconnu."))

    @validates("organisation_id")
    def _organisation(self, value, **_kw):
        if value is not None and db_session().get(Organisation, value) is None:
            raise ValidationError(_("Ministère inconnu."))


def parse_contacts(text: str) -> tuple[list[dict], list[str]]:
    """One contact per line: ``rôle ; nom ; adresse``; problems name their line."""
    contacts, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";")]
        if len(parts) != 3:
            problems.append(_("ligne %(n)s : trois champs attendus (rôle ; nom ; adresse).", n=number))
            continue
        role, name, email = parts
        if role not in CONTACT_ROLES:
            problems.append(_("ligne %(n)s : rôle « %(role)s » inconnu (owner, contact ou data).", n=number, role=role))
        elif not name or "@" not in email or len(email) > 254:
            problems.append(_("ligne %(n)s : nom ou adresse électronique invalide.", n=number))
        else:
            contacts.append({"role": role, "name": name[:200], "email": email})
    return contacts, problems


def contacts_text(policy: Policy) -> str:
    return "\n".join(f"{c.role} ; {c.name} ; {c.email}" for c in policy.contacts if c.territory_id is None)


@bp.route("/politiques/<code>", methods=["GET", "POST"])
@requires("catalog.edit")
def policy(code: str):
    session = db_session()
    item = session.scalar(select(Policy).where(Policy.code == code).options(selectinload(Policy.contacts)))
    if item is None:
        abort(404)
    errors, data = {}, {}
    if request.method == "POST":
        data = form_data()
        data["description"] = request.form.get("description", "")
        raw = {**data, "is_public": data.get("is_public") == "1",
               "group_id": data.get("group_id") or None, "organisation_id": data.get("organisation_id") or None,
               "short_name": data.get("short_name") or None}
        try:
            loaded = PolicySchema().load(raw)
        except ValidationError as err:
            errors = french_errors(err.messages)
            loaded = None
        contacts, problems = parse_contacts(request.form.get("contacts", ""))
        if problems:
            errors["contacts"] = " ".join(problems)
        if loaded and not errors:
            if loaded["version"] != item.version:
                return render_template("admin/catalog_conflict.html", kind="policy", item=item,
                                       mine=loaded, back=url_for("admin_catalog.policy", code=code)), 409
            try:
                with actor():
                    for key in ("name", "short_name", "description", "kind", "status", "group_id",
                                "organisation_id", "is_public"):
                        setattr(item, key, loaded[key])
                    national = {(c.role, c.email.lower()): c for c in item.contacts if c.territory_id is None}
                    wanted = {(c["role"], c["email"].lower()): c for c in contacts}
                    for key, contact in national.items():
                        if key not in wanted:
                            session.delete(contact)
                        elif contact.name != wanted[key]["name"]:
                            contact.name = wanted[key]["name"]
                    for key, c in wanted.items():
                        if key not in national:
                            session.add(PolicyContact(policy_id=item.id, **c))
                    session.commit()
            except StaleDataError:
                session.rollback()
                item = session.get(Policy, item.id, populate_existing=True)
                return render_template("admin/catalog_conflict.html", kind="policy", item=item,
                                       mine=loaded, back=url_for("admin_catalog.policy", code=code)), 409
            flash(_("Politique enregistrée."), "success")
            return redirect(url_for("admin_catalog.policy", code=code))
    session_ = db_session()
    return render_template(
        "admin/catalog_policy.html", item=item, errors=errors, data=data,
        contacts=contacts_text(item), kinds=config().policy_kinds,
        groups=session_.scalars(select(PolicyGroup).order_by(PolicyGroup.position)).all(),
        organisations=session_.scalars(select(Organisation).order_by(Organisation.name)).all(),
    ), (422 if errors else 200)


# --------------------------------------------------------------------------- indicators
def aggregation_keys() -> dict[str, str]:
    return {key: method.label for key, method in current_app.extensions["pilote"].aggregation_methods.items()}


class IndicatorSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    description = fields.String(load_default="")
    unit = fields.String(load_default="", validate=validate.Length(max=60))
    decimals = fields.Integer(load_default=0, validate=validate.Range(min=0, max=8))
    direction = fields.Enum(Direction, by_value=True, required=True)
    periodicity = fields.Enum(Periodicity, by_value=True, required=True)
    availability_delay_months = fields.Integer(load_default=0, validate=validate.Range(min=0, max=120))
    source = fields.String(load_default="", validate=validate.Length(max=300))
    source_url = fields.Url(load_default=None, allow_none=True, validate=validate.Length(max=500))
    calculation_method = fields.String(load_default="")
    aggregation_method = fields.String(required=True)
    category = fields.Enum(IndicatorCategory, by_value=True, required=True)
    is_public = fields.Boolean(load_default=False)
    min_value = fields.Decimal(load_default=None, allow_none=True, allow_nan=False)
    max_value = fields.Decimal(load_default=None, allow_none=True, allow_nan=False)
    version = fields.Integer(required=True)

    @validates("aggregation_method")
    def _method(self, value, **_kw):
        if value not in aggregation_keys():
            raise ValidationError(_("Méthode d'agrégation inconnue : « %(key)s ». Méthodes possibles : %(keys)s.",
                                    key=value, keys=", ".join(sorted(aggregation_keys()))))


def parse_weights(form) -> tuple[dict[str, decimal.Decimal | None], dict[str, str]]:
    weights, errors = {}, {}
    for level in config().level_keys:
        raw = form.get(f"weight_{level}", "").strip().replace(",", ".")
        if not raw:
            weights[level] = None
            continue
        try:
            value = decimal.Decimal(raw)
            if not value.is_finite() or value < 0 or value > 100:
                raise decimal.InvalidOperation
            weights[level] = value
        except decimal.InvalidOperation:
            errors[f"weight_{level}"] = _("Pondération entre 0 et 100 attendue.")
    return weights, errors


@bp.route("/indicateurs/<code>", methods=["GET", "POST"])
@requires("catalog.edit")
def indicator(code: str):
    session = db_session()
    item = session.scalar(select(Indicator).where(Indicator.code == code).options(selectinload(Indicator.weights)))
    if item is None:
        abort(404)
    errors, data = {}, {}
    if request.method == "POST":
        data = form_data()
        for key in ("description", "calculation_method"):
            data[key] = request.form.get(key, "")
        raw = {k: (v if v != "" else None) for k, v in data.items() if not k.startswith("weight_")}
        for key in ("description", "calculation_method", "unit", "source"):
            raw[key] = data.get(key, "")
        raw["is_public"] = data.get("is_public") == "1"
        raw = {k: v for k, v in raw.items() if v is not None or k in ("source_url", "min_value", "max_value")}
        try:
            loaded = IndicatorSchema().load(raw)
        except ValidationError as err:
            errors = french_errors(err.messages)
            loaded = None
        weights, weight_errors = parse_weights(request.form)
        errors.update(weight_errors)
        if loaded and not errors:
            if loaded["version"] != item.version:
                return render_template("admin/catalog_conflict.html", kind="indicator", item=item,
                                       mine=loaded, back=url_for("admin_catalog.indicator", code=code)), 409
            try:
                with actor():
                    for key, value in loaded.items():
                        if key != "version":
                            setattr(item, key, value)
                    existing = {w.level: w for w in item.weights}
                    for level, value in weights.items():
                        if value is None and level in existing:
                            item.weights.remove(existing[level])
                        elif value is not None and level in existing:
                            existing[level].weight = value
                        elif value is not None:
                            item.weights.append(IndicatorWeight(level=level, weight=value))
                    session.flush()
                    from core.engine.recompute import recompute

                    recompute(session, indicator_ids={item.id})
                    session.commit()
            except StaleDataError:
                session.rollback()
                item = session.get(Indicator, item.id, populate_existing=True)
                return render_template("admin/catalog_conflict.html", kind="indicator", item=item,
                                       mine=loaded, back=url_for("admin_catalog.indicator", code=code)), 409
            flash(_("Indicateur enregistré ; les taux d'avancement sont recalculés."), "success")
            return redirect(url_for("admin_catalog.indicator", code=code))
    top = session.scalar(select(Territory).where(Territory.level == config().level_keys[0],
                                                 Territory.valid_to.is_(None)).order_by(Territory.code).limit(1))
    return render_template(
        "admin/catalog_indicator.html", item=item, errors=errors, data=data, top=top,
        methods=aggregation_keys(), levels=config().levels,
        weights={w.level: w.weight for w in item.weights},
    ), (422 if errors else 200)


# --------------------------------------------------------------------------- grids
def custom_levels() -> dict[str, dict]:
    """Levels of the grids Pilote does not load from a reference (``reference = "none"``)."""
    out = {}
    for grid in config().grids:
        if grid.get("reference", "none") == "none":
            for level in grid["levels"]:
                out[level["key"]] = {**level, "grid": grid["key"]}
    return out


@bp.route("/maillages")
@requires("catalog.edit")
def grids():
    session = db_session()
    counts = {}
    for grid in config().grids:
        for level in grid["levels"]:
            counts[(grid["key"], level["key"])] = session.scalar(
                select(Territory.id).where(Territory.grid == grid["key"], Territory.level == level["key"])
                .limit(1)) is not None
    custom = custom_levels()
    territories = session.scalars(select(Territory).where(Territory.level.in_(list(custom)),
                                                          Territory.valid_to.is_(None))
                                  .order_by(Territory.level, Territory.code)).all() if custom else []
    parents = {}
    for key, level in custom.items():
        if level.get("parent"):
            parents[key] = session.scalars(select(Territory).where(
                Territory.level == level["parent"], Territory.valid_to.is_(None))
                .order_by(Territory.code).limit(500)).all()
    return render_template("admin/catalog_grids.html", grids=config().grids, custom=custom,
                           territories=territories, parents=parents,
                           errors=request.args.get("erreur", ""))


class TerritorySchema(Schema):
    level = fields.String(required=True)
    code = fields.String(required=True, validate=[validate.Length(min=1, max=40),
                                                  validate.Regexp(r"^[0-9A-Za-z_-]+$")])
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    parent_id = fields.Integer(load_default=None, allow_none=True)


@bp.route("/maillages/territoires", methods=["POST"])
@post_requires("catalog.edit")
def add_territory():
    session = db_session()
    data = form_data()
    custom = custom_levels()
    try:
        loaded = TerritorySchema().load({k: v for k, v in data.items() if v != ""})
    except ValidationError as err:
        flash(_("Territoire refusé : %(why)s", why=" ".join(f"{k} : {v}" for k, v in french_errors(err.messages).items())), "error")
        return redirect(url_for("admin_catalog.grids"))
    level = custom.get(loaded["level"])
    if level is None:
        flash(_("Ce niveau n'est pas un maillage personnalisé : ses territoires viennent du référentiel."), "error")
        return redirect(url_for("admin_catalog.grids"))
    parent = session.get(Territory, loaded["parent_id"]) if loaded["parent_id"] else None
    if level.get("parent") and (parent is None or parent.level != level["parent"]):
        flash(_("Choisissez le territoire parent (niveau %(level)s).", level=level["parent"]), "error")
        return redirect(url_for("admin_catalog.grids"))
    if session.scalar(select(Territory.id).where(Territory.grid == level["grid"], Territory.level == level["key"],
                                                 Territory.code == loaded["code"])):
        flash(_("Le code %(code)s existe déjà à ce niveau.", code=loaded["code"]), "error")
        return redirect(url_for("admin_catalog.grids"))
    with actor():
        session.add(Territory(grid=level["grid"], level=level["key"], code=loaded["code"],
                              name=loaded["name"], parent_id=parent.id if parent else None))
        session.commit()
    flash(_("Territoire %(name)s ajouté.", name=loaded["name"]), "success")
    return redirect(url_for("admin_catalog.grids"))


@bp.route("/maillages/territoires/<int:territory_id>", methods=["POST"])
@post_requires("catalog.edit")
def rename_territory(territory_id: int):
    """Rename a territory of a custom grid; ``seen_name`` guards against a concurrent rename."""
    session = db_session()
    territory = session.get(Territory, territory_id)
    if territory is None:
        abort(404)
    if territory.level not in custom_levels():
        abort(403)
    name = request.form.get("name", "").strip()
    if not name or len(name) > 200:
        flash(_("Nom invalide (1 à 200 caractères)."), "error")
        return redirect(url_for("admin_catalog.grids"))
    if request.form.get("seen_name", "") != territory.name:
        flash(_("Conflit : ce territoire a été renommé entre-temps en « %(current)s » ; votre nom « %(mine)s » "
                "n'a pas été enregistré. Renommez-le à nouveau si nécessaire.", current=territory.name, mine=name),
              "error")
        return redirect(url_for("admin_catalog.grids"))
    with actor():
        territory.name = name
        session.commit()
    flash(_("Territoire renommé."), "success")
    return redirect(url_for("admin_catalog.grids"))
