"""The public API of the core: what plugins import (and nothing else from ``core``).

Anything not re-exported here is internal and may change without notice.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from core import __version__
from core.config import InstanceConfig, SecretOrValue
from core.db import ExactDecimal, Model, UTCDateTime, utcnow
from core.db import session as db_session
from core.engine.aggregation import AggregationMethod
from core.engine.alerts import BELOW_TOP, TOP, Alert, AlertContext, AlertRule, alerts_for
from core.engine.recompute import recompute
from core.engine.values import ConflictError, SaveReport, ValueInput, save_values
from core.events import emit
from core.models import (
    AuditEntry,
    Channel,
    Comment,
    Direction,
    Grant,
    Indicator,
    IndicatorValue,
    IndicatorValueRevision,
    Organisation,
    Periodicity,
    Policy,
    PolicyGroup,
    PolicyStatus,
    Role,
    TargetScope,
    Territory,
    User,
    ValueKind,
    Weather,
    WeatherReport,
)
from core.permissions import can, public, require, requires, scope
from core.plugins import hookimpl
from core.specs import Action, Asset, Event, GrantSpec, JobSpec, MenuItem, PluginInfo, Widget


def plugin_settings(name: str) -> dict[str, Any]:
    """The validated ``[plugins.<name>]`` table of the current instance."""
    return current_app.extensions["pilote"].plugin_settings.get(name, {})


def instance_config() -> InstanceConfig:
    """The current instance's validated configuration."""
    return current_app.extensions["pilote"].config


__all__ = [
    "BELOW_TOP", "TOP", "Alert", "AlertContext", "AlertRule", "alerts_for",
    "AggregationMethod", "ConflictError", "SaveReport", "ValueInput", "recompute", "save_values",
    "Action", "Asset", "AuditEntry", "Channel", "Comment", "Direction", "Event", "ExactDecimal",
    "Grant", "GrantSpec", "Indicator", "IndicatorValue", "IndicatorValueRevision",
    "InstanceConfig", "JobSpec", "MenuItem", "Model", "Organisation", "Periodicity", "PluginInfo",
    "Policy", "PolicyGroup", "PolicyStatus", "Role", "SecretOrValue", "TargetScope", "Territory",
    "UTCDateTime", "User", "ValueKind", "Weather", "WeatherReport", "Widget", "__version__", "can",
    "db_session", "emit", "hookimpl", "instance_config", "plugin_settings", "public", "require",
    "requires", "scope", "utcnow",
]
