"""A chart as a file: its SVG, a PNG rasterised from that SVG, or its data as CSV."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from typing import Any

PNG_SCALE = 2  # PNG pixels per SVG unit, for sharp images in documents


def csv_table(kind: str, data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Machine-readable rows of a chart's data: ISO dates, dot decimals, stable column names."""
    if kind == "trajectory":
        rows = [[s.get("label", ""), s.get("key", ""), d, v] for s in data.get("series") or []
                for d, v in s.get("points") or []]
        if data.get("baseline"):
            rows.append(["", "baseline", data["baseline"]["date"], data["baseline"]["value"]])
        rows += [["", "final_target" if t.get("final") else "annual_target", t["date"], t["value"]]
                 for t in data.get("targets") or []]
        return ["serie", "code_serie", "date", "valeur"], rows
    if kind == "comparison":
        rows = [[b.get("code", ""), b.get("label", ""), b.get("value"), "oui" if b.get("highlight") else ""]
                for b in data.get("bars") or []]
        if data.get("reference"):
            rows.append(["", data["reference"].get("label", ""), data["reference"].get("value"), "reference"])
        return ["code_territoire", "territoire", "valeur", "selection"], rows
    if kind == "gauge":
        return ["mesure", "valeur"], [[data.get("label", ""), data.get("value")]]
    if kind == "weather_timeline":
        return ["date", "meteo", "libelle"], [[e["date"], e.get("weather", ""), e.get("label", "")]
                                              for e in data.get("entries") or []]
    raise ValueError(kind)


def to_csv(kind: str, data: dict[str, Any]) -> bytes:
    header, rows = csv_table(kind, data)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


@lru_cache(maxsize=1)
def png_available() -> bool:
    """CairoSVG and the system's libcairo are installed (PNG downloads are offered only then)."""
    try:
        import cairosvg  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def to_png(svg: str, scale: float = PNG_SCALE) -> bytes:
    """The SVG rasterised by CairoSVG (LGPL, on the system's libcairo)."""
    import cairosvg

    return cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=scale)
