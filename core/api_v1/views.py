"""The endpoints of ``/api/v1``: reads of policies, indicators, territories, values and
figures; writes of values and comments; the caller's API tokens.

Scope, everywhere: listings are filtered by ``scope("policy.read", Policy)`` so they never
show what the caller may not read; a single resource the caller may not read answers 404,
exactly like one that does not exist, so that the API does not reveal what exists. Anonymous
callers see public published policies and, of those, the public indicators only.
Writes need an API token with write rights, ``can("value.write" | "comment.write", policy)``
and one grant of a writer role covering both the policy and the territory written to.
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any, Callable
from urllib.parse import urlencode

from flask import Response, current_app, request, url_for
from marshmallow import Schema, ValidationError
from sqlalchemy import case, func, or_, select, true, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from core import __version__, audit
from core.api_v1 import bp
from core.api_v1 import schemas as s
from core.api_v1.errors import ApiError, error_entry, query_errors, validation_errors
from core.api_v1.openapi import documented
from core.api_v1.tokens import (
    Caller,
    create_token,
    current_caller,
    require_session_write,
    require_token_write,
    revoke_token,
)
from core.db import session as db_session
from core.engine.values import ConflictError, ValueInput, save_values
from core.models import (
    ApiToken,
    Channel,
    Comment,
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    Organisation,
    Policy,
    PolicyContact,
    PolicyFigure,
    PolicyGroup,
    PolicyStatus,
    Role,
    Territory,
    User,
    ValueKind,
)
from core.permissions import can, effective_grants, public, scope

MAX_BULK = 10_000


def authenticated(view):
    """Route-audit marker: any signed-in caller (session or token); checked in the view."""
    view.pilote_permission = "authenticated"
    return view


class View:
    """An object seen through a few overridden attributes (what a schema dumps)."""

    def __init__(self, obj: Any, **overrides: Any):
        self._obj = obj
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._obj, name)


# --------------------------------------------------------------------------- helpers
def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = current_app.json.response(data)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def json_body() -> Any:
    if not request.is_json:
        raise ApiError(415, "Send a JSON body (Content-Type: application/json).")
    try:
        return json.loads(request.get_data(as_text=True), parse_float=decimal.Decimal)
    except ValueError:
        raise ApiError(400, "The body is not valid JSON.") from None


def load_query(schema_cls: type[Schema]) -> dict[str, Any]:
    try:
        return schema_cls().load(request.args.to_dict())
    except ValidationError as exc:
        raise ApiError(422, "Invalid query parameters.", type="validation",
                       errors=query_errors(exc.messages)) from None


def query_problem(field: str, detail: str) -> ApiError:
    return ApiError(422, "Invalid query parameters.", type="validation",
                    errors=[{"field": field, "in": "query", "detail": detail}])


def level_keys() -> list[str]:
    return current_app.extensions["pilote"].config.level_keys


def level_rank():
    """ORDER BY expression: the instance's levels from the top down."""
    levels = level_keys()
    return case({key: rank for rank, key in enumerate(levels)}, value=Territory.level, else_=len(levels))


def find_territory(key: str) -> Territory | None:
    """The territory of ``<level>-<code>``: the current one, else the most recent closed one."""
    level, sep, code = (key or "").partition("-")
    if not sep or not level or not code:
        return None
    return db_session().scalar(
        select(Territory).where(Territory.level == level, Territory.code == code)
        .order_by(Territory.valid_to.is_not(None), Territory.valid_from.desc()).limit(1)
    )


def territory_filter(key: str, field: str) -> Territory:
    territory = find_territory(key)
    if territory is None:
        raise query_problem(field, f"Unknown territory {key!r} (form: <level>-<code>).")
    return territory


def level_filter(level: str, field: str = "level") -> str:
    if level not in level_keys():
        raise query_problem(field, f"Unknown level {level!r} (levels: {', '.join(level_keys())}).")
    return level


def ancestors(territory: Territory) -> list[Territory]:
    """The territory and its ancestors, bottom-up."""
    out, node, seen = [], territory, set()
    while node is not None and node.id not in seen:
        out.append(node)
        seen.add(node.id)
        node = node.parent
    return out


def paginate(query, args: dict[str, Any], dump: Callable[[Any], Any], options=()) -> Response:
    """``{items, page, per_page, total}`` with ``Link`` (first, prev, next, last) headers."""
    session = db_session()
    page, per_page = args["page"], args["per_page"]
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.options(*options).limit(per_page).offset((page - 1) * per_page)).all()
    return page_response([dump(row) for row in rows], page, per_page, total)


