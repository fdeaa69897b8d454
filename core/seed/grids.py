"""Grids derived from the official code lists, beside the administrative one.

With ``[[grids]] reference = "cog"``, the grid's level keys pick the family of levels
(:func:`core.seed.reference.load_reference_territories` dispatches here):

* nation, region, department, commune — the administrative grid (:mod:`core.seed.reference`);
* territorial contracts (CRTE): nation → region → department → ``crte`` → ``epci``
  (→ ``commune``). EPCI are the real ones of ``epci.json`` (DGCL) whose members lie in
  metropolitan France or the DROM, each attached to the department holding most of its
  population. Contract perimeters are generated: the EPCI of a department, sorted by code,
  are split into 1 to 4 contiguous groups (a CRC of the department code decides how many),
  each named after its most populated EPCI ("CRTE <EPCI name>"), coded ``<dept>-<n>``. Hauts-de-Seine,
  Seine-Saint-Denis and Val-de-Marne get none: their communes belong to the Métropole du Grand
  Paris, attached to Paris (most of its population);
* gendarmerie: nation → ``gendarmerie_region`` (one per region, same code) →
  ``departmental_group`` (one per department, same code) → ``company`` (2 to 6 per department,
  a CRC of the department code decides, coded ``<dept>-C<n>``, named after the department's
  most populated communes; every commune is attached to one company by a CRC of its code,
  which gives the companies' populations).

Everything is deterministic: the same code lists give the same territories. Idempotent.
"""

from __future__ import annotations

import functools
import zlib
from collections import defaultdict
from pathlib import Path

from sqlalchemy.orm import Session

from core.seed.reference import (
    NATION_CODE,
    ZONES,
    RefTerritory,
    _read,
    _upsert_level,
    cog_data_dir,
    load_reference_territories,
    read_reference,
)

EPCI_LEVELS = ("nation", "region", "department", "crte", "epci", "commune")
EPCI_PARENTS = {"region": "nation", "department": "region", "crte": "department", "epci": "crte",
                "commune": "epci"}
GENDARMERIE_LEVELS = ("nation", "gendarmerie_region", "departmental_group", "company")
GENDARMERIE_PARENTS = {"gendarmerie_region": "nation", "departmental_group": "gendarmerie_region",
                       "company": "departmental_group"}


def crc(text: str) -> int:
    return zlib.crc32(text.encode())


def contracts_per_department(code: str, epci_count: int) -> int:
    return max(1, min(epci_count, 1 + crc("crte:" + code) % 4))


def companies_per_department(code: str) -> int:
    return 2 + crc("company:" + code) % 5


@functools.lru_cache(maxsize=2)
def read_epci_grid(data_dir: Path) -> dict[str, tuple[RefTerritory, ...]]:
    ref = read_reference(data_dir)
    commune_dep = {c.code: c.parent_code for c in ref["commune"]}
    by_dep: dict[str, list[RefTerritory]] = defaultdict(list)
    commune_epci: dict[str, str] = {}
    for e in _read(data_dir / "epci.json"):
        members = [m for m in e.get("membres", []) if m["code"] in commune_dep]
        if not members:
            continue
        weight: dict[str, int] = defaultdict(int)
        for m in members:
            weight[commune_dep[m["code"]]] += m.get("populationMunicipale") or 0
            commune_epci.setdefault(m["code"], e["code"])
        dep = max(sorted(weight), key=lambda d: weight[d])
        by_dep[dep].append(RefTerritory(e["code"], e["nom"], dep, e.get("populationMunicipale")))
    crtes, epcis = [], []
    for dep in sorted(by_dep):
        members = sorted(by_dep[dep], key=lambda r: r.code)
        n = contracts_per_department(dep, len(members))
        size, extra = divmod(len(members), n)
        start = 0
        for i in range(n):
            chunk = members[start:start + size + (1 if i < extra else 0)]
            start += len(chunk)
            code = f"{dep}-{i + 1}"
            lead = max(chunk, key=lambda r: (r.population or 0, r.code))
            crtes.append(RefTerritory(code, f"CRTE {lead.name}", dep,
                                      sum(r.population or 0 for r in chunk) or None))
            epcis += [RefTerritory(r.code, r.name, code, r.population) for r in chunk]
    communes = tuple(RefTerritory(c.code, c.name, commune_epci[c.code], c.population)
                     for c in ref["commune"] if c.code in commune_epci)
    return {"nation": ref["nation"], "region": ref["region"], "department": ref["department"],
            "crte": tuple(crtes), "epci": tuple(epcis), "commune": communes}


