"""The application factory: one instance, one plugin manager, one theme per app."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import pluggy
from flask import Flask, Blueprint
from flask_wtf.csrf import CSRFProtect
from marshmallow import Schema, ValidationError

from core import audit, events  # noqa: F401  (registers the session listeners)
from core.config import ConfigError, InstanceConfig, load_instance_config, located_errors
from core.db import Database
from core.plugins import CORE_NAME, PluginError, build_plugin_manager, call_in_order, keyed_registry
from core.themes import Theme, merged_tokens, template_loader, theme_chain

log = logging.getLogger(__name__)


@dataclass
class PiloteState:
    """Everything that belongs to one app (stored at ``app.extensions["pilote"]``)."""

    config: InstanceConfig
    pm: pluggy.PluginManager
    db: Database
    themes: list[Theme]
    tokens: dict[str, str]
    plugin_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    actions: dict[str, Any] = field(default_factory=dict)
    widgets: dict[str, Any] = field(default_factory=dict)
    jobs: dict[str, Any] = field(default_factory=dict)
    aggregation_methods: dict[str, Any] = field(default_factory=dict)
    alert_rules: dict[str, Any] = field(default_factory=dict)

    @property
    def theme(self) -> Theme:
        return self.themes[0]


def create_app(
    instance: str | os.PathLike | None = None,
    *,
    settings: Mapping[str, Any] | None = None,
    extra_plugins: Iterable[Any] = (),
) -> Flask:
    """Build the Flask app of ``instance`` (slug, folder or ``instance.toml`` path).

    ``settings`` override configuration keys (``DATABASE_URL``, ``SECRET_KEY``,
    ``REDIS_URL`` and any Flask key); ``extra_plugins`` are registered with the highest
    precedence (tests, embedding). Never runs migrations.
    """
    config = load_instance_config(instance, settings)
    app = Flask("core", instance_path=str(config.var_dir), static_folder=None, template_folder=None)
    pm = build_plugin_manager(config.enabled_plugins, extra_plugins)
    chain = theme_chain(config.theme)
    state = PiloteState(
        config=config,
        pm=pm,
        db=Database(config.database_url),
        themes=chain,
        tokens=merged_tokens(chain, config.data["theme"]["tokens"]),
    )
    app.extensions["pilote"] = state
    _configure(app, config)
    state.plugin_settings = _validated_plugin_settings(config, pm)
    state.db.init_app(app)

    from core import gc_guard, i18n, security, templating, views

    i18n.init_app(app)
    CSRFProtect(app)
    security.init_app(app)
    app.jinja_loader = template_loader(chain, config.dir)
    _build_registries(state)
    templating.init_app(app)
    views.register(app)
    _register_plugin_blueprints(app)
    pm.hook.app_ready(app=app)
    gc_guard.install(app)
    return app


def _configure(app: Flask, config: InstanceConfig) -> None:
    app.config.update(
        SECRET_KEY=config.secret_key or _local_secret_key(config.var_dir),
        SESSION_COOKIE_NAME=f"pilote_{config.slug}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=config.data["auth"]["session_lifetime_hours"]),
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=50 * 1024 * 1024,
        PILOTE_INSTANCE=config.slug,
        PILOTE_REDIS_URL=config.redis_url,
    )
    app.config.update(config.overrides)


def _local_secret_key(var_dir: Path) -> str:
    """The embedded default keeps a random key in ``var/<instance>/secret_key`` (git-ignored).
    Production sets ``PILOTE_SECRET_KEY`` so that every worker shares it."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _validated_plugin_settings(config: InstanceConfig, pm) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    declared = dict(call_in_order(pm, "declare_settings"))
    extra = [name for name in declared if name not in config.enabled_plugins and name != CORE_NAME]
    for name in [*config.enabled_plugins, *extra]:  # extra: test or embedded plugins, defaults
        schema = declared.get(name)
        table = config.plugin_table(name)
        if schema is None:
            if table:
                problems.append(f"[plugins.{name}]: this plugin declares no settings")
            continue
        schema = schema() if isinstance(schema, type) and issubclass(schema, Schema) else schema
        try:
            out[name] = schema.load(table)
        except ValidationError as exc:
            problems.extend(located_errors(exc, prefix=(f"plugins.{name}",)))
    if problems:
        raise ConfigError(config.path, problems)
    return out


def _build_registries(state: PiloteState) -> None:
    pm = state.pm
    state.actions = keyed_registry(call_in_order(pm, "register_actions"), "name", "action")
    widgets = keyed_registry(call_in_order(pm, "register_widgets"), "key", "widget")
    from core.slots import SLOTS

    for key, widget in widgets.items():
        if widget.slot not in SLOTS:
            raise PluginError(f"widget {key!r}: unknown slot {widget.slot!r} (slots: {', '.join(SLOTS)})")
    state.widgets = widgets
    state.jobs = keyed_registry(call_in_order(pm, "register_jobs"), "name", "job")
    state.aggregation_methods = keyed_registry(
        call_in_order(pm, "register_aggregation_methods"), "key", "aggregation method")
    state.alert_rules = keyed_registry(call_in_order(pm, "register_alert_rules"), "key", "alert rule")


def _register_plugin_blueprints(app: Flask) -> None:
    state = app.extensions["pilote"]
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    for owner, bp in call_in_order(state.pm, "register_blueprints", app=app):
        if not isinstance(bp, Blueprint):
            raise PluginError(f"plugin {owner!r}: register_blueprints must return Blueprints")
        if owner != CORE_NAME and not (bp.name == owner or bp.name.startswith(owner + "_")):
            raise PluginError(f"blueprint {bp.name!r} of plugin {owner!r} must be named after it")
        prefix = bp.url_prefix or ""
        if owner != CORE_NAME and not (prefix == f"/{owner}" or prefix.startswith(f"/{owner}/")):
            raise PluginError(f"blueprint {bp.name!r} must be mounted under /{owner}")
        if bp.name in app.blueprints:
            raise PluginError(f"duplicate blueprint name {bp.name!r} (plugin {owner!r})")
        app.register_blueprint(bp)
        new_rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint.startswith(bp.name + ".")]
        clash = rules.intersection(new_rules)
        if clash:
            raise PluginError(f"plugin {owner!r} redefines URL {sorted(clash)[0]!r}")
        rules.update(new_rules)
