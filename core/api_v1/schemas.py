"""Marshmallow schemas of the REST API: what it answers, what it accepts, its query strings.

They are the single description of the API: views dump and load with them, and the OpenAPI
document (:mod:`core.api_v1.openapi`) is generated from them. Exact numbers (values, targets,
progress rates) travel as JSON strings (``"57.25"``), never as binary floats; on input, numbers
and strings are both accepted.
"""

from __future__ import annotations

import decimal
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from core.models import (
    Channel,
    Direction,
    IndicatorCategory,
    Periodicity,
    PolicyStatus,
    TargetScope,
    ValueKind,
)

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 50
MAX_INTEGER_DIGITS = 20  # NUMERIC(28, 8)
MAX_DECIMAL_PLACES = 8


class Exact(fields.Decimal):
    """An exact decimal: dumped as a normalised string (``"1250"``, ``"57.25"``); loaded from
    a JSON number or string, with at most 8 decimal places and 20 integer digits."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
        return format(number.normalize(), "f")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, str) and len(value) > 64:
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if number is None:
            return None
        if not number.is_finite():
            raise self.make_error("special")
        # pure digit arithmetic: no rounding and no overflow, whatever the exponent
        _, digits, exponent = number.as_tuple()
        significant = len(digits)
        while significant > 1 and digits[significant - 1] == 0:
            significant -= 1
            exponent += 1
        if number and number.adjusted() >= MAX_INTEGER_DIGITS:
            raise ValidationError(f"At most {MAX_INTEGER_DIGITS} integer digits.")
        if number and exponent < -MAX_DECIMAL_PLACES:
            raise ValidationError(f"At most {MAX_DECIMAL_PLACES} decimal places.")
        return number


def _enum(cls, **kwargs):
    return fields.Enum(cls, by_value=True, **kwargs)


def _doc(text: str, **extra) -> dict[str, Any]:
    return {"description": text, **extra}


# --------------------------------------------------------------------------- references
class TerritoryRefSchema(Schema):
    key = fields.Str(metadata=_doc("Stable identifier `<level>-<code>` used in URLs and filters",
                                   example="department-69"))
    level = fields.Str(metadata=_doc("Level key of the instance (nation, region, department…)"))
    code = fields.Str(metadata=_doc("Official code within the level (INSEE COG)"))
    name = fields.Str()


class TerritorySchema(TerritoryRefSchema):
    grid = fields.Str(metadata=_doc("Grid (hierarchy) the territory belongs to"))
    population = fields.Int(allow_none=True)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True, metadata=_doc("Set when the territory was closed"))
    parent = fields.Nested(TerritoryRefSchema, allow_none=True)


class OrganisationSchema(Schema):
    code = fields.Str()
    acronym = fields.Str()
    name = fields.Str()


class PolicyGroupSchema(Schema):
    code = fields.Str()
    name = fields.Str()


class AuthorSchema(Schema):
    id = fields.Int()
    name = fields.Str()


# --------------------------------------------------------------------------- indicators
class IndicatorSchema(Schema):
    code = fields.Str()
    policy = fields.Str(attribute="policy.code", metadata=_doc("Code of the policy"))
    name = fields.Str()
    description = fields.Str()
    unit = fields.Str()
    decimals = fields.Int()
    direction = _enum(Direction)
    periodicity = _enum(Periodicity)
    availability_delay_months = fields.Int()
    source = fields.Str()
    source_url = fields.Str(allow_none=True)
    calculation_method = fields.Str()
    aggregation_method = fields.Str(metadata=_doc("How parents are computed from children"))
    prefer_entered_values = fields.Bool()
    category = _enum(IndicatorCategory)
    is_public = fields.Bool()
    min_value = Exact(allow_none=True)
    max_value = Exact(allow_none=True)
    position = fields.Int()
    weights = fields.Method("get_weights", metadata=_doc(
        "Declared weight (0–100) in the policy's progress, per level",
        type="object", additionalProperties={"type": "string", "format": "decimal"}))

    def get_weights(self, indicator) -> dict[str, str]:
        return {w.level: format(w.weight.normalize(), "f") for w in indicator.weights}


# --------------------------------------------------------------------------- policies
class PolicyContactSchema(Schema):
    role = fields.Str(metadata=_doc("owner (directeur de projet), contact or data"))
    name = fields.Str()
    email = fields.Str()
    territory = fields.Nested(TerritoryRefSchema, allow_none=True,
                              metadata=_doc("null for a national contact"))


class PolicySchema(Schema):
    code = fields.Str()
    name = fields.Str()
    short_name = fields.Str(allow_none=True)
    kind = fields.Str(metadata=_doc("One of the instance's policy kinds"))
    status = _enum(PolicyStatus)
    group = fields.Nested(PolicyGroupSchema, allow_none=True)
    organisation = fields.Nested(OrganisationSchema, allow_none=True)
    territory = fields.Nested(TerritoryRefSchema, allow_none=True,
                              metadata=_doc("The territory of a structuring project"))
    is_territorialised = fields.Bool()
    is_public = fields.Bool()
    targets_expected = fields.Bool()
    updated_at = fields.DateTime()


class PolicyDetailSchema(PolicySchema):
    description = fields.Str()
    created_at = fields.DateTime()
    indicators = fields.List(fields.Nested(IndicatorSchema))
    contacts = fields.List(fields.Nested(PolicyContactSchema))


# --------------------------------------------------------------------------- values, figures
class ValueSchema(Schema):
    """An entered value with its provenance."""

    id = fields.Int()
    indicator = fields.Str(attribute="indicator.code")
    territory = fields.Nested(TerritoryRefSchema)
    kind = _enum(ValueKind)
    target_scope = _enum(TargetScope, allow_none=True)
    date = fields.Date()
    value = Exact(allow_none=True, metadata=_doc("null: erased"))
    source = fields.Str()
    channel = _enum(Channel, metadata=_doc("How the value reached Pilote"))
    author = fields.Nested(AuthorSchema, allow_none=True,
                           metadata=_doc("Who wrote it; null for anonymous callers"))
    recorded_at = fields.DateTime()
    version = fields.Int(metadata=_doc("Send it back as `version` to write without losing a "
                                       "concurrent change"))


class PolicyFigureSchema(Schema):
    """A policy's computed progress in one territory (PILOTE rules), with how it was made."""

    policy = fields.Str(attribute="policy.code")
    territory = fields.Nested(TerritoryRefSchema)
    overall = Exact(allow_none=True, metadata=_doc("Overall progress rate, percent"))
    annual = Exact(allow_none=True, metadata=_doc("Progress towards the annual target, percent"))
    previous_overall = Exact(allow_none=True, metadata=_doc("Overall rate at the previous update"))
    trend = fields.Str(allow_none=True)
    gap_to_median = Exact(allow_none=True, metadata=_doc("Gap to the median of the same level"))
    reason = fields.Str(allow_none=True, metadata=_doc("Why there is no rate, when there is none"))
    last_value_date = fields.Date(allow_none=True)
    computed_at = fields.DateTime()
    explanation = fields.Dict(metadata=_doc("Rule, weights and inputs of the computation"))


