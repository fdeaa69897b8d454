"""The indicator data engine: one write path for values, roll-ups, figures, alerts.

Public entry points (re-exported by :mod:`core.api`): :func:`save_values` writes values
(form, import, API) with their revisions and recomputes what depends on them;
:func:`recompute` rebuilds roll-ups and figures.
"""

from core.engine.values import ConflictError, SaveReport, ValueInput, save_values

__all__ = ["ConflictError", "SaveReport", "ValueInput", "save_values"]