def page_response(items: list, page: int, per_page: int, total: int) -> Response:
    last = max(1, math.ceil(total / per_page))
    links = {"first": 1, "last": last}
    if page > 1:
        links["prev"] = min(page - 1, last)
    if page < last:
        links["next"] = page + 1
    base = request.args.to_dict()

    def href(number: int) -> str:
        return request.base_url + "?" + urlencode({**base, "page": number, "per_page": per_page})

    link = ", ".join(f'<{href(n)}>; rel="{rel}"' for rel, n in links.items())
    return json_response(
        {"items": items, "page": page, "per_page": per_page, "total": total},
        headers={"Link": link, "X-Total-Count": str(total)},
    )


# --------------------------------------------------------------------------- scope
def indicator_visible(caller: Caller):
    """Anonymous callers see the public indicators only (of policies they may read)."""
    return true() if caller.authenticated else Indicator.is_public.is_(True)


def readable_policy(code: str, caller: Caller, *options) -> Policy:
    policy = db_session().scalar(
        select(Policy).where(Policy.code == code, scope("policy.read", Policy, user=caller.user))
        .options(*options)
    )
    if policy is None or not can("policy.read", policy, user=caller.user):
        raise ApiError(404, f"No policy {code!r}.")
    return policy


def readable_indicator(code: str, caller: Caller) -> Indicator:
    indicator = db_session().scalar(
        select(Indicator).join(Policy, Indicator.policy_id == Policy.id)
        .where(Indicator.code == code, scope("policy.read", Policy, user=caller.user),
               indicator_visible(caller))
        .options(selectinload(Indicator.weights), selectinload(Indicator.policy))
    )
    if indicator is None or not can("policy.read", indicator.policy, user=caller.user):
        raise ApiError(404, f"No indicator {code!r}.")
    return indicator


def hidden_indicator_codes(policy: Policy, caller: Caller) -> set[str]:
    if caller.authenticated:
        return set()
    return {ind.code for ind in policy.indicators if not ind.is_public}


def public_explanation(explanation: dict, hidden: set[str]) -> dict:
    """An explanation without the indicators the caller may not see."""
    if not hidden or not isinstance(explanation, dict):
        return explanation
    out = dict(explanation)
    for key in ("weights", "indicators"):
        if isinstance(out.get(key), dict):
            out[key] = {code: v for code, v in out[key].items() if code not in hidden}
    if isinstance(out.get("missing"), list):
        out["missing"] = [code for code in out["missing"] if code not in hidden]
    return out


# Roles whose grants may carry a write, and roles that cover every policy. A grant counts for a
# write only if its role may write, its territory subtree holds the territory and its policy
# set holds the policy: with several grants, a reader grant valid everywhere never widens a
# contributor grant limited to one department.
WRITER_ROLES = frozenset({Role.ADMIN, Role.CENTRAL_STEERING, Role.PREFECT,
                          Role.TERRITORIAL_COORDINATOR, Role.LOCAL_CONTRIBUTOR})
ALL_POLICIES_ROLES = frozenset({Role.ADMIN, Role.CENTRAL_STEERING})


def _role(value: Any) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


def grant_covers_policy(grant: Any, policy: Policy) -> bool:
    if _role(grant.role) in ALL_POLICIES_ROLES:
        return True
    if grant.organisation_id is not None and policy.organisation_id == grant.organisation_id:
        return True
    if grant.policy_ids:
        return policy.id in grant.policy_ids
    return grant.organisation_id is None


def writable_here(user: Any, policy: Policy, territory: Territory) -> bool:
    """One grant of a writer role covers both the policy and the territory's subtree."""
    chain = {t.id for t in ancestors(territory)}
    return any(_role(g.role) in WRITER_ROLES
               and (g.territory_id is None or g.territory_id in chain)
               and grant_covers_policy(g, policy)
               for g in effective_grants(user))


def may_write(action: str, policy: Policy, territory: Territory, caller: Caller) -> bool:
    """The permission rules allow ``action`` on the policy (core and plugins vote) and one of
    the caller's grants covers the territory for it."""
    return can(action, policy, user=caller.user) and writable_here(caller.user, policy, territory)


# --------------------------------------------------------------------------- index
@bp.get("/")
@public
@documented("API entry point", description="Links to the OpenAPI document and its reference page.",
            tags=["meta"])
def index():
    current_caller()
    return json_response({
        "version": "v1",
        "pilote": __version__,
        "openapi": url_for("api_v1.openapi_json", _external=True),
        "docs": url_for("api_v1.docs", _external=True),
    })


