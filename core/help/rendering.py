"""Markdown → HTML for help pages, then sanitised with nh3 (an allowlist): whatever an editor
types, no script, event handler or ``javascript:`` link reaches the page."""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable("table")

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "dl", "dt",
    "em", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s",
    "small", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
    "abbr": {"title"},
}
SCHEMES = {"http", "https", "mailto"}
_HEADING = re.compile(r"<(/?)h([1-6])\b")


def _shift(match: re.Match) -> str:
    """The page title is the only ``h1``: Markdown headings move one level down."""
    return f"<{match.group(1)}h{min(int(match.group(2)) + 1, 6)}"


def render_markdown(text: str) -> Markup:
    """Safe HTML for ``text`` (CommonMark with tables; raw HTML allowed then sanitised)."""
    html = _HEADING.sub(_shift, _md.render(text or ""))
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                      clean_content_tags={"script", "style"}, link_rel="noopener noreferrer")
    return Markup(clean)


def plain_text(text: str) -> str:
    """The rendered text without tags (search excerpts)."""
    return nh3.clean(str(render_markdown(text)), tags=set()).strip()
