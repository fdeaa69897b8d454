"""Generate the ``instance.toml`` reference of ``docs/instances.md`` from the schema.

The reference is read from :class:`core.config.InstanceSchema`, walked recursively (tables,
arrays of tables, inline tables inside arrays, free-form tables), so it cannot drift from what
the loader accepts. Each key's description is the field's ``metadata={"doc": ...}`` when it has
one, else the entry of :data:`KEY_DOCS` for its TOML location. ``tests/test_docs.py`` fails when a
key has no description or when ``docs/instances.md`` is out of date.

``python -m core.docs_gen`` rewrites the generated block of ``docs/instances.md``;
``python -m core.docs_gen --check`` only tells whether it is up to date (exit status 1 if not).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from marshmallow import INCLUDE, Schema, fields, missing, validate

from core.config import REFERENCE_FAMILIES, REPO_ROOT, InstanceSchema, Localised, SecretOrValue
from core.templating import TERMS

DOC_PATH = REPO_ROOT / "docs" / "instances.md"
BEGIN = "<!-- BEGIN GENERATED: instance.toml keys -->"
END = "<!-- END GENERATED -->"

# Domain terms an instance may rename in [wording.<locale>].
WORDING_TERMS = tuple(TERMS)

# Placeholder names for the keys of free-form tables (marshmallow ``Dict`` fields), by path.
PLACEHOLDERS = {"theme.tokens": ("token",), "wording": ("locale", "term")}

# One English sentence (or two) per TOML location, for fields without ``metadata={"doc": ...}``.
KEY_DOCS: dict[str, str] = {
    # [instance]
    "[instance]": "Identity of the instance: who runs it, what it is called, which languages it speaks.",
    "[instance] slug": (
        "Identifier of the instance. It must equal the name of its folder when that folder is under "
        "`instances/`; it also names the session cookie (`pilote_<slug>`) and the default data "
        "folder `var/<slug>/`. Do not change it once users depend on the instance."
    ),
    "[instance] name": "Name of the service, shown in the header, the page titles and the footer.",
    "[instance] operator": (
        "Administration that runs the instance, shown under the name in the header and in the "
        "footer; empty hides it."
    ),
    "[instance] description": (
        "One-sentence presentation of the service, shown on the home page under its title: a "
        "string, or one string per locale."
    ),
    "[instance] default_locale": (
        "Language used when neither the visitor's choice, nor their account, nor their browser "
        "asks for one of `locales`; it must be one of `locales`."
    ),
    "[instance] locales": "Languages the interface offers, in the order of the language switch.",
    "[instance] timezone": (
        "IANA time zone in which dates and times are displayed (`Europe/Paris`, "
        "`America/Cayenne`…); times are stored in UTC."
    ),
    # [theme]
    "[theme]": "Look of the instance: which theme, and which of its design tokens to change.",
    "[theme] name": (
        "Theme, by folder name under `themes/`; it must exist. `base` is the neutral default "
        "(see [themes.md](themes.md))."
    ),
    "[theme.tokens] <token>": (
        "Overrides one design token of the theme, emitted as the CSS custom property "
        "`--pilote-<token>` (`primary = \"#000091\"`). A value containing `;`, `{`, `}`, `<`, `>` or "
        "a backslash is ignored. Keep the contrast rules of [themes.md](themes.md)."
    ),
    # [plugins]
    "[plugins]": "Which installed plugins this instance uses, in which order, with which settings.",
    "[plugins] enabled": (
        "Plugins to enable, by name; each must be installed (`pilote plugins list`) and appear "
        "once. The order is the precedence: the first plugin listed is called first and wins."
    ),
    "[plugins.<name>]": (
        "Settings of the enabled plugin `<name>`, validated by the schema that plugin declares "
        "(unknown keys are refused). Allowed only for an enabled plugin that declares settings."
    ),
    # [database]
    "[database]": "Where the instance's data lives.",
    "[database] url": (
        "SQLAlchemy URL of the database, normally `{ env = \"VARIABLE\" }`. `PILOTE_DATABASE_URL` "
        "takes precedence; with neither, an SQLite file `pilote.sqlite3` in the data folder is used."
    ),
    # [[grids]]
    "[[grids]]": (
        "Territorial grids: each is a hierarchy of levels (nation, region, department…) at which "
        "policies are steered. The top level of the first grid is the territory the home page "
        "opens on."
    ),
    "[[grids]] key": "Identifier of the grid.",
    "[[grids]] label": "Name of the grid shown to users: a string, or one string per locale.",
    "[[grids]] levels": "Levels of the grid, from the top down.",
    "[[grids]] levels[].key": (
        "Identifier of the level (`department`), used in URLs such as `?territoire=department-69`. "
        "With `reference = \"cog\"` the keys come from one family: "
        + "; ".join(", ".join(f"`{k}`" for k in family) for family in REFERENCE_FAMILIES) + "."
    ),
    "[[grids]] levels[].label": "Name of the level shown to users: a string, or one string per locale.",
    "[[grids]] levels[].parent": (
        "Key of the level just above, declared earlier in the same grid; required for every "
        "level but the first, which has none."
    ),
    # [[policy_kinds]]
    "[[policy_kinds]]": (
        "Kinds of policy the instance steers (priority policy, structuring project…)."
    ),
    "[[policy_kinds]] key": "Identifier of the kind, stored on each policy (`priority_policy`).",
    "[[policy_kinds]] label": "Name of the kind shown to users: a string, or one string per locale.",
    # [[comment_types]]
    "[[comment_types]]": (
        "Types of the comments written on a policy for a territory (obstacles, next actions…); "
        "none by default."
    ),
    "[[comment_types]] key": "Identifier of the type, stored on each comment (`obstacles`).",
    "[[comment_types]] label": "Name of the type shown to users: a string, or one string per locale.",
    # [wording.<locale>]
    "[wording.<locale>] <term>": (
        "Renames a domain term in one language (`policies = \"politiques prioritaires\"`). Terms: "
        + ", ".join(f"`{t}`" for t in WORDING_TERMS) + "; other keys are ignored."
    ),
    # [seed]
    "[seed]": "Data loaded by `pilote seed`.",
    "[seed] demo": (
        "Demo data spec loaded by `pilote seed demo`, relative to the instance folder."
    ),
    # [auth]
    "[auth]": "How users sign in.",
    "[auth] session_lifetime_hours": "How long a sign-in lasts, in hours, before the user must sign in again.",
}


@dataclass(frozen=True)
class Row:
    """One documented key of ``instance.toml``."""

    location: str  # TOML location: "[instance] name", "[[grids]] levels[].key", "[theme.tokens] <token>"
    path: tuple[str, ...]  # schema path: ("grids", "levels", "key")
    kind: str  # "table", "array" (of tables) or "value"
    type: str
    required: bool
    default: str  # "" when required or when there is no default worth showing
    allowed: str
    doc: str
    doc_source: str  # "metadata", "KEY_DOCS" or "" (missing)


# --------------------------------------------------------------------------- describing fields
def _type_name(field: fields.Field) -> str:
    if isinstance(field, Localised):
        return 'string or `{ fr = "…", en = "…" }`'
    if isinstance(field, SecretOrValue):
        return 'string or `{ env = "VARIABLE" }`'
    if isinstance(field, fields.List):
        inner = field.inner
        if isinstance(inner, fields.Nested):
            return "array of inline tables"
        return f"array of {_plural(_type_name(inner))}"
    if isinstance(field, fields.Nested):
        return "array of tables" if field.many else "table"
    if isinstance(field, fields.Dict):
        return "table"
    for cls, name in (
        (fields.Email, "string (e-mail address)"),
        (fields.Url, "string (URL)"),
        (fields.String, "string"),
        (fields.Boolean, "boolean"),
        (fields.Integer, "integer"),
        (fields.Float, "float"),
        (fields.Decimal, "decimal"),
        (fields.DateTime, "date-time"),
        (fields.Date, "date"),
    ):
        if isinstance(field, cls):
            return name
    return type(field).__name__.lower()


def _plural(name: str) -> str:
    head, sep, tail = name.partition(" ")
    return f"{head}s{sep}{tail}"


def _code(value: Any) -> str:
    return f"`{value}`"


def _toml_value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return _code("true" if value else "false")
    if isinstance(value, (int, float)):
        return _code(value)
    if isinstance(value, str):
        return _code(json.dumps(value, ensure_ascii=False))
    if isinstance(value, (list, tuple)):
        return _code("[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]")
    if isinstance(value, dict) and not value:
        return "empty"
    return _code(value)


def _default(field: fields.Field) -> str:
    if field.required:
        return ""
    value = field.load_default
    if value is missing:
        return "unset"
    if callable(value):
        value = value()
    return _toml_value(value)


def _describe_validator(v: Any, field: fields.Field) -> str:
    if isinstance(v, validate.OneOf):
        return "one of " + ", ".join(_code(c) for c in v.choices)
    if isinstance(v, validate.Range):
        lo, hi = v.min, v.max
        if lo is not None and hi is not None:
            return f"{_code(lo)} to {_code(hi)}"
        if lo is not None:
            return f"at least {_code(lo)}" if v.min_inclusive else f"more than {_code(lo)}"
        return f"at most {_code(hi)}" if v.max_inclusive else f"less than {_code(hi)}"
    if isinstance(v, validate.Length):
        unit = "characters" if isinstance(field, fields.String) else "entries"
        if v.equal is not None:
            return f"exactly {v.equal} {unit}"
        if v.min is not None and v.max is not None:
            return f"{v.min} to {v.max} {unit}"
        if v.min is not None:
            return f"at least {v.min} {'entry' if unit == 'entries' and v.min == 1 else unit}"
        return f"at most {v.max} {unit}"
    if isinstance(v, validate.Regexp):
        text = _code(v.regex.pattern)
        if v.error and v.error != validate.Regexp.default_message:
            text += " (" + v.error.removeprefix("must be ") + ")"
        return text
    return getattr(v, "__name__", type(v).__name__)


def _allowed(field: fields.Field, key_names: tuple[str, ...] = ()) -> str:
    parts = [_describe_validator(v, field) for v in field.validators]
    if isinstance(field, fields.List) and not isinstance(field.inner, fields.Nested):
        parts += [f"each {_describe_validator(v, field.inner)}" for v in field.inner.validators]
    if isinstance(field, fields.Dict) and not isinstance(field, Localised):
        dicts = [field]
        while isinstance(dicts[-1].value_field, fields.Dict):
            dicts.append(dicts[-1].value_field)
        for name, d in zip(key_names, dicts):
            if d.key_field is not None:
                parts += [f"`<{name}>`: {_describe_validator(v, d.key_field)}" for v in d.key_field.validators]
        last = dicts[-1].value_field
        if last is not None:
            parts += [_describe_validator(v, last) for v in last.validators]
    return "; ".join(parts)


# --------------------------------------------------------------------------- walking the schema
def _schema_of(field: fields.Nested) -> Schema:
    nested = field.nested
    if callable(nested) and not isinstance(nested, type):
        nested = nested()
    return nested() if isinstance(nested, type) else nested


def _doc(field: fields.Field | None, location: str) -> tuple[str, str]:
    doc = (field.metadata.get("doc") if field is not None else None) or ""
    if doc:
        return doc, "metadata"
    if KEY_DOCS.get(location):
        return KEY_DOCS[location], "KEY_DOCS"
    return "", ""


def _row(field: fields.Field | None, location: str, path: tuple[str, ...], kind: str,
         type_: str, required: bool, default: str, allowed: str) -> Row:
    doc, source = _doc(field, location)
    return Row(location, path, kind, type_, required, default, allowed, doc, source)


def _walk(schema: Schema, header: str | None, table: str, inline: str,
          path: tuple[str, ...]) -> Iterator[Row]:
    """Rows of ``schema``'s fields. ``header`` is the TOML table header the keys sit under
    (``[instance]``, ``[[grids]]``, None at the top); ``table`` its dotted name; ``inline`` the
    prefix of keys inside inline tables (``levels[].``)."""
    for name, field in schema.fields.items():
        key = field.data_key or name
        here = path + (key,)
        dotted = f"{table}.{key}" if table else key
        if isinstance(field, fields.Nested) and not field.many and not inline and not _header_is_array(header):
            sub = f"[{dotted}]"
            yield _row(field, sub, here, "table", "table", field.required, "", _allowed(field))
            yield from _walk(_schema_of(field), sub, dotted, "", here)
            if _schema_of(field).unknown == INCLUDE:
                loc = f"[{dotted}.<name>]"
                yield _row(None, loc, here + ("<name>",), "table", "table", False, "", "")
        elif _is_array_of_tables(field) and not inline and not _header_is_array(header):
            sub = f"[[{dotted}]]"
            yield _row(field, sub, here, "array", "array of tables", field.required, "",
                       _allowed(field))
            yield from _walk(_nested_schema(field), sub, dotted, "", here)
        elif isinstance(field, (fields.Nested, fields.List)) and _nested_schema(field) is not None:
            loc = f"{header} {inline}{key}" if header else f"{inline}{key}"
            yield _row(field, loc, here, "value", _type_name(field), field.required,
                       _default(field), _allowed(field))
            suffix = "[]." if isinstance(field, fields.List) or field.many else "."
            yield from _walk(_nested_schema(field), header, table, f"{inline}{key}{suffix}", here)
        elif isinstance(field, fields.Dict) and not isinstance(field, Localised):
            names = PLACEHOLDERS.get(dotted, ("key",))
            depth = 1
            value = field.value_field
            while isinstance(value, fields.Dict):
                depth, value = depth + 1, value.value_field
            names = (names + ("key",) * depth)[:depth]
            if header and (inline or _header_is_array(header)):
                loc = f"{header} {inline}{key}." + ".".join(f"<{n}>" for n in names)
            else:
                tables = ".".join([dotted, *(f"<{n}>" for n in names[:-1])])
                loc = f"[{tables}] <{names[-1]}>"
            yield _row(field, loc, here + tuple(f"<{n}>" for n in names), "value",
                       _type_name(value) if value is not None else "any", field.required,
                       _default(field), _allowed(field, names))
        else:
            loc = f"{header} {inline}{key}" if header else f"{inline}{key}"
            yield _row(field, loc, here, "value", _type_name(field), field.required,
                       _default(field), _allowed(field))


def _header_is_array(header: str | None) -> bool:
    return bool(header) and header.startswith("[[")


def _is_array_of_tables(field: fields.Field) -> bool:
    return (isinstance(field, fields.List) and isinstance(field.inner, fields.Nested)) or (
        isinstance(field, fields.Nested) and field.many)


def _nested_schema(field: fields.Field) -> Schema | None:
    if isinstance(field, fields.Nested):
        return _schema_of(field)
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        return _schema_of(field.inner)
    return None


def reference_rows(schema: Schema | None = None) -> list[Row]:
    """Every documented location of ``instance.toml``, in schema order."""
    return list(_walk(schema or InstanceSchema(), None, "", "", ()))


# --------------------------------------------------------------------------- markdown
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def instance_reference_markdown() -> str:
    """The generated reference: one heading per top-level section, one table row per key."""
    rows = reference_rows()
    out = ["<!-- Generated from core/config.py by `python -m core.docs_gen`: do not edit by hand. -->"]
    sections: dict[str, list[Row]] = {}
    for row in rows:
        sections.setdefault(row.path[0], []).append(row)
    for key, section in sections.items():
        head = section[0] if len(section[0].path) == 1 and section[0].kind != "value" else None
        body = section[1:] if head else section
        if head:
            title = head.location
            what = "table" if head.kind == "table" else "array of tables"
            lead = f"{'Required' if head.required else 'Optional'} {what}"
            lead += f" ({head.allowed})." if head.allowed else "."
        else:
            title = body[0].location.split(" ")[0] if body[0].location.startswith("[") else key
            lead = "Required." if body[0].required else "Optional."
        out += ["", f"### `{title}`", "", f"{lead} {head.doc if head else ''}".rstrip(), ""]
        out += ["| Key | Type | Default | Allowed values | Description |",
                "|---|---|---|---|---|"]
        for row in body:
            default = "**required**" if row.required else row.default
            out.append("| " + " | ".join(_cell(c) for c in (
                f"`{row.location}`", row.type, default, row.allowed, row.doc)) + " |")
    return "\n".join(out) + "\n"


def generated_block(text: str) -> str:
    """The text between the markers of ``docs/instances.md`` (ValueError when they are missing)."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"markers {BEGIN!r} … {END!r} not found")
    return text[start + len(BEGIN):end].strip("\n") + "\n"


def rewrite(path: Path = DOC_PATH) -> bool:
    """Rewrite the generated block of ``path``; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    generated_block(text)  # validates the markers
    start, end = text.find(BEGIN) + len(BEGIN), text.find(END)
    new = text[:start] + "\n" + instance_reference_markdown() + "\n" + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"]:
        current = generated_block(DOC_PATH.read_text(encoding="utf-8"))
        if current != instance_reference_markdown():
            print(f"{DOC_PATH.relative_to(REPO_ROOT)} is out of date: run python -m core.docs_gen")
            return 1
        print(f"{DOC_PATH.relative_to(REPO_ROOT)} is up to date.")
        return 0
    changed = rewrite()
    print(f"{DOC_PATH.relative_to(REPO_ROOT)} {'rewritten' if changed else 'already up to date'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
