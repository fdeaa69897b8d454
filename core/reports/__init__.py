"""Reports on demand: a selection (policies × territories, period) becomes a PDF.

``model`` resolves the selection for one user (permission-filtered), the ``report_sections``
hook gives the sections (the core's come from ``sections``), ``render`` lays them out with
WeasyPrint, ``service`` runs stored requests inline or as queued jobs. See docs/reports.md.
"""

from core.reports.model import Chapter, Report, Selection, SelectionError, build_report

__all__ = ["Chapter", "Report", "Selection", "SelectionError", "build_report"]
