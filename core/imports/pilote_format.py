"""PILOTE 2's import format, so that administrations can bring their files from PILOTE.

One row per value, columns ``identifiant_indic;zone_id;zone_nom;date_valeur;type_valeur;valeur``
(``zone_nom`` optional and ignored), as CSV or XLSX:

* CSV: UTF-8 with or without BOM, ``;``-separated and ``"``-quoted (a ``,``-separated file is
  accepted too: the separator is read from the header line);
* XLSX: the first worksheet, header on row 1 (read with openpyxl, values not formulas).

Cells:

* ``identifiant_indic``: the Pilote indicator code (PILOTE's ``IND-123``);
* ``zone_id``: ``FRANCE``, ``D75``, ``R84``… (every form of :mod:`core.imports.zones`);
* ``date_valeur``: ``AAAA-MM-JJ``, ``JJ/MM/AAAA``, Excel's ``MM-DD-YY``, or a date cell.
  A date that is not in the calendar (``2023-06-31``) is **refused**, as PILOTE's import
  check refuses it (pilote2.md §4.2); PILOTE's dbt later patched the 495 historical
  ``2023-06-31`` rows to ``2023-06-30``, which Pilote does not do silently: the report names
  the row so that the file is fixed;
* ``type_valeur``: ``vi``, ``va``, ``vc`` (any case) → baseline, actual, target;
* ``valeur``: a number (``.`` or a single ``,`` as decimal mark; percentages as 0–100).
  An empty cell (or PILOTE's ``null``/``undefined``) is skipped — it erases the stored value
  only with ``erase_empty`` (``--erase-empty``).

Headers are matched after trimming spaces and lower-casing; a missing required column, a
duplicated column or an unknown column is a problem. Completely empty rows are skipped.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import re
from pathlib import Path
from typing import Any, Iterator

from core.imports.report import ImportReport
from core.imports.service import ParsedImport, ValueRow, file_sha256
from core.models import ValueKind

COLUMNS = ("identifiant_indic", "zone_id", "zone_nom", "date_valeur", "type_valeur", "valeur")
REQUIRED = ("identifiant_indic", "zone_id", "date_valeur", "type_valeur", "valeur")
ROLES = {"indicator": "identifiant_indic", "zone": "zone_id", "date": "date_valeur",
         "kind": "type_valeur", "value": "valeur"}
KINDS = {"vi": ValueKind.BASELINE, "va": ValueKind.ACTUAL, "vc": ValueKind.TARGET}
EMPTY = {"", "null", "undefined"}
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


# --------------------------------------------------------------------------- tables
class TableError(Exception):
    """The file cannot be read as a table at all."""


def read_table(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """``(header, rows)`` of a CSV or XLSX file; rows are ``(row number, cells)`` with the
    header as row 1. CSV cells are strings; XLSX cells keep their type (number, date…)."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if suffix in (".xls", ".ods"):
        raise TableError(f"{suffix} files are not supported: save the sheet as .xlsx or as CSV UTF-8")
    return _read_csv(path)


def _read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TableError(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}): "
                         "save the file as « CSV UTF-8 »") from None
    first = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first or "," not in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    try:
        header = next(reader)
    except StopIteration:
        raise TableError("the file is empty") from None

    def rows():
        for number, cells in enumerate(reader, start=2):
            yield number, cells

    return header, rows()


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableError(f"not a readable .xlsx file ({exc})") from None
    sheet = book.worksheets[0]
    sheet.reset_dimensions()  # some writers store wrong dimensions: read every row
    iterator = sheet.iter_rows(values_only=True)
    try:
        header = ["" if c is None else str(c) for c in next(iterator)]
    except StopIteration:
        book.close()
        raise TableError("the first worksheet is empty") from None

    def rows():
        try:
            for number, cells in enumerate(iterator, start=2):
                yield number, list(cells)
        finally:
            book.close()

    return header, rows()


def header_problems(report: ImportReport, file: str, header: list[str], allowed: tuple[str, ...],
                    required: tuple[str, ...]) -> dict[str, int] | None:
    """Column name → index, or None (problems reported) if the header is unusable."""
    names = [str(h or "").strip().lower() for h in header]
    index: dict[str, int] = {}
    ok = True
    for i, name in enumerate(names):
        if not name:
            if any(names[i:]):
                report.problem(file, 1, f"#{i + 1}", "", "empty column name")
                ok = False
            continue
        if name in index:
            report.problem(file, 1, name, header[i], "duplicate column")
            ok = False
        elif name not in allowed:
            report.problem(file, 1, name, header[i],
                           f"unknown column (expected {', '.join(allowed)})")
            ok = False
        index.setdefault(name, i)
    for name in required:
        if name not in index:
            report.problem(file, 1, name, None, "missing column")
            ok = False
    return index if ok else None


def cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, (dt.datetime, dt.date)):
        return cell.isoformat()[:10]
    return str(cell).strip()


