"""Territory shapes: the built files (regions, departments, communes) and instance grids made
by union of member communes (EPCI, CRTE contract perimeters, gendarmerie companies).

Every answer is a GeoJSON FeatureCollection whose features carry ``code`` and ``name``;
``"geometry": null`` marks a territory known to the source without a shape.
"""

from __future__ import annotations

import functools
import json
import os
import zlib
from collections import defaultdict
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import select

from core.api import Territory, cog_data_dir, db_session
from plugins.cartographie.build import COMMUNES_DIR, DATA_DIR, SOURCE

DROM_DEPARTMENTS = {"971": "Guadeloupe", "972": "Martinique", "973": "Guyane",
                    "974": "La Réunion", "976": "Mayotte"}
DROM_REGIONS = {"01": "971", "02": "972", "03": "973", "04": "974", "06": "976"}
# instance levels whose codes are those of an administrative level: same shapes, own names
ALIASES = {"gendarmerie_region": "region", "departmental_group": "department"}
UNION_TOLERANCE = 0.002  # degrees: simplification of shapes built by union of communes


def collection(features: list[dict], **meta) -> dict:
    return {"type": "FeatureCollection", "metadata": {**SOURCE, **meta}, "features": features}


@functools.lru_cache(maxsize=256)
def _read(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def communes_dir() -> Path:
    """Where ``pilote cartographie build`` wrote the commune files: ``PILOTE_CARTOGRAPHIE_COMMUNES``
    or the plugin's ``data/communes``."""
    configured = os.environ.get("PILOTE_CARTOGRAPHIE_COMMUNES", "")
    return Path(configured) if configured else COMMUNES_DIR


def departments() -> dict:
    return _read(DATA_DIR / "departments.geojson")


def regions() -> dict:
    return _read(DATA_DIR / "regions.geojson")


def department_codes(region: str | None = None) -> list[str]:
    return [f["properties"]["code"] for f in departments()["features"]
            if region is None or f["properties"]["region"] == region]


def communes_of(department: str) -> dict | None:
    """The commune collection of one department, None when the commune files are not built."""
    return _read(communes_dir() / f"{department}.geojson")


def communes_available() -> bool:
    return communes_of("01") is not None


def parse_within(within: str | None) -> tuple[str | None, str | None]:
    """``within`` is a territory key (``region-84``, ``department-2A``, ``crte-01-1``) or a bare
    code, read as a department code (every region code is also a department code)."""
    if not within or within in ("FR", "nation-FR"):
        return None, None
    level, sep, code = within.partition("-")
    if sep and level.replace("_", "").isalpha():
        return level, code
    return "department", within


def admin_layer(level: str, within: str | None) -> dict | None:
    """Regions, departments or communes of the administrative grid (inside ``within``)."""
    parent_level, parent = parse_within(within)
    if parent_level not in (None, "region", "department"):
        return None
    if level == "region":
        features = regions()["features"]
        if parent_level == "region":
            features = [f for f in features if f["properties"]["code"] == parent]
        return collection(features, level="region")
    if level == "department":
        features = departments()["features"]
        if parent_level == "region":
            features = [f for f in features if f["properties"]["region"] == parent]
        elif parent_level == "department":
            features = [f for f in features if f["properties"]["code"] == parent]
        return collection(features, level="department")
    if level == "commune":
        if parent_level == "department":
            codes = [parent] if parent in department_codes() else []
        else:
            codes = department_codes(parent if parent_level == "region" else None)
        parts = [communes_of(code) for code in codes]
        if not codes or any(part is None for part in parts):
            return None
        return collection([f for part in parts for f in part["features"]], level="commune",
                          without_geometry=[c for part in parts
                                            for c in part["metadata"]["without_geometry"]])
    return None


# ----------------------------------------------------------------------------- instance grids
def commune_shapes(codes) -> dict[str, object]:
    """Shapely shapes of the given commune codes (those that have one)."""
    by_department: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        by_department[code[:3] if code.startswith("97") else code[:2]].append(code)
    out = {}
    for department, wanted in by_department.items():
        part = communes_of(department)
        if part is None:
            continue
        index = {f["properties"]["code"]: f for f in part["features"]}
        for code in wanted:
            feature = index.get(code)
            if feature and feature["geometry"]:
                out[code] = shape(feature["geometry"])
    return out


def union_layer(level: str, members: dict[str, list[str]], names: dict[str, str]) -> dict:
    """Shapes of ``level`` built by union of member communes: ``members`` maps a territory
    code to its commune codes. Territories none of whose communes has a shape get ``null``."""
    shapes = commune_shapes({c for codes in members.values() for c in codes})
    features = []
    for code, communes in members.items():
        parts = [shapes[c] for c in communes if c in shapes]
        geometry = None
        if parts:
            geometry = shapely.simplify(shapely.union_all(parts), UNION_TOLERANCE)
            geometry = shapely.set_precision(geometry, 1e-4)
        features.append({"type": "Feature", "properties": {"code": code, "name": names.get(code, code)},
                         "geometry": mapping(geometry) if geometry is not None and not geometry.is_empty else None})
    return collection(features, level=level, built_by="union of communes")


@functools.lru_cache(maxsize=1)
def epci_members() -> dict[str, list[str]]:
    """EPCI code -> member commune codes, from ``epci.json`` of @etalab/decoupage-administratif."""
    with (cog_data_dir() / "epci.json").open(encoding="utf-8") as fh:
        return {e["code"]: [m["code"] for m in e.get("membres", [])] for e in json.load(fh)}


@functools.lru_cache(maxsize=1)
def commune_population() -> dict[str, tuple[str, int]]:
    """Current commune code -> (department, population), metropolitan France and DROM."""
    with (cog_data_dir() / "communes.json").open(encoding="utf-8") as fh:
        return {c["code"]: (c["departement"], c.get("population") or 0) for c in json.load(fh)
                if c.get("type") == "commune-actuelle" and c.get("zone") in ("metro", "drom")}


def company_members(department: str, company_codes: list[str]) -> dict[str, list[str]]:
    """Communes of the gendarmerie companies of a department, with the rule of the instance's
    seed (``core/seed/grids.py``): commune -> company ``crc32(code) % n``, n companies."""
    n = len(company_codes)
    members: dict[str, list[str]] = {f"{department}-C{i + 1}": [] for i in range(n)}
    for code, (dep, _pop) in commune_population().items():
        if dep == department:
            members[f"{department}-C{zlib.crc32(code.encode()) % n + 1}"].append(code)
    return members


def territories_of(level: str, within: str | None = None) -> list[Territory]:
    """Current territories of ``level`` in the database, inside ``within`` when given."""
    return _territories(level, *parse_within(within))


def _territories(level: str, parent_level: str | None, parent: str | None) -> list[Territory]:
    query = select(Territory).where(Territory.level == level, Territory.valid_to.is_(None))
    rows = db_session().scalars(query.order_by(Territory.code)).all()
    if parent is None:
        return rows
    return [t for t in rows if _has_ancestor(t, parent_level, parent)]


def _has_ancestor(territory: Territory, level: str | None, code: str) -> bool:
    node = territory.parent
    while node is not None:
        if node.code == code and (level is None or node.level == level):
            return True
        node = node.parent
    return False


def grid_layer(level: str, within: str | None) -> dict | None:
    """Shapes of an instance grid's level: :data:`ALIASES` reuse admin shapes (same codes),
    ``epci``/``crte`` and ``company`` are unions of communes. None for other levels."""
    if level in ALIASES:
        layer = admin_layer(ALIASES[level], _alias_within(within, ALIASES))
        if layer is None:
            return None
        names = {t.code: t.name for t in _territories(level, None, None)}
        features = [{**f, "properties": {**f["properties"], "name": names.get(f["properties"]["code"],
                                                                              f["properties"]["name"])}}
                    for f in layer["features"]]
        return collection(features, level=level)
    if level not in ("epci", "crte", "company") or not communes_available():
        return None
    territories = territories_of(level, within)
    if not territories:
        return None
    names = {t.code: t.name for t in territories}
    if level == "epci":
        members = {t.code: epci_members().get(t.code, []) for t in territories}
    elif level == "crte":
        members = {t.code: [c for child in t.children if child.valid_to is None
                            for c in epci_members().get(child.code, [])] for t in territories}
    else:
        members = {}
        by_department: dict[str, list[str]] = defaultdict(list)
        for t in territories:
            by_department[t.code.rsplit("-C", 1)[0]].append(t.code)
        every_company = [t.code for t in _territories("company", None, None)]
        for department, codes in by_department.items():
            siblings = [code for code in every_company if code.rsplit("-C", 1)[0] == department]
            all_members = company_members(department, siblings)
            members.update({code: all_members.get(code, []) for code in codes})
    return union_layer(level, members, names)


def _alias_within(within: str | None, aliases: dict) -> str | None:
    if not within:
        return None
    level, sep, code = within.partition("-")
    if sep and level in aliases:
        return f"{aliases[level]}-{code}"
    return within
