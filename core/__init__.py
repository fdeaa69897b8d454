"""Pilote core: the standard schema, the hook specifications and the public API.

The core never imports a plugin; plugins import :mod:`core.api` only.
"""

__version__ = "0.1.0"