def parse_number(cell: Any) -> decimal.Decimal | None:
    """A cell as an exact Decimal, ``None`` if empty; ``ValueError`` if not a finite number."""
    if isinstance(cell, bool):
        raise ValueError("not a number")
    if isinstance(cell, int):
        return decimal.Decimal(cell)
    if isinstance(cell, float):
        if cell != cell or cell in (float("inf"), float("-inf")):
            raise ValueError("not a number")
        return decimal.Decimal(format(cell, ".15g"))  # what Excel shows (15 significant digits)
    text = cell_text(cell).replace("\u00a0", "").replace("\u202f", "")
    if text.lower() in EMPTY:
        return None
    if not _NUMBER.match(text) or ("," in text and "." in text):
        raise ValueError("not a number")
    return decimal.Decimal(text.replace(",", "."))


_DATE_FORMATS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), ("y", "m", "d")),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), ("d", "m", "y")),
    (re.compile(r"^(\d{1,2})-(\d{1,2})-(\d{2})$"), ("m", "d", "yy")),
)


def parse_date(cell: Any, iso_only: bool = False) -> dt.date:
    """``AAAA-MM-JJ``, ``JJ/MM/AAAA``, ``MM-DD-YY`` (Excel) or a date cell; ``ValueError``
    with the reason otherwise (including dates that are not in the calendar)."""
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    text = cell_text(cell)
    if not text:
        raise ValueError("missing date")
    if "T" in text and re.match(r"^\d{4}-\d{2}-\d{2}T00:00(:00)?$", text):
        text = text[:10]
    for pattern, parts in _DATE_FORMATS[:1] if iso_only else _DATE_FORMATS:
        match = pattern.match(text)
        if match:
            values = dict(zip(parts, map(int, match.groups())))
            year = values.get("y") or 2000 + values["yy"]
            try:
                return dt.date(year, values["m"], values["d"])
            except ValueError:
                raise ValueError(_calendar_reason(year, values["m"], values["d"])) from None
    expected = "YYYY-MM-DD" if iso_only else "AAAA-MM-JJ, JJ/MM/AAAA or MM-DD-YY"
    raise ValueError(f"not a date (expected {expected})")


def _calendar_reason(year: int, month: int, day: int) -> str:
    if not 1 <= month <= 12:
        return f"not a real date: there is no month {month}"
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return f"not a real date: {year}-{month:02d} has {last} days"


def data_rows(report: ImportReport, name: str, path: Path, allowed: tuple[str, ...],
              required: tuple[str, ...]) -> Iterator[tuple[int, list[Any], dict[str, int]]]:
    """The non-empty rows of a CSV/XLSX table as ``(row number, cells, column index)``.

    Unreadable files, header problems and cells beyond the header go to ``report``; the
    counts of rows read and empty rows skipped are recorded there at the end.
    """
    try:
        header, rows = read_table(path)
    except TableError as exc:
        report.problem(name, None, None, None, str(exc))
        return
    index = header_problems(report, name, header, allowed, required)
    if index is None:
        return
    read = empty_rows = 0
    for number, cells in rows:
        if not any(cell_text(c) for c in cells):
            empty_rows += 1
            continue
        read += 1
        extra = [c for c in cells[len(header):] if cell_text(c)]
        if extra:
            report.problem(name, number, None, cell_text(extra[0]),
                           f"{len(extra)} cell(s) beyond the last column of the header")
        yield number, cells, index
    report.counts["rows"] = read
    if empty_rows:
        report.counts["empty_rows_skipped"] = empty_rows


# --------------------------------------------------------------------------- PILOTE
def parse_pilote(path: Path, display_name: str | None = None) -> ParsedImport:
    """Read a PILOTE import file (CSV or XLSX); problems go to the report, nothing is checked
    against the database yet (that is :func:`core.imports.service.run_import`'s job)."""
    name = display_name or path.name
    report = ImportReport(format="pilote", filename=name, file_hash=file_sha256(path))
    parsed = ParsedImport(report)
    for number, cells, index in data_rows(report, name, path, COLUMNS, REQUIRED):

        def cell(column: str) -> Any:
            i = index.get(column)
            return cells[i] if i is not None and i < len(cells) else None

        valid = True
        kind_text = cell_text(cell("type_valeur")).lower()
        kind = KINDS.get(kind_text)
        if kind is None:
            valid = False
            report.problem(name, number, "type_valeur", cell_text(cell("type_valeur")),
                           "missing type" if not kind_text else "unknown type (expected vi, va or vc)")
        try:
            date = parse_date(cell("date_valeur"))
        except ValueError as exc:
            valid, date = False, None
            report.problem(name, number, "date_valeur", cell_text(cell("date_valeur")), str(exc))
        try:
            value = parse_number(cell("valeur"))
        except ValueError as exc:
            valid, value = False, None
            report.problem(name, number, "valeur", cell_text(cell("valeur")), str(exc))
        parsed.rows.append(ValueRow(
            file=name, row=number, indicator=cell_text(cell("identifiant_indic")),
            zone=cell_text(cell("zone_id")), level=None, kind=kind, date=date, value=value,
            columns=ROLES, valid=valid,
        ))
    return parsed