# --------------------------------------------------------------------------- policies
@bp.get("/policies")
@public
@documented("List policies", query=s.PolicyQuerySchema, response=s.PolicySchema, paginated=True,
            tags=["policies"],
            description="Policies the caller may read (anonymous: public published ones), by code.")
def list_policies():
    caller = current_caller()
    args = load_query(s.PolicyQuerySchema)
    query = select(Policy).where(scope("policy.read", Policy, user=caller.user))
    if args.get("group"):
        query = query.where(Policy.group_id.in_(select(PolicyGroup.id).where(PolicyGroup.code == args["group"])))
    if args.get("organisation"):
        query = query.where(Policy.organisation_id.in_(
            select(Organisation.id).where(Organisation.code == args["organisation"])))
    if args.get("kind"):
        query = query.where(Policy.kind == args["kind"])
    if args.get("status"):
        query = query.where(Policy.status == args["status"])
    if args.get("q", "").strip():
        like = f"%{args['q'].strip()}%"
        query = query.where(or_(Policy.name.ilike(like), Policy.code.ilike(like),
                                Policy.short_name.ilike(like)))
    schema = s.PolicySchema()
    return paginate(query.order_by(Policy.code), args, schema.dump,
                    options=[selectinload(Policy.group), selectinload(Policy.organisation),
                             selectinload(Policy.territory)])


@bp.get("/policies/<code>")
@public
@documented("One policy", response=s.PolicyDetailSchema, tags=["policies"],
            description="With its indicators (anonymous: public ones) and its contacts.")
def get_policy(code: str):
    caller = current_caller()
    policy = readable_policy(
        code, caller, selectinload(Policy.indicators).selectinload(Indicator.weights),
        selectinload(Policy.contacts).selectinload(PolicyContact.territory),
        selectinload(Policy.group), selectinload(Policy.organisation), selectinload(Policy.territory))
    hidden = hidden_indicator_codes(policy, caller)
    view = View(policy, indicators=[i for i in policy.indicators if i.code not in hidden])
    return json_response(s.PolicyDetailSchema().dump(view))


@bp.get("/policies/<code>/figures")
@public
@documented("Progress of a policy by territory", query=s.PolicyFigureQuerySchema,
            response=s.PolicyFigureSchema, paginated=True, tags=["policies", "figures"],
            description="Stored figures (recomputed whenever a value changes), top level first.")
def policy_figures(code: str):
    caller = current_caller()
    args = load_query(s.PolicyFigureQuerySchema)
    policy = readable_policy(code, caller, selectinload(Policy.indicators))
    query = (select(PolicyFigure).join(Territory, PolicyFigure.territory_id == Territory.id)
             .where(PolicyFigure.policy_id == policy.id))
    if args.get("level"):
        query = query.where(Territory.level == level_filter(args["level"]))
    if args.get("territory"):
        query = query.where(Territory.id == territory_filter(args["territory"], "territory").id)
    if args.get("parent"):
        query = query.where(Territory.parent_id == territory_filter(args["parent"], "parent").id)
    hidden = hidden_indicator_codes(policy, caller)
    schema = s.PolicyFigureSchema()

    def dump(figure):
        return schema.dump(View(figure, explanation=public_explanation(figure.explanation, hidden)))

    return paginate(query.order_by(level_rank(), Territory.code), args, dump,
                    options=[selectinload(PolicyFigure.territory), selectinload(PolicyFigure.policy)])


# --------------------------------------------------------------------------- indicators
@bp.get("/indicators")
@public
@documented("List indicators", query=s.IndicatorQuerySchema, response=s.IndicatorSchema,
            paginated=True, tags=["indicators"],
            description="Indicators of the policies the caller may read, by policy and position.")
def list_indicators():
    caller = current_caller()
    args = load_query(s.IndicatorQuerySchema)
    query = (select(Indicator).join(Policy, Indicator.policy_id == Policy.id)
             .where(scope("policy.read", Policy, user=caller.user), indicator_visible(caller)))
    if args.get("policy"):
        query = query.where(Policy.code == args["policy"])
    if args.get("category"):
        query = query.where(Indicator.category == args["category"])
    if args.get("q", "").strip():
        like = f"%{args['q'].strip()}%"
        query = query.where(or_(Indicator.name.ilike(like), Indicator.code.ilike(like)))
    schema = s.IndicatorSchema()
    return paginate(query.order_by(Policy.code, Indicator.position, Indicator.code), args, schema.dump,
                    options=[selectinload(Indicator.weights), selectinload(Indicator.policy)])


