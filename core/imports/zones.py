"""Zone identifiers, in every form the sources use, resolved to territories.

Forms accepted (case and surrounding spaces do not matter):

=================================  ==========================================================
``FRANCE``, ``France``, ``NAT-FR``  the nation (Pilote's nation code is ``FR``)
``D75``, ``D2A``, ``D2B``, ``D971``  a department (PILOTE 2 ``zone_id``, baromètre)
``R84``, ``R11``, ``R01``           a region (PILOTE 2 ``zone_id``, baromètre)
``DEPT-75``, ``REG-11``, ``NAT-FR``  PILOTE 2 ``territoire.code`` (also ``DEP-75``, ``COM-…``)
``department-2A``, ``region-84``    Pilote's own territory key (``<level>-<code>``)
``75``, ``2A``, ``971``, ``84``     a plain INSEE code, with a level hint (``DEPT``/``REG``/
                                   ``NAT``/``COM`` or Pilote's level keys); without a hint it is
                                   accepted only when exactly one level has that code
=================================  ==========================================================

A one-digit numeric code is zero-padded (``D1`` → ``01``: spreadsheets drop leading zeros).
Corsica is ``2A``/``2B`` (the pre-1976 ``20`` is not a current department), overseas
departments are ``971``–``976`` and their regions ``01``–``06``. Only currently valid
territories (``valid_to`` unset) of the grid are candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Territory

NATION_CODE = "FR"

#: Level hints as written in the sources → Pilote level keys.
LEVEL_ALIASES = {
    "NAT": "nation", "NATION": "nation", "NATIONAL": "nation", "FRANCE": "nation",
    "REG": "region", "REGION": "region", "RÉGION": "region",
    "DEPT": "department", "DEP": "department", "DEPARTMENT": "department",
    "DEPARTEMENT": "department", "DÉPARTEMENT": "department",
    "COM": "commune", "COMMUNE": "commune",
}
#: Prefixed forms (``DEPT-75``, ``department-2A``…) → level.
_PREFIXES = {
    "NAT": "nation", "NATION": "nation",
    "REG": "region", "REGION": "region",
    "DEPT": "department", "DEP": "department", "DEPARTMENT": "department",
    "COM": "commune", "COMMUNE": "commune",
}
_PREFIXED = re.compile(r"^([A-Z_]+)-([0-9A-Z]+)$")
_ZONE_ID = re.compile(r"^([DR])(\d{1,3}|2[AB])$")
_PLAIN = re.compile(r"^(\d{1,5}|2[AB]\d{0,3})$")
FORMS_HINT = ("expected FRANCE, D75, D2A, R84, DEPT-75, REG-84, NAT-FR, department-75 "
              "or an INSEE code with its level")


class ZoneError(ValueError):
    """The identifier cannot be mapped to one territory; the message says why."""


@dataclass(frozen=True)
class ZoneRef:
    """A parsed identifier: ``level`` is None for a plain code without a level hint."""

    level: str | None
    code: str


def normalise_level(hint: str | None) -> str | None:
    """``DEPT`` → ``department``…; Pilote's own level keys pass through; ``None``/'' → None."""
    if hint is None or not str(hint).strip():
        return None
    key = str(hint).strip()
    return LEVEL_ALIASES.get(key.upper(), key.lower())


def _pad(code: str) -> str:
    return code.zfill(2) if code.isdigit() and len(code) == 1 else code


def parse_zone(zone: str, level: str | None = None) -> ZoneRef:
    """Parse ``zone`` (with an optional level hint) without looking at the database.

    Raises :class:`ZoneError` for an unrecognised form or a hint that contradicts the form
    (``D75`` given as a region).
    """
    text = str(zone or "").strip()
    hint = normalise_level(level)
    if not text:
        raise ZoneError("empty zone")
    upper = text.upper()
    if upper == "FRANCE":
        ref = ZoneRef("nation", NATION_CODE)
    elif match := _ZONE_ID.match(upper):
        ref = ZoneRef("department" if match.group(1) == "D" else "region", _pad(match.group(2)))
    elif (match := _PREFIXED.match(upper)) and match.group(1) in _PREFIXES:
        ref = ZoneRef(_PREFIXES[match.group(1)], _pad(match.group(2)))
    elif (match := _PREFIXED.match(upper)) and hint and match.group(1) == hint.upper():
        ref = ZoneRef(hint, match.group(2))  # another grid's level key: <level>-<code>
    elif _PLAIN.match(upper):
        return ZoneRef(hint, _pad(upper))
    elif upper == NATION_CODE and hint == "nation":
        return ZoneRef("nation", NATION_CODE)
    else:
        raise ZoneError(f"unrecognised zone identifier ({FORMS_HINT})")
    if hint and hint != ref.level:
        raise ZoneError(f"zone {text} is a {ref.level}, but the level given is {hint}")
    return ref


class ZoneResolver:
    """Maps zone identifiers to territory ids, from the current territories of one grid."""

    def __init__(self, session: Session, grid: str = "admin"):
        rows = session.execute(
            select(Territory.id, Territory.level, Territory.code)
            .where(Territory.grid == grid, Territory.valid_to.is_(None))
        )
        self.ids: dict[tuple[str, str], int] = {}
        self.by_code: dict[str, list[tuple[str, int]]] = {}
        self.levels: set[str] = set()
        for tid, lvl, code in rows:
            self.ids[(lvl, code.upper())] = tid
            self.by_code.setdefault(code.upper(), []).append((lvl, tid))
            self.levels.add(lvl)
        self._cache: dict[tuple[str, str | None], int | ZoneError] = {}

    def resolve(self, zone: str, level: str | None = None) -> int:
        """The territory id of ``zone``; raises :class:`ZoneError` with the reason."""
        key = (zone, level)
        found = self._cache.get(key)
        if found is None:
            try:
                found = self._resolve(zone, level)
            except ZoneError as exc:
                found = exc
            self._cache[key] = found
        if isinstance(found, ZoneError):
            raise found
        return found

    def try_resolve(self, zone: str, level: str | None = None) -> tuple[int | None, str | None]:
        """``(territory id, None)`` or ``(None, reason)``."""
        try:
            return self.resolve(zone, level), None
        except ZoneError as exc:
            return None, str(exc)

    def _resolve(self, zone: str, level: str | None) -> int:
        ref = parse_zone(zone, level)
        if ref.level is None:
            candidates = self.by_code.get(ref.code, [])
            if len(candidates) == 1:
                return candidates[0][1]
            if not candidates:
                raise ZoneError(f"unknown zone: no territory has the code {ref.code}")
            names = " or ".join(sorted(f"{lvl} {ref.code}" for lvl, _ in candidates))
            raise ZoneError(f"ambiguous zone: {names}; give the level (e.g. D{ref.code} or R{ref.code})")
        if ref.level not in self.levels:
            raise ZoneError(f"unknown zone: the level {ref.level} is not loaded in this instance")
        tid = self.ids.get((ref.level, ref.code))
        if tid is None:
            raise ZoneError(f"unknown zone: no current {ref.level} with the code {ref.code}")
        return tid
