"""Pilote core: the standard schema, the hook specifications and the public API.

The core never imports a plugin; plugins import :mod:`core.api` only.
"""

import os

# SQLAlchemy's compiled (Cython) extensions corrupt the heap in this application: a segfault
# inside the ORM (identity map, new instances) was reproduced every time with
# `pytest tests/test_pages.py tests/test_white_label.py` on SQLAlchemy 2.0.x and 2.1.x, and never
# with the pure-Python implementation; psycopg's compiled implementation crashed the same way on
# PostgreSQL, so its pure-Python one (over the system's libpq) is used. Both must be chosen before
# the libraries are first imported.
os.environ.setdefault("DISABLE_SQLALCHEMY_CEXT_RUNTIME", "1")
if "PSYCOPG_IMPL" not in os.environ:
    from ctypes.util import find_library

    if find_library("pq"):  # the pure-Python implementation needs the system's libpq
        os.environ["PSYCOPG_IMPL"] = "python"

__version__ = "0.1.0"
