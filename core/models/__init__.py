"""The standard schema. Import models from here (or from :mod:`core.api`)."""

from core.models.audit import AuditEntry
from core.models.figures import AggregatedValue, IndicatorFigure, PolicyFigure
from core.models.imports import ImportBatch
from core.models.token import ApiToken
from core.models.indicator import (
    Channel,
    Direction,
    Indicator,
    IndicatorCategory,
    IndicatorValue,
    IndicatorValueRevision,
    IndicatorWeight,
    Periodicity,
    TargetScope,
    ValueKind,
)
from core.models.policy import Organisation, Policy, PolicyContact, PolicyGroup, PolicyStatus
from core.models.qualitative import Comment, Weather, WeatherReport
from core.models.territory import Territory
from core.models.user import Grant, Role, User, grant_policy

__all__ = [
    "AggregatedValue", "ApiToken", "AuditEntry", "ImportBatch", "IndicatorFigure", "PolicyFigure", "Channel", "Comment", "Direction", "Grant", "Indicator", "IndicatorCategory",
    "IndicatorValue", "IndicatorValueRevision", "IndicatorWeight", "Organisation", "Periodicity",
    "Policy", "PolicyContact", "PolicyGroup", "PolicyStatus", "Role", "TargetScope", "Territory",
    "User", "ValueKind", "Weather", "WeatherReport", "grant_policy",
]
