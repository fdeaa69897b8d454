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
from core.permissions import can, effective_grants, public, require, requires, scope
from core.plugins import hookimpl
from core.audit import acting_as
from core.jobs import enqueue
from core.exports.barometre import COLUMNS as BAROMETRE_COLUMNS
from core.exports.barometre import file_stem as barometre_file_stem
from core.exports.barometre import indicator_rows as barometre_indicator_rows
from core.exports.barometre import table_schema as barometre_table_schema
from core.exports.barometre import zone_of as barometre_zone_of
from core.exports.tabular import Column as ExportColumn
from core.exports.tabular import Table as ExportTable
from core.exports.tabular import csv_bytes
from core.exports.tabular import table_schema as export_table_schema
from core.models import AggregatedValue, IndicatorFigure, PolicyFigure
from core.engine.completeness import completeness
from core.seed.reference import cog_data_dir
from core.models import RoadmapEntry
from core.security import CSP as CONTENT_SECURITY_POLICY
from core.rendering import render_chart, render_map, territory_layer
from core.specs import (Action, Asset, Event, GrantSpec, JobSpec, MenuItem, PluginInfo,
                        RenderedFigure, Widget)
from core.specs import ReportSection
from core.specs import AuthProvider
from core.mail import send_mail


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
    "AuthProvider", "send_mail", "RenderedFigure", "render_chart", "render_map", "territory_layer",
    "ReportSection",
    "acting_as", "enqueue",
    "BAROMETRE_COLUMNS", "CONTENT_SECURITY_POLICY", "ExportColumn", "ExportTable",
    "AggregatedValue", "IndicatorFigure", "PolicyFigure", "barometre_file_stem", "barometre_indicator_rows",
    "barometre_table_schema", "barometre_zone_of", "csv_bytes", "effective_grants",
    "export_table_schema",
    "RoadmapEntry", "cog_data_dir", "completeness",
]
