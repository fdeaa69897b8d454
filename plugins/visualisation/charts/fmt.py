"""Numbers and dates for labels, summaries and tables, in the viewer's locale."""

from __future__ import annotations

import datetime as dt
from typing import Any

from functools import lru_cache

from babel import Locale
from babel.dates import format_date
from babel.numbers import parse_pattern


def locale_of(options: dict[str, Any]) -> str:
    """``options["locale"]``, else the request's locale, else French."""
    if options.get("locale"):
        return str(options["locale"])
    try:
        from flask import has_request_context
        from flask_babel import get_locale

        if has_request_context():
            return str(get_locale() or "fr")
    except RuntimeError:  # outside an application
        pass
    return "fr"


def as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def number(value: Any, decimals: int | None, locale: str, unit: str = "") -> str:
    """``1 234,5 %``; "–" for None."""
    if value is None:
        return "–"
    text = _number(round(float(value), max(int(decimals or 0), 0)), max(int(decimals or 0), 0), locale)
    return f"{text} {unit}".strip() if unit else text


@lru_cache(maxsize=8192)
def _number(value: float, places: int, locale: str) -> str:
    return _pattern(places).apply(value, _locale(locale))


@lru_cache(maxsize=16)
def _pattern(places: int):
    return parse_pattern("#,##0" + ("." + "0" * places if places else ""))


@lru_cache(maxsize=16)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def day(value: Any, locale: str) -> str:
    """``1 nov. 2026``."""
    return _day(as_date(value), locale)


@lru_cache(maxsize=4096)
def _day(date: dt.date, locale: str) -> str:
    return format_date(date, format="medium", locale=locale)


def month(value: Any, locale: str) -> str:
    """``nov. 2026`` (axis labels)."""
    return _month(as_date(value), locale)


@lru_cache(maxsize=1024)
def _month(date: dt.date, locale: str) -> str:
    return format_date(date, format="MMM y", locale=locale)
