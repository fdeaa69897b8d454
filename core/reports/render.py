"""HTML → PDF with WeasyPrint: the document (cover, contents, chapters) and one-page briefs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from flask import current_app, render_template
from flask_babel import get_locale

from core.reports.model import Report
from core.specs import ReportSection

# Rows kept in a brief's tables, tried in turn until the brief fits on one page.
BRIEF_LIMITS = (None, 16, 12, 9, 6, 4, 2, 0)
MARIANNE = {"400": "Marianne-Regular", "700": "Marianne-Bold"}


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


def css_string(text: str) -> str:
    """``text`` as the inside of a double-quoted CSS string."""
    return "".join(ch if ch.isalnum() or ch in " -–—.,:;()'/" else f"\\{ord(ch):x} " for ch in str(text))


def svg_image(svg: str) -> str:
    """An inline SVG as a ``data:`` URI for ``<img>``: its paths stay out of the HTML cascade
    (less layout work for big maps) and the figure's summary becomes the image's alt text."""
    import base64
    import re

    svg = str(svg)  # plain text: a Markup would escape what is spliced in
    root = re.search(r"<svg\b[^>]*>", svg)
    if root is None:
        return ""
    tag = root.group(0)
    box = re.search(r'viewBox="[\d.\-]+[ ,]+[\d.\-]+[ ,]+([\d.]+)[ ,]+([\d.]+)"', tag)
    if box:  # an image needs an absolute size (pages often give width="100%")
        tag = re.sub(r'\s(width|height|style)="[^"]*"', "", tag)
        tag = tag[:-1] + f' width="{box.group(1)}" height="{box.group(2)}">'
    if "xmlns=" not in tag:
        tag = tag.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    text = svg[:root.start()] + tag + svg[root.end():]
    return "data:image/svg+xml;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def branding() -> dict[str, Any]:
    """The instance's name, operator, theme tokens, logo and, with the State theme only, the
    Marianne font files (never with another theme)."""
    from core.views.assets import locate

    state = current_app.extensions["pilote"]
    instance = state.config.data["instance"]
    state_theme = any(theme.name == "dsfr" for theme in state.themes)
    fonts = {}
    if state_theme:
        for weight, name in MARIANNE.items():
            path = locate("theme", f"fonts/{name}.woff2")
            if path:
                fonts[weight] = path.as_uri()
    logo = None
    for name in ("logo.svg", "logo.png"):
        found = locate("instance", name)
        if found:
            logo = found.as_uri()
            break
    tokens = dict(state.tokens)
    font = tokens.get("font", "sans-serif")
    if not fonts:  # Marianne is reserved to the State theme: never ask for it elsewhere
        font = ", ".join(f for f in font.split(",") if "marianne" not in f.lower()) or "sans-serif"
    return {"name": instance["name"], "operator": instance.get("operator") or "",
            "tokens": tokens, "font": font, "state": state_theme, "fonts": fonts, "logo": logo}


def _context(report: Report) -> dict[str, Any]:
    brand = branding()
    footer = f"{brand['name']} — {brand['operator']}" if brand["operator"] else brand["name"]
    return {"report": report, "brand": brand, "locale": str(get_locale() or "fr"),
            "footer": css_string(footer), "css_string": css_string,
            "generated_at": dt.datetime.now(dt.timezone.utc)}


def write_pdf(html: str) -> tuple[bytes, int]:
    """Lay out ``html`` and return the PDF bytes and page count (tagged PDF)."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=str(Path(__file__).parent)).render()
    return document.write_pdf(pdf_tags=True), len(document.pages)


def render_report(report: Report, sections: list[ReportSection],
                  progress: Callable[[int], None] | None = None) -> RenderedPdf:
    """The full document: cover, table of contents, one chapter per policy × territory, then
    the sections attached to no chapter."""
    by_chapter: dict[str, list[ReportSection]] = {c.key: [] for c in report.chapters}
    appendix = []
    for section in sections:
        key = f"{section.policy}@{section.territory}"
        (by_chapter[key] if key in by_chapter else appendix).append(section)
    for items in by_chapter.values():
        items.sort(key=lambda s: s.order)  # stable: plugin precedence kept for equal orders
    appendix.sort(key=lambda s: s.order)
    html = render_template("reports/document.html", chapters=report.chapters,
                           sections=by_chapter, appendix=appendix, **_context(report))
    if progress:
        progress(85)
    data, pages = write_pdf(html)
    return RenderedPdf(data, pages)


def render_brief(report: Report, build: Callable[[int | None], dict[str, Any]]) -> RenderedPdf:
    """A one-page brief: ``build(limit)`` gives the template context with at most ``limit``
    rows per table; fewer rows are tried until the brief fits on one page."""
    template = f"reports/brief_{report.brief}.html"
    context = _context(report)
    for limit in BRIEF_LIMITS:
        html = render_template(template, limit=limit, **build(limit), **context)
        data, pages = write_pdf(html)
        if pages == 1:
            return RenderedPdf(data, pages)
    raise RuntimeError("the brief does not fit on one page even with empty tables")
