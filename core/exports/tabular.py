"""CSV and XLSX exports of entered values (with provenance) and of computed figures.

Tables are built by :func:`values_table`, :func:`policy_figures_table` and
:func:`indicator_figures_table` from :class:`ExportFilters` and **the caller's scope**:
``user=`` a user (only the policies ``scope("policy.read", Policy, user=user)`` lets them read)
or :data:`UNRESTRICTED` (trusted callers such as the ``pilote`` command, which has shell
access to the database anyway). There is no default, so that a view cannot forget it.

Formats:

* **CSV**: ``;``-separated, UTF-8 **with a BOM**, ``\\r\\n`` line ends, minimal quoting — what
  PILOTE's exports used, and what French Excel opens correctly by double-click. Values stay
  machine-readable: decimal point ``.``, dates ``YYYY-MM-DD``, timestamps UTC
  ``YYYY-MM-DDThh:mm:ssZ``, booleans ``true``/``false``, empty for missing. The header holds
  the column names; :func:`table_schema` describes them (a Table Schema, written as
  ``<name>.schema.json`` next to the CSV by :func:`write_csv_with_schema`).
* **XLSX** (openpyxl, streamed): one sheet per table, bold header, first row frozen,
  numbers as numbers, dates as dates (``yyyy-mm-dd``), timestamps as UTC date-times
  (``yyyy-mm-dd h:mm:ss``).

Filters: policy codes, group codes, policy kinds, policy statuses, territory levels, territory
subtrees (roots and all their descendants), and a date range — the value's date for values,
``last_value_date`` for policy figures and ``actual_date`` for indicator figures (rows without
that date are left out once a range is given).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

from flask import current_app, has_app_context
from sqlalchemy import case, select
from sqlalchemy.orm import Session, aliased

from core.engine.recompute import next_update_due, reference_date
from core.models import (
    Indicator,
    IndicatorFigure,
    IndicatorValue,
    Policy,
    PolicyFigure,
    PolicyGroup,
    PolicyStatus,
    Territory,
    User,
)

CSV_DELIMITER = ";"
CSV_ENCODING = "utf-8-sig"  # UTF-8 with a BOM
CHUNK = 2000


class _Unrestricted:
    def __repr__(self) -> str:
        return "UNRESTRICTED"


UNRESTRICTED: Any = _Unrestricted()
"""Pass as ``user=`` to export without any permission scope (trusted callers only)."""


@dataclass(frozen=True)
class ExportFilters:
    policy_codes: tuple[str, ...] = ()
    group_codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    territory_ids: tuple[int, ...] = ()  # subtree roots
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class Column:
    name: str
    title: str
    type: str = "string"  # Table Schema types: string, integer, number, date, datetime, boolean
    description: str = ""


@dataclass
class Table:
    """A named table: columns and an iterable of row tuples (consumed once)."""

    name: str
    title: str
    columns: list[Column]
    rows: Iterable[Sequence[Any]] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()


# --------------------------------------------------------------------------- queries
def _level_order():
    levels = (current_app.extensions["pilote"].config.level_keys
              if has_app_context() and "pilote" in current_app.extensions
              else ["nation", "region", "department"])
    return case({key: n for n, key in enumerate(levels)}, value=Territory.level, else_=len(levels))


def _policy_criteria(filters: ExportFilters, user: Any) -> list:
    if user is None:
        raise TypeError("user is required: a user, or UNRESTRICTED for trusted callers")
    criteria = []
    if user is not UNRESTRICTED:
        from core.permissions import scope

        criteria.append(scope("policy.read", Policy, user=user))
    if filters.policy_codes:
        criteria.append(Policy.code.in_(filters.policy_codes))
    if filters.group_codes:
        criteria.append(Policy.group_id.in_(
            select(PolicyGroup.id).where(PolicyGroup.code.in_(filters.group_codes))))
    if filters.kinds:
        criteria.append(Policy.kind.in_(filters.kinds))
    if filters.statuses:
        criteria.append(Policy.status.in_([PolicyStatus(s) for s in filters.statuses]))
    return criteria


def _territory_criteria(territory_id_column, filters: ExportFilters) -> list:
    criteria = []
    if filters.levels:
        criteria.append(Territory.level.in_(filters.levels))
    if filters.territory_ids:
        subtree = (select(Territory.id.label("id"))
                   .where(Territory.id.in_(filters.territory_ids))
                   .cte("export_subtree", recursive=True))
        child = aliased(Territory)
        subtree = subtree.union_all(select(child.id).where(child.parent_id == subtree.c.id))
        criteria.append(territory_id_column.in_(select(subtree.c.id)))
    return criteria


def _date_criteria(column, filters: ExportFilters) -> list:
    criteria = []
    if filters.date_from is not None:
        criteria.append(column >= filters.date_from)
    if filters.date_to is not None:
        criteria.append(column <= filters.date_to)
    return criteria


def _stream(session: Session, query, convert: Callable[[Any], Sequence[Any]] | None = None
            ) -> Iterator[Sequence[Any]]:
    for row in session.execute(query.execution_options(yield_per=CHUNK)):
        yield convert(row) if convert else tuple(row)


TERRITORY_COLUMNS = [
    Column("territory_level", "Maille"),
    Column("territory_code", "Code du territoire"),
    Column("territory_name", "Territoire"),
]


def values_table(session: Session, filters: ExportFilters = ExportFilters(), *, user: Any) -> Table:
    """Entered values (``indicator_value``, erased ones left out) with their provenance."""
    columns = [
        Column("policy_code", "Code de la politique"),
        Column("policy_name", "Politique"),
        Column("indicator_code", "Code de l'indicateur"),
        Column("indicator_name", "Indicateur"),
        Column("unit", "Unité"),
        *TERRITORY_COLUMNS,
        Column("kind", "Type de valeur", description="baseline (VI), actual (VA) or target (VC)"),
        Column("target_scope", "Portée de la cible", description="annual or final (targets)"),
        Column("date", "Date", "date"),
        Column("value", "Valeur", "number"),
        Column("source", "Source"),
        Column("channel", "Canal", description="form, import, api, seed or computed"),
        Column("author", "Auteur"),
        Column("recorded_at", "Enregistrée le (UTC)", "datetime"),
        Column("version", "Version", "integer"),
    ]
    query = (
        select(Policy.code, Policy.name, Indicator.code, Indicator.name, Indicator.unit,
               Territory.level, Territory.code, Territory.name, IndicatorValue.kind,
               IndicatorValue.target_scope, IndicatorValue.date, IndicatorValue.value,
               IndicatorValue.source, IndicatorValue.channel, User.name,
               IndicatorValue.recorded_at, IndicatorValue.version)
        .join(Indicator, Indicator.id == IndicatorValue.indicator_id)
        .join(Policy, Policy.id == Indicator.policy_id)
        .join(Territory, Territory.id == IndicatorValue.territory_id)
        .outerjoin(User, User.id == IndicatorValue.author_id)
        .where(IndicatorValue.value.is_not(None), *_policy_criteria(filters, user),
               *_territory_criteria(IndicatorValue.territory_id, filters),
               *_date_criteria(IndicatorValue.date, filters))
        .order_by(Policy.code, Indicator.position, Indicator.code, _level_order(), Territory.code,
                  IndicatorValue.kind, IndicatorValue.date)
    )

    def convert(row):
        row = list(row)
        for i in (8, 9, 13):
            row[i] = None if row[i] is None else row[i].value
        return row

    return Table("values", "Valeurs saisies", columns, _stream(session, query, convert),
                 ("indicator_code", "territory_level", "territory_code", "kind", "date"))


def policy_figures_table(session: Session, filters: ExportFilters = ExportFilters(), *,
                         user: Any) -> Table:
    """Stored policy figures (progress, trend, gap to the median) per territory."""
    columns = [
        Column("policy_code", "Code de la politique"),
        Column("policy_name", "Politique"),
        Column("policy_kind", "Type de politique"),
        Column("policy_status", "Statut"),
        Column("group_code", "Code du regroupement"),
        *TERRITORY_COLUMNS,
        Column("overall", "Taux d'avancement global (%)", "number"),
        Column("annual", "Taux d'avancement annuel (%)", "number"),
        Column("previous_overall", "Taux d'avancement précédent (%)", "number"),
        Column("trend", "Tendance", description="up, down or flat"),
        Column("gap_to_median", "Écart à la médiane (points)", "number"),
        Column("reason", "Motif d'absence de taux"),
        Column("last_value_date", "Date de la dernière valeur", "date"),
        Column("computed_at", "Calculé le (UTC)", "datetime"),
    ]
    query = (
        select(Policy.code, Policy.name, Policy.kind, Policy.status, PolicyGroup.code,
               Territory.level, Territory.code, Territory.name, PolicyFigure.overall,
               PolicyFigure.annual, PolicyFigure.previous_overall, PolicyFigure.trend,
               PolicyFigure.gap_to_median, PolicyFigure.reason, PolicyFigure.last_value_date,
               PolicyFigure.computed_at)
        .join(Policy, Policy.id == PolicyFigure.policy_id)
        .outerjoin(PolicyGroup, PolicyGroup.id == Policy.group_id)
        .join(Territory, Territory.id == PolicyFigure.territory_id)
        .where(*_policy_criteria(filters, user),
               *_territory_criteria(PolicyFigure.territory_id, filters),
               *_date_criteria(PolicyFigure.last_value_date, filters))
        .order_by(Policy.code, _level_order(), Territory.code)
    )

    def convert(row):
        row = list(row)
        row[3] = row[3].value
        return row

    return Table("policy_figures", "Taux d'avancement des politiques", columns,
                 _stream(session, query, convert), ("policy_code", "territory_level", "territory_code"))


def indicator_figures_table(session: Session, filters: ExportFilters = ExportFilters(), *,
                            user: Any, today: dt.date | None = None) -> Table:
    """Stored indicator figures (VI, VA, VC, progress) per territory, with freshness."""
    today = reference_date(today)
    columns = [
        Column("policy_code", "Code de la politique"),
        Column("indicator_code", "Code de l'indicateur"),
        Column("indicator_name", "Indicateur"),
        Column("unit", "Unité"),
        *TERRITORY_COLUMNS,
        Column("baseline", "Valeur initiale", "number"),
        Column("baseline_date", "Date de la valeur initiale", "date"),
        Column("actual", "Valeur actuelle", "number"),
        Column("actual_date", "Date de la valeur actuelle", "date"),
        Column("annual_target", "Cible annuelle", "number"),
        Column("annual_target_date", "Date de la cible annuelle", "date"),
        Column("final_target", "Cible finale", "number"),
        Column("final_target_date", "Date de la cible finale", "date"),
        Column("annual", "Taux d'avancement annuel (%)", "number"),
        Column("overall", "Taux d'avancement global (%)", "number"),
        Column("previous_overall", "Taux d'avancement précédent (%)", "number"),
        Column("origin", "Origine de la valeur actuelle", description="entered or aggregated"),
        Column("next_update_due", "Prochaine mise à jour attendue", "date"),
        Column("up_to_date", "À jour", "boolean"),
        Column("computed_at", "Calculé le (UTC)", "datetime"),
    ]
    query = (
        select(Policy.code, Indicator.code, Indicator.name, Indicator.unit, Territory.level,
               Territory.code, Territory.name, IndicatorFigure.baseline,
               IndicatorFigure.baseline_date, IndicatorFigure.actual, IndicatorFigure.actual_date,
               IndicatorFigure.annual_target, IndicatorFigure.annual_target_date,
               IndicatorFigure.final_target, IndicatorFigure.final_target_date,
               IndicatorFigure.annual, IndicatorFigure.overall, IndicatorFigure.previous_overall,
               IndicatorFigure.origin, Indicator.periodicity, Indicator.availability_delay_months,
               IndicatorFigure.computed_at)
        .join(Indicator, Indicator.id == IndicatorFigure.indicator_id)
        .join(Policy, Policy.id == Indicator.policy_id)
        .join(Territory, Territory.id == IndicatorFigure.territory_id)
        .where(*_policy_criteria(filters, user),
               *_territory_criteria(IndicatorFigure.territory_id, filters),
               *_date_criteria(IndicatorFigure.actual_date, filters))
        .order_by(Policy.code, Indicator.position, Indicator.code, _level_order(), Territory.code)
    )

    class _Ind:  # what next_update_due reads
        __slots__ = ("periodicity", "availability_delay_months")

    def convert(row):
        row = list(row)
        ind = _Ind()
        ind.periodicity, ind.availability_delay_months = row[19], row[20]
        due = next_update_due(ind, row[10])
        return [*row[:19], due, None if due is None else due > today, row[21]]

    return Table("indicator_figures", "Taux d'avancement des indicateurs", columns,
                 _stream(session, query, convert),
                 ("indicator_code", "territory_level", "territory_code"))


TABLES = {
    "values": values_table,
    "policies": policy_figures_table,
    "indicators": indicator_figures_table,
}


# --------------------------------------------------------------------------- formats
def csv_cell(value: Any) -> str:
    """The CSV text of a value (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value else "0"
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(getattr(value, "value", value))


def write_csv(table: Table, target: str | os.PathLike | IO[str]) -> int:
    """Write ``table`` as CSV to a path or a text stream; returns the number of data rows.

    A path is opened with the BOM encoding; a stream gets the BOM written as ``\\ufeff``.
    """
    if isinstance(target, (str, os.PathLike)):
        with open(target, "w", encoding=CSV_ENCODING, newline="") as fh:
            return _write_csv(table, fh)
    target.write("\ufeff")
    return _write_csv(table, target)


def _write_csv(table: Table, fh: IO[str]) -> int:
    writer = csv.writer(fh, delimiter=CSV_DELIMITER, lineterminator="\r\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow([c.name for c in table.columns])
    count = 0
    for row in table.rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
    return count


def table_schema(table: Table) -> dict[str, Any]:
    """A Table Schema (https://specs.frictionlessdata.io/table-schema/) of ``table``'s CSV."""
    fields = []
    for column in table.columns:
        spec: dict[str, Any] = {"name": column.name, "title": column.title, "type": column.type}
        if column.description:
            spec["description"] = column.description
        if column.type == "datetime":
            spec["format"] = "%Y-%m-%dT%H:%M:%SZ"
        if column.type == "boolean":
            spec["trueValues"], spec["falseValues"] = ["true"], ["false"]
        fields.append(spec)
    schema: dict[str, Any] = {
        "name": table.name,
        "title": table.title,
        "description": ("CSV: ';'-separated, UTF-8 with a BOM, decimal point '.', dates "
                        "YYYY-MM-DD, timestamps in UTC."),
        "fields": fields,
        "missingValues": [""],
    }
    if table.primary_key:
        schema["primaryKey"] = list(table.primary_key)
    return schema


def schema_path(csv_path: str | os.PathLike) -> Path:
    """``values.csv`` → ``values.schema.json``."""
    path = Path(csv_path)
    return path.with_name(path.name.removesuffix(".csv") + ".schema.json")


def write_schema(schema: dict[str, Any], path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_csv_with_schema(table: Table, path: str | os.PathLike) -> int:
    """Write the CSV and its Table Schema next to it; returns the number of data rows."""
    count = write_csv(table, path)
    write_schema(table_schema(table), schema_path(path))
    return count


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return value.normalize() if value else Decimal(0)
    if value is not None and not isinstance(value, (str, int, float, bool, dt.date)):
        return str(getattr(value, "value", value))
    return value


def write_xlsx(tables: Sequence[Table], target: str | os.PathLike | IO[bytes]) -> dict[str, int]:
    """Write one sheet per table (streamed); returns the row count of each sheet."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    counts = {}
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(table.name[:31])
        sheet.freeze_panes = "A2"
        header = []
        for column in table.columns:
            cell = WriteOnlyCell(sheet, value=column.name)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        count = 0
        # openpyxl gives dates "yyyy-mm-dd" and date-times "yyyy-mm-dd h:mm:ss" by itself
        for row in table.rows:
            sheet.append([_xlsx_value(value) for value in row])
            count += 1
        counts[table.name] = count
    workbook.save(target)
    return counts


def csv_bytes(table: Table) -> bytes:
    """The CSV as bytes (BOM included), for an HTTP response."""
    buffer = io.StringIO()
    write_csv(table, buffer)
    return buffer.getvalue().encode("utf-8")


def xlsx_bytes(tables: Sequence[Table]) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(tables, buffer)
    return buffer.getvalue()


__all__ = [
    "Column", "ExportFilters", "TABLES", "Table", "UNRESTRICTED", "csv_bytes", "csv_cell",
    "indicator_figures_table", "policy_figures_table", "schema_path", "table_schema",
    "values_table", "write_csv", "write_csv_with_schema", "write_schema", "write_xlsx",
    "xlsx_bytes",
]