class IndicatorFigureSchema(Schema):
    """An indicator's computed progress in one territory, with its inputs."""

    indicator = fields.Str(attribute="indicator.code")
    territory = fields.Nested(TerritoryRefSchema)
    baseline = Exact(allow_none=True)
    baseline_date = fields.Date(allow_none=True)
    actual = Exact(allow_none=True)
    actual_date = fields.Date(allow_none=True)
    annual_target = Exact(allow_none=True)
    annual_target_date = fields.Date(allow_none=True)
    final_target = Exact(allow_none=True)
    final_target_date = fields.Date(allow_none=True)
    annual = Exact(allow_none=True)
    overall = Exact(allow_none=True)
    previous_overall = Exact(allow_none=True)
    origin = fields.Str(metadata=_doc("entered, aggregated or national"))
    next_update_due = fields.Date(allow_none=True)
    computed_at = fields.DateTime()
    explanation = fields.Dict()


class AlertSchema(Schema):
    """A raised alert (computed on read, never stored)."""

    key = fields.Str(metadata=_doc("Rule key (progress_not_computable, gap_to_median, data_stale…)"))
    label = fields.Str()
    policy = fields.Str(metadata=_doc("Code of the policy"))
    territory = fields.Nested(TerritoryRefSchema)
    detail = fields.Str(metadata=_doc("What raised it, when the rule says"))


