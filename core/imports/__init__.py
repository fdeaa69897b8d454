"""Imports of indicator values: all or nothing, with a dry-run preview, recorded and revertable.

Formats: PILOTE 2's import file (:mod:`core.imports.pilote_format`), the baromètre open-data
folder (:mod:`core.imports.barometre`) and Pilote's native format described by a Table Schema
(:mod:`core.imports.native`). The runner is :mod:`core.imports.service`; the command line is
``pilote import …`` (:mod:`core.imports.cli`).
"""

from core.imports.report import ImportReport, Problem
from core.imports.service import (
    FORMATS,
    ParsedImport,
    ValueRow,
    import_file,
    list_imports,
    parse_file,
    revert_import,
    run_import,
)
from core.imports.zones import ZoneError, ZoneResolver, parse_zone

__all__ = [
    "FORMATS", "ImportReport", "ParsedImport", "Problem", "ValueRow", "ZoneError", "ZoneResolver",
    "import_file", "list_imports", "parse_file", "parse_zone", "revert_import", "run_import",
]
