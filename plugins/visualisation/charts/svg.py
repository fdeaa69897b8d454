"""Writing SVG by hand: elements, markers, scales, ticks, and the accessible document shell."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Iterable
from xml.sax.saxutils import escape

FONT = "Marianne, Arial, Helvetica, sans-serif"
INK = "#1e1e1e"       # text and axes: 16:1 on white
MUTED = "#595959"     # secondary text: 7:1 on white
GRID = "#d9d9d9"      # grid lines (decorative)
BACKGROUND = "#ffffff"


def num(x: float) -> str:
    """A coordinate with one decimal at most (stable output, small files)."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else ("0" if text == "-0" else text)


def el(tag: str, content: str | None = None, **attrs: Any) -> str:
    """``<tag attrs>content</tag>``; ``class_`` → ``class``, ``stroke_width`` → ``stroke-width``;
    None attributes are dropped, floats rounded. ``content`` must already be escaped markup."""
    parts = [tag]
    for key, value in attrs.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        if isinstance(value, float):
            value = num(value)
        parts.append(f'{name}="{escape(str(value), {chr(34): "&quot;"})}"')
    head = " ".join(parts)
    return f"<{head}/>" if content is None else f"<{head}>{content}</{tag}>"


def text(x: float, y: float, label: str, **attrs: Any) -> str:
    attrs.setdefault("fill", INK)
    return el("text", escape(label), x=float(x), y=float(y), **attrs)


def title(label: str) -> str:
    return el("title", escape(label))


def marker(shape: str, x: float, y: float, size: float, colour: str, *, hollow: bool = False,
           content: str = "", **attrs: Any) -> str:
    """A point symbol: circle, square, diamond, triangle, triangle_down, cross."""
    fill = BACKGROUND if hollow else colour
    common = dict(fill=fill, stroke=colour, stroke_width=2.0 if hollow else 1.0, **attrs)
    h = size / 2
    if shape == "circle":
        return el("circle", content, cx=float(x), cy=float(y), r=float(h), **common)
    if shape == "square":
        return el("rect", content, x=float(x - h), y=float(y - h), width=float(size), height=float(size), **common)
    points = {
        "diamond": [(x, y - h * 1.25), (x + h * 1.25, y), (x, y + h * 1.25), (x - h * 1.25, y)],
        "triangle": [(x, y - h * 1.3), (x + h * 1.2, y + h), (x - h * 1.2, y + h)],
        "triangle_down": [(x, y + h * 1.3), (x + h * 1.2, y - h), (x - h * 1.2, y - h)],
        "cross": _cross(x, y, h * 1.2),
    }[shape]
    return el("polygon", content, points=" ".join(f"{num(px)},{num(py)}" for px, py in points), **common)


def _cross(x: float, y: float, h: float) -> list[tuple[float, float]]:
    t = h / 2.6
    return [(x - h, y - h + t), (x - h + t, y - h), (x, y - t), (x + h - t, y - h), (x + h, y - h + t), (x + t, y),
            (x + h, y + h - t), (x + h - t, y + h), (x, y + t), (x - h + t, y + h), (x - h, y + h - t), (x - t, y)]


class Scale:
    """A linear map from a data domain to a pixel range."""

    def __init__(self, lo: float, hi: float, start: float, end: float):
        self.lo, self.hi, self.start, self.end = lo, hi, start, end

    def __call__(self, value: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return self.start + (value - self.lo) / span * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2, 2.5, 5 × 10^n steps)."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while True:
        ticks.append(round(value, 10))
        if value >= hi - step * 1e-9:
            return ticks
        value += step


def uid(kind: str, data: Any, options: dict[str, Any]) -> str:
    """A stable id prefix for the elements of one chart (same data → same id)."""
    if options.get("id"):
        return str(options["id"])
    digest = hashlib.sha1(json.dumps([kind, data], sort_keys=True, default=str).encode()).hexdigest()
    return f"vis-{digest[:10]}"


def text_width(label: str, size: float = 12) -> float:
    """A rough width of ``label`` in a sans-serif font (layout only, no font metrics needed)."""
    return len(label) * size * 0.56


def document(*, ident: str, kind: str, width: float, height: float, title_text: str, desc: str,
             body: Iterable[str], defs: str = "") -> str:
    """The accessible SVG shell: role img, labelled by its title and described by its summary."""
    head = el("title", escape(title_text), id=f"{ident}-title") + el("desc", escape(desc), id=f"{ident}-desc")
    return el(
        "svg",
        head + (el("defs", defs) if defs else "")
        + el("rect", x=0, y=0, width=float(width), height=float(height), fill=BACKGROUND)
        + "".join(body),
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {num(width)} {num(height)}",
        width=float(width),
        height=float(height),
        role="img",
        aria_labelledby=f"{ident}-title",
        aria_describedby=f"{ident}-desc",
        class_=f"vis-chart vis-chart--{kind}",
        font_family=FONT,
        font_size=12,
        id=ident,
    )
