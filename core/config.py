"""Instance configuration: ``instances/<slug>/instance.toml``, validated with located errors.

Load order: core defaults → ``instance.toml`` → environment (``PILOTE_DATABASE_URL``,
``PILOTE_SECRET_KEY``, ``PILOTE_REDIS_URL``) → ``settings`` passed to ``create_app``.
Secrets never live in the file: a value may be ``{ env = "VARIABLE" }``.
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTANCES_DIR = REPO_ROOT / "instances"
THEMES_DIR = REPO_ROOT / "themes"
DEFAULT_INSTANCE = "ditp"
CORE_LEVELS = ("nation", "region", "department", "commune")
# The levels each ``[[grids]] reference`` loader provides (see core/seed/reference.py and grids.py).
# (the level keys pick one family, see core/seed/grids.py)
REFERENCE_FAMILIES = (
    CORE_LEVELS,
    ("nation", "region", "department", "crte", "epci", "commune"),
    ("nation", "gendarmerie_region", "departmental_group", "company"),
)
REFERENCE_LEVELS = {"cog": tuple(dict.fromkeys(k for family in REFERENCE_FAMILIES for k in family))}
# Domain terms an instance may rename in [wording.<locale>] (see core.templating.TERMS).
WORDING_TERMS = ("policy", "policies", "indicator", "indicators", "territory", "territories")
SLUG = validate.Regexp(r"^[a-z][a-z0-9_-]{1,39}$", error="must be lowercase letters, digits, - or _")


class ConfigError(Exception):
    """A located configuration problem: ``file: [table] key: reason``."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(f"{_display(self.path)}: {p}" for p in problems))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Localised(fields.Dict):
    """``{ fr = "…", en = "…" }``: a label per locale (a plain string means every locale)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return {"*": value}
        value = super()._deserialize(value, attr, data, **kwargs)
        bad = [k for k in value if not isinstance(value[k], str)]
        if bad:
            raise ValidationError(f"labels must be strings (key {bad[0]!r})")
        return value


class SecretOrValue(fields.Field):
    """A string, or ``{ env = "NAME" }`` read from the environment at load time.

    With ``env_required=True`` an unset variable is an error; otherwise it gives None.
    """

    def __init__(self, *args, env_required: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.env_required = env_required

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and set(value) == {"env"} and isinstance(value["env"], str):
            found = os.environ.get(value["env"])
            if found is None and self.env_required:
                raise ValidationError(f"environment variable {value['env']} is not set")
            return found
        raise ValidationError('must be a string or { env = "VARIABLE" }')


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class InstanceSection(StrictSchema):
    slug = fields.String(required=True, validate=SLUG)
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    operator = fields.String(load_default="")
    description = Localised(load_default=dict)
    default_locale = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))
    locales = fields.List(
        fields.String(validate=validate.OneOf(["fr", "en"])), load_default=lambda: ["fr", "en"]
    )
    timezone = fields.String(
        load_default="Europe/Paris",
        validate=validate.OneOf(sorted(zoneinfo.available_timezones()),
                                error="unknown time zone (IANA name expected, e.g. Europe/Paris)"),
    )

    @validates_schema
    def _default_in_locales(self, data, **_):
        if data.get("default_locale") not in data.get("locales", ["fr", "en"]):
            raise ValidationError("must be one of locales", "default_locale")


class ThemeSection(StrictSchema):
    name = fields.String(load_default="base")
    tokens = fields.Dict(keys=fields.String(validate=SLUG), values=fields.String(), load_default=dict)


class PluginsSection(Schema):
    """``enabled`` plus one table per enabled plugin (validated by the plugin's schema)."""

    class Meta:
        unknown = "include"

    enabled = fields.List(fields.String(validate=SLUG), load_default=list)


class DatabaseSection(StrictSchema):
    url = SecretOrValue(load_default=None, env_required=True)


class LevelSchema(StrictSchema):
    key = fields.String(required=True, validate=SLUG)
    label = Localised(required=True)
    parent = fields.String(load_default=None)


class GridSchema(StrictSchema):
    key = fields.String(required=True, validate=SLUG)
    label = Localised(required=True)
    levels = fields.List(fields.Nested(LevelSchema), required=True, validate=validate.Length(min=1))
    reference = fields.String(
        load_default="none",
        validate=validate.OneOf(["cog", "none"]),
        metadata={"doc": "Where the grid's territories come from, loaded by `pilote seed`: `cog` loads "
                         "them from the official French code lists (INSEE COG, DGCL EPCI), the level "
                         "keys choosing one family: nation, region, department, commune (administrative); "
                         "or nation, region, department, `crte` (territorial contract perimeters grouping "
                         "the EPCI of a department), `epci`, commune (attached to its EPCI); or nation, "
                         "`gendarmerie_region` (one per region), `departmental_group` (one per "
                         "department), `company` (2–6 per department, named after its communes). "
                         "`none` loads nothing (the instance provides them)."},
    )


class KindSchema(StrictSchema):
    key = fields.String(required=True, validate=SLUG)
    label = Localised(required=True)


class SeedSection(StrictSchema):
    demo = fields.String(load_default="seed/demo.toml")


class AuthProviderSchema(StrictSchema):
    """One OpenID Connect provider (ProConnect or any other), see docs/identity.md."""

    label = fields.String(required=True, validate=validate.Length(min=1, max=80))
    server_metadata_url = fields.Url(
        required=True, require_tld=False, schemes={"http", "https"},
        metadata={"doc": "The provider's discovery document (`…/.well-known/openid-configuration`)."})
    client_id = SecretOrValue(required=True, env_required=True)
    client_secret = SecretOrValue(required=True, env_required=True)
    scopes = fields.List(fields.String(), load_default=lambda: ["openid", "email", "given_name", "usual_name"])
    style = fields.String(load_default="default", validate=validate.OneOf(["default", "proconnect"]),
                          metadata={"doc": "`proconnect` draws the official ProConnect button."})
    token_auth_method = fields.String(
        load_default="client_secret_post",
        validate=validate.OneOf(["client_secret_post", "client_secret_basic"]))


class AuthSection(StrictSchema):
    session_lifetime_hours = fields.Integer(load_default=12, validate=validate.Range(min=1, max=72))
    local_login = fields.Boolean(load_default=True, metadata={
        "doc": "Offer the e-mail and password form (local accounts, throttled, with password reset "
               "by e-mail). Set false when everyone signs in through a provider."})
    providers = fields.Dict(
        keys=fields.String(validate=SLUG), values=fields.Nested(AuthProviderSchema), load_default=dict,
        metadata={"doc": "An OpenID Connect provider (ProConnect or any other) offered on the sign-in "
                         "page, as a table: `label`, `server_metadata_url` (discovery document), "
                         "`client_id` and `client_secret` (`{ env = \"…\" }`), `scopes`, `style` "
                         "(`default` or `proconnect`), `token_auth_method` (`client_secret_post` or "
                         "`client_secret_basic`). See docs/identity.md."})


class MailSection(StrictSchema):
    """Outgoing e-mail. Without ``host``, messages are captured in the database and shown to
    administrators (the embedded default)."""

    host = fields.String(load_default=None, metadata={
        "doc": "SMTP server. Without it, e-mails are captured in the database and shown to "
               "administrators at /admin/courriels instead of being sent."})
    port = fields.Integer(load_default=None, validate=validate.Range(min=1, max=65535),
                          metadata={"doc": "SMTP port; by default 587 (starttls), 465 (ssl) or 25 (none)."})
    user = SecretOrValue(load_default=None, metadata={"doc": "SMTP login, if the server asks for one."})
    password = SecretOrValue(load_default=None, metadata={
        "doc": "SMTP password: `{ env = \"VARIABLE\" }`, never in the file."})
    security = fields.String(load_default="starttls", validate=validate.OneOf(["none", "starttls", "ssl"]),
                             metadata={"doc": "Transport security: `starttls`, `ssl` (implicit TLS) or `none`."})
    sender = fields.Email(load_default="pilote@localhost",
                          metadata={"doc": "The `From` address of every message."})
    timeout_seconds = fields.Integer(load_default=20, validate=validate.Range(min=1, max=120),
                                     metadata={"doc": "How long to wait for the SMTP server."})


class ReportsSection(StrictSchema):
    """Housekeeping of the PDF reports on demand (docs/reports.md)."""

    retention_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=3650), metadata={
        "doc": "Days a produced PDF is kept after it was made; then the file is deleted and its "
               "request says « expiré » with a button to produce it again."})
    running_timeout_minutes = fields.Integer(load_default=15, validate=validate.Range(min=1, max=1440), metadata={
        "doc": "A report still in production after this many minutes is taken as interrupted "
               "(its worker died) and marked failed; its requester can start it again."})
    queued_timeout_minutes = fields.Integer(load_default=60, validate=validate.Range(min=1, max=10080), metadata={
        "doc": "A queued report that no worker started within this many minutes is marked failed."})