@bp.get("/indicators/<code>")
@public
@documented("One indicator", response=s.IndicatorSchema, tags=["indicators"])
def get_indicator(code: str):
    caller = current_caller()
    return json_response(s.IndicatorSchema().dump(readable_indicator(code, caller)))


@bp.get("/indicators/<code>/values")
@public
@documented("Entered values of an indicator", query=s.ValueQuerySchema, response=s.ValueSchema,
            paginated=True, tags=["indicators", "values"],
            description="Values as entered (not the roll-ups), with their provenance: channel, "
                        "author (signed-in callers only), recorded_at and version.")
def indicator_values(code: str):
    caller = current_caller()
    args = load_query(s.ValueQuerySchema)
    indicator = readable_indicator(code, caller)
    query = (select(IndicatorValue).join(Territory, IndicatorValue.territory_id == Territory.id)
             .where(IndicatorValue.indicator_id == indicator.id))
    if args.get("territory"):
        query = query.where(Territory.id == territory_filter(args["territory"], "territory").id)
    if args.get("level"):
        query = query.where(Territory.level == level_filter(args["level"]))
    if args.get("kind"):
        query = query.where(IndicatorValue.kind == ValueKind(args["kind"]))
    if args.get("from_"):
        query = query.where(IndicatorValue.date >= args["from_"])
    if args.get("to"):
        query = query.where(IndicatorValue.date <= args["to"])
    schema = s.ValueSchema()
    options = [selectinload(IndicatorValue.territory)]
    if caller.authenticated:
        options.append(selectinload(IndicatorValue.author))
        dump = schema.dump
    else:
        def dump(value):
            return schema.dump(View(value, author=None))
    query = query.order_by(level_rank(), Territory.code, IndicatorValue.kind, IndicatorValue.date)
    return paginate(query, args, dump, options=options)


@bp.get("/indicators/<code>/figures")
@public
@documented("Progress of an indicator by territory", query=s.IndicatorFigureQuerySchema,
            response=s.IndicatorFigureSchema, paginated=True, tags=["indicators", "figures"])
def indicator_figures(code: str):
    caller = current_caller()
    args = load_query(s.IndicatorFigureQuerySchema)
    indicator = readable_indicator(code, caller)
    query = (select(IndicatorFigure).join(Territory, IndicatorFigure.territory_id == Territory.id)
             .where(IndicatorFigure.indicator_id == indicator.id))
    if args.get("territory"):
        query = query.where(Territory.id == territory_filter(args["territory"], "territory").id)
    if args.get("level"):
        query = query.where(Territory.level == level_filter(args["level"]))
    schema = s.IndicatorFigureSchema()
    return paginate(query.order_by(level_rank(), Territory.code), args, schema.dump,
                    options=[selectinload(IndicatorFigure.territory), selectinload(IndicatorFigure.indicator)])


# --------------------------------------------------------------------------- territories
@bp.get("/territories")
@public
@documented("List territories", query=s.TerritoryQuerySchema, response=s.TerritorySchema,
            paginated=True, tags=["territories"],
            description="Current territories (reference data, public), top level first.")
def list_territories():
    current_caller()
    args = load_query(s.TerritoryQuerySchema)
    query = select(Territory).where(Territory.valid_to.is_(None), Territory.level.in_(level_keys()))
    if args.get("level"):
        query = query.where(Territory.level == level_filter(args["level"]))
    if args.get("parent"):
        query = query.where(Territory.parent_id == territory_filter(args["parent"], "parent").id)
    if args.get("q", "").strip():
        text = args["q"].strip()
        query = query.where(or_(Territory.name.ilike(f"%{text}%"), Territory.code == text))
    schema = s.TerritorySchema()
    return paginate(query.order_by(level_rank(), Territory.code), args, schema.dump,
                    options=[selectinload(Territory.parent)])


@bp.get("/territories/<level>-<code>")
@public
@documented("One territory", response=s.TerritorySchema, tags=["territories"],
            description="By key `<level>-<code>` (`department-2A`); a closed territory is found "
                        "too when no current one has that key.")
def get_territory(level: str, code: str):
    current_caller()
    key = f"{level}-{code}"  # the rule splits at the last dash; keys split at the first one
    territory = find_territory(key)
    if territory is None or territory.level not in level_keys():
        raise ApiError(404, f"No territory {key!r}.")
    return json_response(s.TerritorySchema().dump(territory))