class CompletenessCountsSchema(Schema):
    expected = fields.Int(metadata=_doc("Entries expected (indicator × territory × due period)"))
    received = fields.Int(metadata=_doc("Entries received (an actual value in the period)"))
    rate = Exact(allow_none=True, metadata=_doc("100 × received / expected (null: nothing expected)"))


class PolicyCompletenessSchema(CompletenessCountsSchema):
    policy = fields.Str()


class TerritoryCompletenessSchema(CompletenessCountsSchema):
    territory = fields.Nested(TerritoryRefSchema)
    has_contributor = fields.Bool(allow_none=True, metadata=_doc(
        "Whether every policy entered here has a contributor (null: nothing entered here)"))


class ContributorCompletenessSchema(CompletenessCountsSchema):
    name = fields.Str()
    email = fields.Str()


class UncoveredSchema(Schema):
    policy = fields.Str()
    territory = fields.Nested(TerritoryRefSchema)


class CompletenessSchema(Schema):
    """Expected versus received entries over a window, rolled up."""

    start = fields.Date()
    end = fields.Date()
    today = fields.Date()
    total = fields.Nested(CompletenessCountsSchema)
    policies = fields.List(fields.Nested(PolicyCompletenessSchema))
    territories = fields.List(fields.Nested(TerritoryCompletenessSchema))
    contributors = fields.List(fields.Nested(ContributorCompletenessSchema))
    uncovered = fields.List(fields.Nested(UncoveredSchema), metadata=_doc(
        "Entry (policy, territory) pairs without any contributor"))


# --------------------------------------------------------------------------- writes
class ValueInputSchema(Schema):
    """One value to write (`POST /api/v1/values`, alone or in a list)."""

    indicator = fields.Str(required=True, validate=validate.Length(min=1, max=40),
                           metadata=_doc("Indicator code", example="IND-1011"))
    territory = fields.Str(required=True, validate=validate.Length(min=3, max=82),
                           metadata=_doc("Territory key `<level>-<code>`", example="department-69"))
    kind = _enum(ValueKind, required=True)
    date = fields.Date(required=True, metadata=_doc("ISO date of the value", example="2026-10-01"))
    value = Exact(required=True, metadata=_doc("A JSON number or a decimal string", example="1250.5"))
    target_scope = _enum(TargetScope, load_default=None, allow_none=True,
                         metadata=_doc("For a target only: annual or final"))
    source = fields.Str(load_default="", validate=validate.Length(max=300))
    version = fields.Int(load_default=None, allow_none=True, validate=validate.Range(min=1),
                         metadata=_doc("Version you read (optimistic concurrency): a 409 answers "
                                       "if the value changed since"))

    @validates_schema
    def _scope_only_for_targets(self, data, **kwargs):
        if data.get("target_scope") is not None and data.get("kind") is not ValueKind.TARGET:
            raise ValidationError("Only a target has a scope.", "target_scope")


class CountsSchema(Schema):
    created = fields.Int()
    updated = fields.Int()
    unchanged = fields.Int()
    erased = fields.Int()
    skipped_empty = fields.Int()


class FigureBriefSchema(Schema):
    policy = fields.Str(attribute="policy.code")
    territory = fields.Nested(TerritoryRefSchema)
    overall = Exact(allow_none=True)
    annual = Exact(allow_none=True)
    computed_at = fields.DateTime()


class ValuesWriteResultSchema(Schema):
    counts = fields.Nested(CountsSchema)
    computed_at = fields.DateTime(allow_none=True, metadata=_doc(
        "When the figures depending on the written values were recomputed (null: nothing changed)"))
    figures = fields.List(fields.Nested(FigureBriefSchema), metadata=_doc(
        "Recomputed policy figures of the written territories and their ancestors"))