@functools.lru_cache(maxsize=2)
def read_gendarmerie_grid(data_dir: Path) -> dict[str, tuple[RefTerritory, ...]]:
    ref = read_reference(data_dir)
    regions = tuple(RefTerritory(r.code, f"Région de gendarmerie {r.name}", NATION_CODE, r.population)
                    for r in ref["region"])
    groups = tuple(RefTerritory(d.code, f"Groupement de gendarmerie {d.name}", d.parent_code, d.population)
                   for d in ref["department"])
    communes: dict[str, list[RefTerritory]] = defaultdict(list)
    for c in ref["commune"]:
        communes[c.parent_code].append(c)
    companies = []
    for d in ref["department"]:
        n = companies_per_department(d.code)
        ranked = sorted(communes[d.code], key=lambda c: (-(c.population or 0), c.code))
        seats = [ranked[i % len(ranked)] for i in range(n)]  # Paris: one commune, several companies
        names = [f"Compagnie de {seat.name}" + (f" {i // len(ranked) + 1}" if len(ranked) < n else "")
                 for i, seat in enumerate(seats)]
        population = [0] * n
        for c in communes[d.code]:
            population[crc(c.code) % n] += c.population or 0
        if len(ranked) < n:  # split a lone commune's population evenly
            population = [sum(population) // n] * n
        companies += [RefTerritory(f"{d.code}-C{i + 1}", names[i], d.code, population[i] or None)
                      for i in range(n)]
    return {"nation": ref["nation"], "gendarmerie_region": regions, "departmental_group": groups,
            "company": tuple(companies)}


def _load(session: Session, grid: str, levels: list[str], refs, order, parents) -> dict[str, int]:
    unknown = set(levels) - set(order)
    if unknown:
        raise ValueError(f"unknown levels {sorted(unknown)}; expected a subset of {list(order)}")
    counts = {}
    for level in order:
        if level in levels:
            counts[level] = _upsert_level(session, grid, level, refs[level], parents.get(level))
    session.flush()
    return counts


def load_epci_grid(session: Session, levels: list[str], *, grid: str, data_dir: Path | None = None):
    refs = read_epci_grid(Path(data_dir or cog_data_dir()).resolve())
    return _load(session, grid, levels, refs, EPCI_LEVELS, EPCI_PARENTS)


def load_gendarmerie_grid(session: Session, levels: list[str], *, grid: str, data_dir: Path | None = None):
    refs = read_gendarmerie_grid(Path(data_dir or cog_data_dir()).resolve())
    return _load(session, grid, levels, refs, GENDARMERIE_LEVELS, GENDARMERIE_PARENTS)


FAMILIES = ((EPCI_LEVELS, load_epci_grid), (GENDARMERIE_LEVELS, load_gendarmerie_grid))
DERIVED_LEVELS = tuple(dict.fromkeys(level for levels, _ in FAMILIES for level in levels))
LOADERS = {"cog": load_reference_territories}


def load_derived_levels(session: Session, levels: list[str], *, grid: str,
                        data_dir: Path | None = None) -> dict[str, int]:
    """Load ``levels`` from the first family of derived levels holding them all."""
    for family, loader in FAMILIES:
        if set(levels) <= set(family):
            return loader(session, levels, grid=grid, data_dir=data_dir)
    raise ValueError(f"unknown levels {sorted(levels)}; expected a subset of one of "
                     + "; ".join(str(list(f)) for f, _ in FAMILIES)
                     + f" or of {['nation', 'region', 'department', 'commune']}")


def load_grid_references(session: Session, grids: list[dict]) -> dict[str, int]:
    """Load the reference territories of every grid of an instance (``config.grids``), with the
    loader its ``reference`` names; returns the count per level. Does not commit."""
    counts: dict[str, int] = {}
    for grid in grids:
        loader = LOADERS.get(grid.get("reference", "none"))
        if loader is None:
            continue
        levels = [level["key"] for level in grid["levels"]]
        for key, value in loader(session, levels, grid=grid["key"]).items():
            counts[key] = counts.get(key, 0) + value
    return counts