# --------------------------------------------------------------------------- alerts, completeness
def steered_policies(caller: Caller, code: str | None = None) -> list[Policy]:
    """The policies the caller may read (archived ones left out), by code."""
    query = (select(Policy).where(scope("policy.read", Policy, user=caller.user),
                                  Policy.status != PolicyStatus.ARCHIVED).order_by(Policy.code))
    if code:
        query = query.where(Policy.code == code)
    policies = [p for p in db_session().scalars(query) if can("policy.read", p, user=caller.user)]
    if code and not policies:
        raise query_problem("policy", f"Unknown policy {code!r}.")
    return policies


@bp.get("/alerts")
@authenticated
@documented("Alerts", query=s.AlertQuerySchema, response=s.AlertSchema, paginated=True,
            auth="authenticated", tags=["alerts"],
            description="Alerts raised now (computed on read) for the policies the caller may "
                        "read, in every territory where they are steered; by policy, then "
                        "territory from the top level down, then rule.")
def list_alerts():
    from core.engine.alerts import alerts_for

    caller = current_caller()
    _signed_in(caller)
    args = load_query(s.AlertQuerySchema)
    policies = steered_policies(caller, args.get("policy"))
    query = select(Territory).where(Territory.valid_to.is_(None), Territory.level.in_(level_keys()))
    if args.get("territory"):
        query = query.where(Territory.id == territory_filter(args["territory"], "territory").id)
    if args.get("level"):
        query = query.where(Territory.level == level_filter(args["level"]))
    territories = {t.id: t for t in db_session().scalars(query.order_by(level_rank(), Territory.code))}
    session = db_session()
    alerts = alerts_for(session, [p.id for p in policies], list(territories))
    if args.get("key"):
        alerts = [a for a in alerts if a.key == args["key"]]
    page, per_page = args["page"], args["per_page"]
    chosen = alerts[(page - 1) * per_page: page * per_page]
    codes = {p.id: p.code for p in policies}
    schema = s.AlertSchema()
    items = [schema.dump({"key": a.key, "label": str(a.label), "policy": codes[a.policy_id],
                          "territory": territories[a.territory_id], "detail": a.detail or ""})
             for a in chosen]
    return page_response(items, page, per_page, len(alerts))


@bp.get("/completeness")
@authenticated
@documented("Completeness of the entries", query=s.CompletenessQuerySchema,
            response=s.CompletenessSchema, auth="authenticated", tags=["completeness"],
            description="Expected versus received entries over a window (default: the 12 months "
                        "before the current month), for the published policies the caller may "
                        "read: in total, per policy, per territory (its whole subtree), per "
                        "contributor, and the entry pairs nobody covers.")
def get_completeness():
    from core.engine.completeness import completeness

    caller = current_caller()
    _signed_in(caller)
    args = load_query(s.CompletenessQuerySchema)
    policies = steered_policies(caller, args.get("policy"))
    territory = territory_filter(args["territory"], "territory") if args.get("territory") else None
    level = level_filter(args["level"]) if args.get("level") else None
    if args.get("from_") and args.get("to") and args["from_"] > args["to"]:
        raise query_problem("from", "The window starts after it ends.")
    session = db_session()
    report = completeness(session, policy_ids=[p.id for p in policies],
                          territory_ids=[territory.id] if territory else None,
                          start=args.get("from_"), end=args.get("to"), only_due=args["only_due"])
    codes = {p.id: p.code for p in policies}
    wanted = set(report.territories) | {tid for _, tid in report.uncovered}
    places = {t.id: t for t in session.scalars(select(Territory).where(Territory.id.in_(sorted(wanted))))} \
        if wanted else {}
    rank = {key: i for i, key in enumerate(level_keys())}

    def order(tid):
        return (rank.get(places[tid].level, len(rank)), places[tid].code)

    def counts(c) -> dict:
        return {"expected": c.expected, "received": c.received, "rate": c.rate}

    data = {
        "start": report.start, "end": report.end, "today": report.today, "total": counts(report.total),
        "policies": [{"policy": codes[pid], **counts(c)} for pid, c in
                     sorted(report.policies.items(), key=lambda item: codes[item[0]]) if pid in codes],
        "territories": [{"territory": places[tid], "has_contributor": c.has_contributor, **counts(c)}
                        for tid, c in sorted(report.territories.items(), key=lambda item: order(item[0]))
                        if level is None or places[tid].level == level],
        "contributors": [{"name": c.name, "email": c.email, **counts(c)}
                         for c in sorted(report.contributors.values(), key=lambda c: (c.name, c.email))],
        "uncovered": [{"policy": codes[pid], "territory": places[tid]}
                      for pid, tid in report.uncovered if pid in codes],
    }
    return json_response(s.CompletenessSchema().dump(data))


