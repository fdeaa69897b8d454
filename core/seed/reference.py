"""Reference territories of the administrative grid, from the official French code lists.

The lists come from the npm package ``@etalab/decoupage-administratif`` (INSEE COG), installed
at the repository root by ``npm ci``. Only metropolitan France and the five DROM are loaded
(zones ``metro`` and ``drom``): 1 nation, 18 regions, 101 departments, ~34,900 communes.

Populations: communes carry their own (when the file has one); a department's population is
the sum of its current communes, a region's the sum of its departments, the nation's the sum
of its regions. They are filled at every level, even when communes are not loaded.
"""

from __future__ import annotations

import functools
import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from core.models import Territory

COG_PACKAGE = "@etalab/decoupage-administratif"
COG_VERSION = "6.0.0"
COG_VINTAGE = "COG 2026"

LEVELS = ("nation", "region", "department", "commune")
PARENT_LEVEL = {"region": "nation", "department": "region", "commune": "department"}
NATION_CODE = "FR"
NATION_NAME = "France"
ZONES = frozenset({"metro", "drom"})
FILES = ("regions.json", "departements.json", "communes.json")
BATCH = 5000


class ReferenceDataMissing(Exception):
    """The code lists are not installed where Pilote looks for them."""


@dataclass(frozen=True, slots=True)
class RefTerritory:
    code: str
    name: str
    parent_code: str | None
    population: int | None


def default_repo_root() -> Path:
    """The repository root: the parent of the ``core`` package directory."""
    return Path(__file__).resolve().parents[2]


def cog_data_dir(repo_root: Path | None = None) -> Path:
    """The ``data`` folder of the code-list package.

    An explicit ``repo_root`` wins; otherwise ``PILOTE_COG_DIR`` overrides the default
    ``<repo root>/node_modules/@etalab/decoupage-administratif/data``.
    """
    if repo_root is None and os.environ.get("PILOTE_COG_DIR"):
        path = Path(os.environ["PILOTE_COG_DIR"])
        hint = ("point PILOTE_COG_DIR to the package's data folder, or unset it and run `npm ci` "
                "at the repository root")
    else:
        root = repo_root or default_repo_root()
        path = root / "node_modules" / COG_PACKAGE / "data"
        hint = f"run `npm ci` at the repository root ({root})"
    missing = [n for n in FILES if not (path / n).is_file()]
    if missing:
        raise ReferenceDataMissing(
            f"Official code lists ({COG_PACKAGE}@{COG_VERSION}, {COG_VINTAGE}) not found in {path} "
            f"(missing {', '.join(missing)}). To install them, {hint}."
        )
    return path


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


@functools.lru_cache(maxsize=4)
def read_reference(data_dir: Path) -> dict[str, tuple[RefTerritory, ...]]:
    """Every reference territory per level, read from the JSON files, in file order (cached:
    the files are parsed once per process)."""
    communes = [
        c for c in _read(data_dir / "communes.json")
        if c.get("type") == "commune-actuelle" and c.get("zone") in ZONES
    ]
    dep_pop: dict[str, int] = defaultdict(int)
    for c in communes:
        dep_pop[c["departement"]] += c.get("population") or 0
    departments = [
        RefTerritory(d["code"], d["nom"], d["region"], dep_pop.get(d["code"]) or None)
        for d in _read(data_dir / "departements.json") if d.get("zone") in ZONES
    ]
    reg_pop: dict[str, int] = defaultdict(int)
    for d in departments:
        reg_pop[d.parent_code] += d.population or 0
    regions = [
        RefTerritory(r["code"], r["nom"], NATION_CODE, reg_pop.get(r["code"]) or None)
        for r in _read(data_dir / "regions.json") if r.get("zone") in ZONES
    ]
    nation = [RefTerritory(NATION_CODE, NATION_NAME, None, sum(reg_pop.values()) or None)]
    return {
        "nation": tuple(nation),
        "region": tuple(regions),
        "department": tuple(departments),
        "commune": tuple(
            RefTerritory(c["code"], c["nom"], c["departement"], c.get("population"))
            for c in communes
        ),
    }


def _current_ids(session: Session, grid: str, level: str) -> dict[str, int]:
    rows = session.execute(
        select(Territory.code, Territory.id).where(
            Territory.grid == grid, Territory.level == level, Territory.valid_to.is_(None)
        )
    )
    return dict(rows.all())


def _upsert_level(session: Session, grid: str, level: str, refs: Iterable[RefTerritory],
                  parent_level: str | None = None) -> int:
    parent_level = parent_level or PARENT_LEVEL.get(level)
    parent_ids = _current_ids(session, grid, parent_level) if parent_level else {}
    existing = {
        row.code: row
        for row in session.execute(
            select(Territory.id, Territory.code, Territory.name, Territory.parent_id, Territory.population)
            .where(Territory.grid == grid, Territory.level == level, Territory.valid_to.is_(None))
        )
    }
    new, changed, count = [], [], 0
    for ref in refs:
        count += 1
        wanted = {
            "name": ref.name,
            "parent_id": parent_ids.get(ref.parent_code) if ref.parent_code else None,
            "population": ref.population,
        }
        row = existing.get(ref.code)
        if row is None:
            new.append({"grid": grid, "level": level, "code": ref.code, **wanted})
        elif (row.name, row.parent_id, row.population) != tuple(wanted.values()):
            changed.append({"id": row.id, **wanted})
    for start in range(0, len(new), BATCH):
        session.execute(insert(Territory), new[start:start + BATCH])
    for start in range(0, len(changed), BATCH):
        session.execute(update(Territory), changed[start:start + BATCH])
    return count


def load_reference_territories(
    session: Session, levels: list[str], *, grid: str = "admin", data_dir: Path | None = None
) -> dict[str, int]:
    """Create or refresh the requested levels of the reference grid; idempotent.

    Matches existing rows on (grid, level, code) among currently valid territories: missing
    ones are inserted, changed names, parents or populations are updated. Returns the number
    of reference territories per requested level. Does not commit.

    Besides the administrative levels, the code lists give derived grids (:mod:`core.seed.grids`):
    ``crte`` and ``epci`` (with ``commune`` then attached to its EPCI), or
    ``gendarmerie_region``, ``departmental_group`` and ``company``; ``levels`` picks one family.
    """
    if not set(levels) <= set(LEVELS):
        # levels derived from the code lists (crte/epci, gendarmerie): see core.seed.grids
        from core.seed.grids import load_derived_levels

        return load_derived_levels(session, levels, grid=grid, data_dir=data_dir)
    refs = read_reference(Path(data_dir or cog_data_dir()).resolve())
    counts = {}
    for level in LEVELS:  # parents first
        if level in levels:
            counts[level] = _upsert_level(session, grid, level, refs[level])
    session.flush()
    return counts