class CommentInputSchema(Schema):
    policy = fields.Str(required=True, validate=validate.Length(min=1, max=40))
    territory = fields.Str(required=True, validate=validate.Length(min=3, max=82))
    type = fields.Str(required=True, validate=validate.Length(min=1, max=40),
                      metadata=_doc("One of the instance's comment types"))
    body = fields.Str(required=True, validate=validate.Length(min=1, max=20000))
    parent = fields.Int(load_default=None, allow_none=True,
                        metadata=_doc("Id of the comment this one answers"))

    @validates_schema
    def _not_blank(self, data, **kwargs):
        if "body" in data and not data["body"].strip():
            raise ValidationError("The comment is empty.", "body")


class CommentSchema(Schema):
    id = fields.Int()
    policy = fields.Str(attribute="policy.code")
    territory = fields.Nested(TerritoryRefSchema)
    type = fields.Str()
    body = fields.Str()
    parent = fields.Int(attribute="parent_id", allow_none=True)
    author = fields.Nested(AuthorSchema, allow_none=True)
    created_at = fields.DateTime()


# --------------------------------------------------------------------------- tokens
class TokenSchema(Schema):
    id = fields.Int()
    name = fields.Str()
    prefix = fields.Str(metadata=_doc("Recognises the token: it starts with `pil_<prefix>_`"))
    user = fields.Str(attribute="user.email", metadata=_doc("E-mail of the user it acts as"))
    read_only = fields.Bool()
    status = fields.Method("get_status", metadata=_doc(
        "active, revoked or expired", type="string", enum=["active", "revoked", "expired"]))
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True, metadata=_doc("Updated at most once a minute"))


    def get_status(self, token) -> str:
        from core.api_v1.tokens import token_status

        return token_status(token)


class TokenCreatedSchema(TokenSchema):
    token = fields.Str(metadata=_doc("The token itself. Shown this once: only its hash is stored"))


class TokenInputSchema(Schema):
    name = fields.Str(required=True, validate=validate.Length(min=1, max=120))
    expires_days = fields.Int(load_default=90, validate=validate.Range(min=1, max=730),
                              metadata=_doc("Lifetime in days"))
    read_only = fields.Bool(load_default=False)
    user = fields.Email(load_default=None, allow_none=True, metadata=_doc(
        "Administrators only: the service account the token is for (default: yourself)"))


# --------------------------------------------------------------------------- problems
class ProblemErrorSchema(Schema):
    field = fields.Str(allow_none=True, metadata=_doc("Dotted path of the field or parameter"))
    pointer = fields.Str(metadata=_doc("JSON pointer into the request body"))
    index = fields.Int(metadata=_doc("Index of the item of a bulk request"))
    detail = fields.Str()


class ProblemSchema(Schema):
    """An error (RFC 9457), served as `application/problem+json`."""

    type = fields.Str(metadata=_doc("URI of the problem type (`about:blank` for plain HTTP errors)"))
    title = fields.Str()
    status = fields.Int()
    detail = fields.Str()
    instance = fields.Str(metadata=_doc("Path of the request"))
    errors = fields.List(fields.Nested(ProblemErrorSchema), metadata=_doc(
        "Validation problems, all of them"))


# --------------------------------------------------------------------------- query strings
class PageQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Int(load_default=1, validate=validate.Range(min=1, max=1_000_000),
                      metadata=_doc("Page number, from 1"))
    per_page = fields.Int(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE),
                          metadata=_doc(f"Items per page (at most {MAX_PER_PAGE})"))


class PolicyQuerySchema(PageQuerySchema):
    group = fields.Str(metadata=_doc("Policy group code"))
    kind = fields.Str(metadata=_doc("Policy kind key"))
    status = fields.Str(validate=validate.OneOf([s.value for s in PolicyStatus]))
    organisation = fields.Str(metadata=_doc("Organisation (ministry) code"))
    q = fields.Str(validate=validate.Length(max=100), metadata=_doc("Text in the name or the code"))


