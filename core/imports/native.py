"""Pilote's own import format: long, explicit, described by a published Table Schema.

The schema is ``core/imports/schemas/native.json`` (Frictionless Table Schema); rows are
validated against it here, by a small validator covering what the schema uses (types
``string``/``number``/``integer``/``date``, constraints ``required``, ``enum``, ``pattern``,
``minLength``/``maxLength``, ``minimum``/``maximum``, ``missingValues``; uniqueness of the
``primaryKey`` is checked by the import runner on resolved territories, which is stricter).
Columns: ``indicator, territory_level, territory_code, kind, date, value[, target_scope]
[, source]``. Files: CSV UTF-8 (``,`` or ``;``) or XLSX, like the PILOTE format.
"""

from __future__ import annotations

import decimal
import functools
import json
import re
from pathlib import Path
from typing import Any

from core.imports.pilote_format import (
    cell_text,
    data_rows,
    parse_date,
    parse_number,
)
from core.imports.report import ImportReport
from core.imports.service import ParsedImport, ValueRow, file_sha256
from core.models import TargetScope, ValueKind

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "native.json"
ROLES = {"indicator": "indicator", "zone": "territory_code", "kind": "kind", "date": "date",
         "value": "value"}
REPORTED_ROLES = {"indicator": "indicator", "territory_code": "zone"}


@functools.lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_columns(schema: dict[str, Any] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(every column, the columns a file must have) according to the schema."""
    fields = (schema or load_schema())["fields"]
    return (tuple(f["name"] for f in fields),
            tuple(f["name"] for f in fields if not f.get("x-optional")))


def cast_field(field: dict[str, Any], cell: Any, missing: set[str]) -> tuple[Any, str | None]:
    """``(typed value or None, reason if the cell breaks the field's type or constraints)``."""
    constraints = field.get("constraints", {})
    text = cell_text(cell)
    if text in missing:
        return None, ("missing value (required)" if constraints.get("required") else None)
    kind = field["type"]
    try:
        if kind == "number":
            if isinstance(cell, str) and "," in cell:
                raise ValueError("not a number")
            value: Any = parse_number(cell)
        elif kind == "integer":
            value = parse_number(cell)
            if value is not None and value != value.to_integral_value():
                raise ValueError("not an integer")
        elif kind == "date":
            value = parse_date(cell, iso_only=True)
        else:
            value = text
    except ValueError as exc:
        return None, str(exc)
    if "enum" in constraints and value not in constraints["enum"]:
        return None, f"not one of {', '.join(map(str, constraints['enum']))}"
    if "pattern" in constraints and not re.fullmatch(constraints["pattern"], str(text)):
        return None, f"does not match the pattern {constraints['pattern']}"
    if "minLength" in constraints and len(text) < constraints["minLength"]:
        return None, f"shorter than {constraints['minLength']} characters"
    if "maxLength" in constraints and len(text) > constraints["maxLength"]:
        return None, f"longer than {constraints['maxLength']} characters"
    if "minimum" in constraints and value < decimal.Decimal(str(constraints["minimum"])):
        return None, f"below the minimum {constraints['minimum']}"
    if "maximum" in constraints and value > decimal.Decimal(str(constraints["maximum"])):
        return None, f"above the maximum {constraints['maximum']}"
    return value, None


def parse_native(path: Path, display_name: str | None = None) -> ParsedImport:
    name = display_name or path.name
    report = ImportReport(format="native", filename=name, file_hash=file_sha256(path))
    parsed = ParsedImport(report)
    schema = load_schema()
    fields = {f["name"]: f for f in schema["fields"]}
    missing = set(schema.get("missingValues", [""]))
    allowed, required = schema_columns(schema)
    for number, cells, index in data_rows(report, name, path, allowed, required):
        values: dict[str, Any] = {}
        raw: dict[str, str] = {}
        reported: set[str] = set()
        valid = True
        for column, i in index.items():
            cell = cells[i] if i < len(cells) else None
            value, reason = cast_field(fields[column], cell, missing)
            if reason:
                valid = False
                report.problem(name, number, column, cell_text(cell), reason)
                if column in REPORTED_ROLES:
                    reported.add(REPORTED_ROLES[column])
            values[column] = value
            raw[column] = cell_text(cell)
        scope = values.get("target_scope")
        if scope and values.get("kind") not in (None, "target"):
            valid = False
            report.problem(name, number, "target_scope", scope,
                           "only a target has a scope (leave it empty for baseline and actual)")
        parsed.rows.append(ValueRow(
            file=name, row=number, indicator=raw.get("indicator", ""),
            zone=raw.get("territory_code", ""), level=raw.get("territory_level") or None,
            kind=ValueKind(values["kind"]) if values.get("kind") else None,
            date=values.get("date"), value=values.get("value"), columns=ROLES,
            target_scope=TargetScope(scope) if scope else None,
            source=values.get("source") or "", valid=valid, reported=frozenset(reported),
        ))
    return parsed