# --------------------------------------------------------------------------- writes
def _value_inputs(items: list[Any], single: bool, caller: Caller):
    """Validate every item (shape, references, bounds, then rights); raise with all problems."""
    session = db_session()
    schema = s.ValueInputSchema()
    loaded: list[dict | None] = []
    errors: list[dict] = []

    def prefix(i):
        return () if single else (i,)

    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(error_entry(prefix(i), "Not an object.", indexed=not single))
            loaded.append(None)
            continue
        try:
            loaded.append(schema.load(item))
        except ValidationError as exc:
            errors.extend(validation_errors(exc.messages, prefix=prefix(i), indexed=not single))
            loaded.append(None)

    codes = {d["indicator"] for d in loaded if d}
    indicators = {ind.code: ind for ind in session.scalars(
        select(Indicator).where(Indicator.code.in_(sorted(codes)))
        .options(selectinload(Indicator.policy)))} if codes else {}
    pairs = set()
    for d in loaded:
        if d:
            level, sep, code = d["territory"].partition("-")
            if sep and level and code:
                pairs.add((level, code))
    territories = {}
    if pairs:
        for t in session.scalars(select(Territory).where(
                tuple_(Territory.level, Territory.code).in_(sorted(pairs)), Territory.valid_to.is_(None))):
            territories[t.key] = t
    readable: dict[int, bool] = {}
    levels = set(level_keys())
    resolved = []
    for i, d in enumerate(loaded):
        if d is None:
            resolved.append(None)
            continue
        here = prefix(i)
        indicator = indicators.get(d["indicator"])
        if indicator is not None and indicator.policy_id not in readable:
            readable[indicator.policy_id] = can("policy.read", indicator.policy, user=caller.user)
        if indicator is None or not readable[indicator.policy_id]:
            errors.append(error_entry((*here, "indicator"), f"Unknown indicator {d['indicator']!r}.",
                                      indexed=not single))
        territory = territories.get(d["territory"])
        if territory is None or territory.level not in levels:
            errors.append(error_entry((*here, "territory"), f"Unknown territory {d['territory']!r} "
                                      "(form: <level>-<code>).", indexed=not single))
        if indicator is not None:
            value = d["value"]
            if indicator.min_value is not None and value < indicator.min_value:
                errors.append(error_entry((*here, "value"), f"Below the indicator's minimum "
                                          f"({format(indicator.min_value.normalize(), 'f')}).", indexed=not single))
            if indicator.max_value is not None and value > indicator.max_value:
                errors.append(error_entry((*here, "value"), f"Above the indicator's maximum "
                                          f"({format(indicator.max_value.normalize(), 'f')}).", indexed=not single))
        resolved.append((d, indicator, territory))
    if errors:
        raise ApiError(422, "Some values do not validate; nothing was written.", type="validation",
                       errors=errors)

    allowed: dict[tuple[int, int], bool] = {}
    denied = []
    for i, (d, indicator, territory) in enumerate(resolved):
        key = (indicator.policy_id, territory.id)
        if key not in allowed:
            allowed[key] = may_write("value.write", indicator.policy, territory, caller)
        if not allowed[key]:
            entry = error_entry(prefix(i), f"You may not write values of policy {indicator.policy.code} "
                                f"in {territory.key}.", indexed=not single)
            denied.append(entry)
    if denied:
        raise ApiError(403, "Some values are outside your rights; nothing was written.",
                       type="forbidden", errors=denied)
    return resolved


@bp.post("/values")
@authenticated
@documented("Write values (one or many)", body=s.ValueInputSchema, body_many=True,
            response=s.ValuesWriteResultSchema, auth="token", tags=["values"], errors=(409,),
            description="One value object, or a list of them (at most 10 000). Every item is "
                        "validated first and the write is all-or-nothing: a 422 lists every "
                        "invalid item (`index`, `field`), a 403 the items outside your rights, a "
                        "409 a value changed since the `version` you sent. The figures depending "
                        "on the values are recomputed before the answer.")
