"""Exports: CSV and XLSX tables of values and figures (:mod:`core.exports.tabular`), and the
barometer open-data files (:mod:`core.exports.barometre`). The ``pilote export`` command
lives in :mod:`core.exports.cli` (``export_group``)."""

from core.exports.barometre import export_barometre
from core.exports.tabular import (
    UNRESTRICTED,
    ExportFilters,
    Table,
    indicator_figures_table,
    policy_figures_table,
    table_schema,
    values_table,
    write_csv,
    write_csv_with_schema,
    write_xlsx,
)

__all__ = [
    "ExportFilters", "Table", "UNRESTRICTED", "export_barometre", "indicator_figures_table",
    "policy_figures_table", "table_schema", "values_table", "write_csv", "write_csv_with_schema",
    "write_xlsx",
]