class InstanceSchema(StrictSchema):
    instance = fields.Nested(InstanceSection, required=True)
    theme = fields.Nested(ThemeSection, load_default=lambda: ThemeSection().load({}))
    plugins = fields.Nested(PluginsSection, load_default=lambda: {"enabled": []})
    database = fields.Nested(DatabaseSection, load_default=lambda: {"url": None})
    grids = fields.List(fields.Nested(GridSchema), required=True, validate=validate.Length(min=1))
    policy_kinds = fields.List(fields.Nested(KindSchema), required=True, validate=validate.Length(min=1))
    comment_types = fields.List(fields.Nested(KindSchema), load_default=list)
    wording = fields.Dict(
        keys=fields.String(validate=validate.OneOf(["fr", "en"])),
        values=fields.Dict(keys=fields.String(), values=fields.String()),
        load_default=dict,
    )
    seed = fields.Nested(SeedSection, load_default=lambda: {"demo": "seed/demo.toml"})
    auth = fields.Nested(AuthSection, load_default=lambda: AuthSection().load({}))
    mail = fields.Nested(MailSection, load_default=lambda: MailSection().load({}),
                         metadata={"doc": "Outgoing e-mail (password resets, notifications, access requests)."})
    reports = fields.Nested(ReportsSection, load_default=lambda: ReportsSection().load({}),
                            metadata={"doc": "How long report PDFs are kept, and when a report in "
                                             "production is taken as interrupted."})

    @validates_schema(skip_on_field_errors=False)
    def _known_terms(self, data, **_):
        unknown = {
            locale: {term: [f"unknown term (allowed: {', '.join(WORDING_TERMS)})"]
                     for term in terms if term not in WORDING_TERMS}
            for locale, terms in data.get("wording", {}).items()
        }
        unknown = {locale: terms for locale, terms in unknown.items() if terms}
        if unknown:
            raise ValidationError({"wording": unknown})