def write_values():
    caller = current_caller()
    require_token_write(caller)
    payload = json_body()
    single = isinstance(payload, dict)
    items = [payload] if single else payload
    if not isinstance(items, list) or not items:
        raise ApiError(422, "Send a value object or a non-empty list of them.", type="validation",
                       errors=[{"field": None, "pointer": "/", "detail": "Expected an object or a list."}])
    if len(items) > MAX_BULK:
        raise ApiError(413, f"At most {MAX_BULK} values per request.")
    resolved = _value_inputs(items, single, caller)
    inputs = [
        ValueInput(indicator_id=indicator.id, territory_id=territory.id, kind=d["kind"], date=d["date"],
                   value=d["value"], target_scope=d["target_scope"], source=d["source"],
                   expected_version=d["version"])
        for d, indicator, territory in resolved
    ]
    session = db_session()
    user = caller.user
    with audit.acting_as(user.id, user.email, "api"):
        try:
            report = save_values(session, inputs, channel=Channel.API, author_id=user.id)
            session.commit()
        except ConflictError as exc:
            session.rollback()
            raise _conflict(exc, resolved, single) from None
        except IntegrityError:
            session.rollback()
            raise ApiError(409, "Another request wrote these values at the same time; nothing was "
                           "written. Retry.", type="concurrent-write") from None

    figures = []
    if report.touched:
        touched_indicators = {i for i, _ in report.touched}
        policy_ids = {ind.policy_id for _, ind, _ in resolved if ind.id in touched_indicators}
        territory_ids = set()
        by_id = {t.id: t for _, _, t in resolved}
        for _, tid in report.touched:
            territory_ids.update(t.id for t in ancestors(by_id[tid]))
        figures = session.scalars(
            select(PolicyFigure).join(Territory, PolicyFigure.territory_id == Territory.id)
            .where(PolicyFigure.policy_id.in_(sorted(policy_ids)),
                   PolicyFigure.territory_id.in_(sorted(territory_ids)))
            .options(selectinload(PolicyFigure.policy), selectinload(PolicyFigure.territory))
            .order_by(PolicyFigure.policy_id, level_rank(), Territory.code)
        ).all()
    computed_at = max((f.computed_at for f in figures), default=None)
    return json_response(s.ValuesWriteResultSchema().dump(
        {"counts": report.as_dict(), "computed_at": computed_at, "figures": figures}))


def _conflict(exc: ConflictError, resolved, single: bool) -> ApiError:
    entry = exc.entry
    wanted = (entry.indicator_id, entry.territory_id, ValueKind(entry.kind), entry.date)
    index = None
    for i, (d, indicator, territory) in enumerate(resolved):
        if (indicator.id, territory.id, ValueKind(d["kind"]), d["date"]) == wanted:
            index = i  # the last one wins within a request, as in save_values
    d, indicator, territory = resolved[index] if index is not None else (None, None, None)
    extra: dict[str, Any] = {
        "expected_version": entry.expected_version,
        "current_version": exc.current_version,
        "current_value": None if exc.current_value is None else format(exc.current_value.normalize(), "f"),
        "current_recorded_at": exc.current_recorded_at.isoformat() if exc.current_recorded_at else None,
    }
    if index is not None:
        if not single:
            extra["index"] = index
        extra.update(indicator=indicator.code, territory=territory.key, kind=ValueKind(d["kind"]).value,
                     date=d["date"].isoformat())
    return ApiError(409, f"The value was changed since version {entry.expected_version} "
                    f"(now version {exc.current_version}); nothing was written.",
                    type="version-conflict", **extra)


@bp.post("/comments")
@authenticated
@documented("Write a comment", body=s.CommentInputSchema, response=s.CommentSchema, status=201,
            auth="token", tags=["comments"],
            description="A typed comment on a policy in a territory, or a reply (`parent`).")
def write_comment():
    caller = current_caller()
    require_token_write(caller)
    payload = json_body()
    if not isinstance(payload, dict):
        raise ApiError(422, "Send a comment object.", type="validation",
                       errors=[{"field": None, "pointer": "/", "detail": "Expected an object."}])
    data = s.CommentInputSchema().load(payload)
    session = db_session()
    errors = []
    policy = session.scalar(select(Policy).where(Policy.code == data["policy"],
                                                 scope("policy.read", Policy, user=caller.user)))
    if policy is None or not can("policy.read", policy, user=caller.user):
        errors.append(error_entry(("policy",), f"Unknown policy {data['policy']!r}."))
    territory = find_territory(data["territory"])
    if territory is None or territory.valid_to is not None or territory.level not in level_keys():
        errors.append(error_entry(("territory",), f"Unknown territory {data['territory']!r}."))
    types = [t["key"] for t in current_app.extensions["pilote"].config.data.get("comment_types", [])]
    if data["type"] not in types:
        errors.append(error_entry(("type",), f"Unknown comment type (types: {', '.join(types)})."))
    if data["parent"] is not None:
        parent = session.get(Comment, data["parent"])
        if parent is None or policy is None or territory is None or parent.policy_id != policy.id \
                or parent.territory_id != territory.id:
            errors.append(error_entry(("parent",), "No such comment on this policy in this territory."))
    if errors:
        raise ApiError(422, "The comment does not validate; nothing was written.", type="validation",
                       errors=errors)
    if not may_write("comment.write", policy, territory, caller):
        raise ApiError(403, f"You may not comment on policy {policy.code} in {territory.key}.",
                       type="forbidden")
    user = caller.user
    with audit.acting_as(user.id, user.email, "api"):
        comment = Comment(policy_id=policy.id, territory_id=territory.id, type=data["type"],
                          body=data["body"], parent_id=data["parent"], author_id=user.id)
        session.add(comment)
        session.commit()
    return json_response(s.CommentSchema().dump(comment), status=201)