class PolicyFigureQuerySchema(PageQuerySchema):
    level = fields.Str(metadata=_doc("Only territories of this level"))
    territory = fields.Str(metadata=_doc("Only this territory (`<level>-<code>`)"))
    parent = fields.Str(metadata=_doc("Only the children of this territory (`<level>-<code>`)"))


class IndicatorQuerySchema(PageQuerySchema):
    policy = fields.Str(metadata=_doc("Policy code"))
    category = fields.Str(validate=validate.OneOf([c.value for c in IndicatorCategory]))
    q = fields.Str(validate=validate.Length(max=100), metadata=_doc("Text in the name or the code"))


class ValueQuerySchema(PageQuerySchema):
    territory = fields.Str(metadata=_doc("Only this territory (`<level>-<code>`)"))
    level = fields.Str(metadata=_doc("Only territories of this level"))
    kind = fields.Str(validate=validate.OneOf([k.value for k in ValueKind]))
    from_ = fields.Date(data_key="from", metadata=_doc("Values dated on or after (ISO date)"))
    to = fields.Date(metadata=_doc("Values dated on or before (ISO date)"))


class IndicatorFigureQuerySchema(PageQuerySchema):
    territory = fields.Str(metadata=_doc("Only this territory (`<level>-<code>`)"))
    level = fields.Str(metadata=_doc("Only territories of this level"))


class TerritoryQuerySchema(PageQuerySchema):
    level = fields.Str(metadata=_doc("Level key"))
    parent = fields.Str(metadata=_doc("Only the children of this territory (`<level>-<code>`)"))
    q = fields.Str(validate=validate.Length(max=100), metadata=_doc("Text in the name or the code"))


class AlertQuerySchema(PageQuerySchema):
    policy = fields.Str(metadata=_doc("Policy code"))
    territory = fields.Str(metadata=_doc("Only this territory (`<level>-<code>`)"))
    level = fields.Str(metadata=_doc("Only territories of this level"))
    key = fields.Str(validate=validate.Length(max=80), metadata=_doc("Only alerts of this rule"))


class CompletenessQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    policy = fields.Str(metadata=_doc("Only this policy (code)"))
    territory = fields.Str(metadata=_doc("Only this territory's subtree (`<level>-<code>`)"))
    level = fields.Str(metadata=_doc("Only territories of this level in `territories`"))
    from_ = fields.Date(data_key="from", metadata=_doc(
        "Start of the window (default: the 12 months before the current month)"))
    to = fields.Date(metadata=_doc("End of the window (default: today)"))
    only_due = fields.Bool(load_default=True, metadata=_doc("Expect only periods already due"))


class TokenQuerySchema(PageQuerySchema):
    user = fields.Email(metadata=_doc("Administrators: the tokens of this user"))


# Every schema, by the name the OpenAPI document gives it.
COMPONENTS: dict[str, type[Schema]] = {
    "TerritoryRef": TerritoryRefSchema, "Territory": TerritorySchema,
    "Organisation": OrganisationSchema, "PolicyGroup": PolicyGroupSchema, "Author": AuthorSchema,
    "Indicator": IndicatorSchema, "PolicyContact": PolicyContactSchema, "Policy": PolicySchema,
    "PolicyDetail": PolicyDetailSchema, "Value": ValueSchema, "PolicyFigure": PolicyFigureSchema,
    "IndicatorFigure": IndicatorFigureSchema, "Alert": AlertSchema,
    "CompletenessCounts": CompletenessCountsSchema, "PolicyCompleteness": PolicyCompletenessSchema,
    "TerritoryCompleteness": TerritoryCompletenessSchema,
    "ContributorCompleteness": ContributorCompletenessSchema, "Uncovered": UncoveredSchema,
    "Completeness": CompletenessSchema, "ValueInput": ValueInputSchema,
    "Counts": CountsSchema, "FigureBrief": FigureBriefSchema,
    "ValuesWriteResult": ValuesWriteResultSchema, "CommentInput": CommentInputSchema,
    "Comment": CommentSchema, "Token": TokenSchema, "TokenCreated": TokenCreatedSchema,
    "TokenInput": TokenInputSchema, "ProblemError": ProblemErrorSchema, "Problem": ProblemSchema,
}
