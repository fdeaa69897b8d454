"""The plugin's CSS and JS, with a content hash in their URLs for cache busting."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import url_for

from core.api import Asset

STATIC = Path(__file__).parent / "static"
FILES = (("css", "visualisation/charts.css"), ("js", "visualisation/tooltips.js"))


@lru_cache(maxsize=None)
def _version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def assets() -> list[Asset]:
    return [Asset(kind, url_for("visualisation.static", filename=name, v=_version(name))) for kind, name in FILES]