# --------------------------------------------------------------------------- tokens
def _signed_in(caller: Caller) -> None:
    if not caller.authenticated:
        raise ApiError(401, "Sign in or use an API token.")


def _user_by_email(email: str) -> User | None:
    return db_session().scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


@bp.get("/tokens")
@authenticated
@documented("Your API tokens", query=s.TokenQuerySchema, response=s.TokenSchema, paginated=True,
            auth="authenticated", tags=["tokens"],
            description="Never the tokens themselves: only their prefix, status and dates. "
                        "Administrators may list a service account's tokens (`user`).")
def list_tokens():
    caller = current_caller()
    _signed_in(caller)
    args = load_query(s.TokenQuerySchema)
    target = caller.user
    if args.get("user") and args["user"].lower() != caller.user.email.lower():
        if not can("user.manage", user=caller.user):
            raise ApiError(403, "Only administrators may list another user's tokens.")
        target = _user_by_email(args["user"])
        if target is None:
            raise ApiError(404, "No such user.")
    query = select(ApiToken).where(ApiToken.user_id == target.id).order_by(
        ApiToken.created_at.desc(), ApiToken.id.desc())
    schema = s.TokenSchema()
    return paginate(query, args, schema.dump, options=[selectinload(ApiToken.user)])


@bp.post("/tokens")
@authenticated
@documented("Create an API token", body=s.TokenInputSchema, response=s.TokenCreatedSchema,
            status=201, auth="session", tags=["tokens"],
            description="From a signed-in browser session (send the page's CSRF token in "
                        "`X-CSRFToken`), never with another token. The answer carries the token "
                        "once: only its hash is stored. Administrators may create one for a "
                        "service account (`user`).")
def create_api_token():
    caller = current_caller()
    _signed_in(caller)
    if caller.token is not None:
        raise ApiError(403, "Tokens are created from a browser session or with "
                       "`pilote tokens create`, not with another token.", type="session-required")
    require_session_write(caller)
    payload = json_body()
    if not isinstance(payload, dict):
        raise ApiError(422, "Send a token object.", type="validation",
                       errors=[{"field": None, "pointer": "/", "detail": "Expected an object."}])
    data = s.TokenInputSchema().load(payload)
    target = caller.user
    if data["user"] and data["user"].lower() != caller.user.email.lower():
        if not can("user.manage", user=caller.user):
            raise ApiError(403, "Only administrators may create a token for another user.")
        target = _user_by_email(data["user"])
        if target is None or not target.is_service_account or not target.is_active:
            raise ApiError(422, "Not an active service account.", type="validation",
                           errors=[error_entry(("user",), "Not an active service account.")])
    session = db_session()
    user = caller.user
    with audit.acting_as(user.id, user.email, "api"):
        token, plain = create_token(session, target, data["name"], expires_days=data["expires_days"],
                                    read_only=data["read_only"], created_by_id=user.id)
        session.commit()
    return json_response(s.TokenCreatedSchema().dump(View(token, token=plain)), status=201,
                         headers={"Cache-Control": "no-store"})


@bp.delete("/tokens/<int:token_id>")
@authenticated
@documented("Revoke an API token", response=s.TokenSchema, auth="authenticated", tags=["tokens"],
            description="Takes effect at once. Your own tokens (a read-only token may revoke only "
                        "itself); administrators may revoke any token.")
def revoke_api_token(token_id: int):
    caller = current_caller()
    _signed_in(caller)
    if caller.token is None:
        require_session_write(caller)
    elif caller.token.read_only and caller.token.id != token_id:
        raise ApiError(403, "A read-only token may revoke only itself.", type="read-only-token")
    session = db_session()
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != caller.user.id and not can("user.manage", user=caller.user)):
        raise ApiError(404, f"No token {token_id}.")
    user = caller.user
    with audit.acting_as(user.id, user.email, "api"):
        revoke_token(token)
        session.commit()
    return json_response(s.TokenSchema().dump(token))