@dataclass
class InstanceConfig:
    """The validated configuration of one instance."""

    path: Path
    data: dict[str, Any]
    var_dir: Path
    database_url: str
    secret_key: str | None
    redis_url: str | None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.data["instance"]["slug"]

    @property
    def dir(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.data["instance"]["name"]

    @property
    def theme(self) -> str:
        return self.data["theme"]["name"]

    @property
    def enabled_plugins(self) -> list[str]:
        return list(self.data["plugins"]["enabled"])

    def plugin_table(self, name: str) -> dict[str, Any]:
        return dict(self.data["plugins"].get(name) or {})

    @property
    def grids(self) -> list[dict[str, Any]]:
        return self.data["grids"]

    @property
    def levels(self) -> list[dict[str, Any]]:
        """Every level of every grid, in declaration order."""
        return [level for grid in self.grids for level in grid["levels"]]

    @property
    def level_keys(self) -> list[str]:
        return [level["key"] for level in self.levels]

    @property
    def policy_kinds(self) -> list[dict[str, Any]]:
        return self.data["policy_kinds"]

    @property
    def default_locale(self) -> str:
        return self.data["instance"]["default_locale"]

    @property
    def locales(self) -> list[str]:
        return self.data["instance"]["locales"]


def resolve_instance_path(instance: str | os.PathLike | None) -> Path:
    """``instance`` is a slug of ``instances/``, a folder holding ``instance.toml``, or the
    file itself; None means ``$PILOTE_INSTANCE`` or the reference instance."""
    instance = instance or os.environ.get("PILOTE_INSTANCE") or DEFAULT_INSTANCE
    candidate = Path(instance)
    if candidate.suffix == ".toml":
        path = candidate
    elif candidate.is_dir() or os.sep in str(instance):
        path = candidate / "instance.toml"
    else:
        path = INSTANCES_DIR / str(instance) / "instance.toml"
    if not path.is_file():
        known = sorted(p.parent.name for p in INSTANCES_DIR.glob("*/instance.toml"))
        raise ConfigError(path, [f"no instance.toml here (known instances: {', '.join(known)})"])
    return path.resolve()


def _flatten(messages: Any, prefix: tuple = ()) -> list[tuple[tuple, str]]:
    out: list[tuple[tuple, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.extend(_flatten(value, prefix + (key,)))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.extend((prefix, m) for m in messages)
    else:
        out.append((prefix, str(messages)))
    return out


def format_location(parts: tuple) -> str:
    """``("plugins", "enabled", 2)`` → ``[plugins] enabled[2]``; ``("grids", 0, "key")`` →
    ``grids[0].key`` (TOML-like, so the user finds the line)."""
    parts = tuple(p for p in parts if p != "_schema")
    if not parts:
        return "(top level)"
    head, rest = parts[0], parts[1:]
    tail = ""
    for part in rest:
        tail += f"[{part}]" if isinstance(part, int) else (f".{part}" if tail else str(part))
    if rest and isinstance(rest[0], int):
        return f"{head}{tail}"
    return f"[{head}] {tail}".strip()


def located_errors(err: ValidationError, prefix: tuple = ()) -> list[str]:
    problems = []
    for parts, message in _flatten(err.messages, prefix):
        if message == "Unknown field.":
            message = "unknown key"
        problems.append(f"{format_location(parts)}: {message}")
    return problems


def load_instance_config(
    instance: str | os.PathLike | None = None, settings: Mapping[str, Any] | None = None
) -> InstanceConfig:
    """Read, validate and complete an instance's configuration. Raises :class:`ConfigError`."""
    path = resolve_instance_path(instance)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from None
    try:
        data = InstanceSchema().load(raw)
    except ValidationError as exc:
        raise ConfigError(path, located_errors(exc)) from None
    problems = _check_consistency(data, path)
    if problems:
        raise ConfigError(path, problems)
    settings = dict(settings or {})
    slug = data["instance"]["slug"]
    var_dir = Path(os.environ.get("PILOTE_VAR_DIR") or REPO_ROOT / "var" / slug)
    database_url = (
        settings.pop("DATABASE_URL", None)
        or os.environ.get("PILOTE_DATABASE_URL")
        or data["database"]["url"]
        or f"sqlite:///{var_dir / 'pilote.sqlite3'}"
    )
    return InstanceConfig(
        path=path,
        data=data,
        var_dir=var_dir,
        database_url=database_url,
        secret_key=settings.pop("SECRET_KEY", None) or os.environ.get("PILOTE_SECRET_KEY"),
        redis_url=settings.pop("REDIS_URL", None) or os.environ.get("PILOTE_REDIS_URL"),
        overrides=settings,
    )


def _check_consistency(data: dict[str, Any], path: Path) -> list[str]:
    problems = []
    if data["instance"]["slug"] != path.parent.name and path.parent.parent == INSTANCES_DIR:
        problems.append(
            f"[instance] slug: {data['instance']['slug']!r} differs from its folder name "
            f"{path.parent.name!r}"
        )
    # the neutral default first, then the others by name
    themes = sorted((p.parent.name for p in THEMES_DIR.glob("*/theme.toml")), key=lambda n: (n != "base", n))
    if data["theme"]["name"] not in themes:
        problems.append(
            f"[theme] name: unknown theme {data['theme']['name']!r} (available: {', '.join(themes)})"
        )
    enabled = data["plugins"]["enabled"]
    from core.plugins import installed_plugins

    installed = sorted(installed_plugins())
    for i, name in enumerate(enabled):
        if name in enabled[:i]:
            problems.append(f"[plugins] enabled[{i}]: {name!r} is listed twice")
        elif name not in installed:
            problems.append(
                f"[plugins] enabled[{i}]: plugin {name!r} is not installed "
                f"(installed: {', '.join(installed)})"
            )
    for name, table in data["plugins"].items():
        if name != "enabled" and name not in enabled:
            problems.append(f"[plugins.{name}]: settings for a plugin that is not enabled")
        elif name != "enabled" and not isinstance(table, dict):
            problems.append(f"[plugins] {name}: must be a table")
    for gi, grid in enumerate(data["grids"]):
        keys_in_grid = []
        for li, level in enumerate(grid["levels"]):
            where = format_location(("grids", gi, "levels", li, "parent"))
            if level["parent"] is None and li > 0:
                problems.append(f"{where}: required for every level but the first")
            if level["parent"] is not None and level["parent"] not in keys_in_grid:
                problems.append(
                    f"{where}: unknown level {level['parent']!r} "
                    f"(allowed: {', '.join(keys_in_grid) or 'none, this is the top level'})"
                )
            keys_in_grid.append(level["key"])
        provided = REFERENCE_LEVELS.get(grid["reference"])
        if provided is not None:
            bad = [k for k in keys_in_grid if k not in provided]
            if not bad and not any(set(keys_in_grid) <= set(f) for f in REFERENCE_FAMILIES):
                problems.append(
                    f"{format_location(('grids', gi, 'reference'))}: these levels mix families of "
                    f"the code lists; use one of " + "; ".join(", ".join(f) for f in REFERENCE_FAMILIES))
            if bad:
                problems.append(
                    f"{format_location(('grids', gi, 'reference'))}: {grid['reference']!r} provides only "
                    f"{', '.join(provided)}, not {', '.join(bad)}"
                )
    return problems
