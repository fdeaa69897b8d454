"""Themes: code-free folders (``theme.toml``, ``templates/``, ``static/``) and the loader chain.

Template lookup order: the instance's ``templates/`` → the theme → its parents (ending with
``base``) → ``core/templates`` → plugin blueprints. ``{% extends "@core/…" %}`` or
``"@base/…"`` reaches one layer explicitly, so an override can extend what it replaces.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from core.config import REPO_ROOT, THEMES_DIR

CORE_TEMPLATES = Path(__file__).parent / "templates"
# What a theme or an instance may override: layout, components, errors, mail, and these pages.
OVERRIDABLE_PREFIXES = ("layout/", "components/", "errors/", "mail/")
OVERRIDABLE_PAGES = ("pages/home.html", "pages/login.html")


class ThemeError(Exception):
    pass


@dataclass(frozen=True)
class Theme:
    name: str
    path: Path
    label: str
    extends: str | None
    state_only: bool
    tokens: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)
    # extra static roots declared in ``[static] sources`` (e.g. an npm package's dist folder),
    # searched after the theme's own ``static/``; relative paths start at the repository root
    static_sources: tuple[Path, ...] = ()

    @property
    def templates(self) -> Path:
        return self.path / "templates"

    @property
    def static(self) -> Path:
        """The theme's own ``static/`` folder (see :attr:`static_dirs` for every root)."""
        return self.path / "static"

    @property
    def static_dirs(self) -> list[Path]:
        """Every static root of the theme, in lookup order: ``static/``, then the sources."""
        return [self.static, *self.static_sources]


def load_theme(name: str, themes_dir: Path = THEMES_DIR) -> Theme:
    path = themes_dir / name
    try:
        raw = tomllib.loads((path / "theme.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ThemeError(f"theme {name!r}: {path / 'theme.toml'} not found") from None
    meta = raw.get("theme", {})
    return Theme(
        name=name,
        path=path,
        label=meta.get("label", name),
        extends=meta.get("extends") or None,
        state_only=bool(meta.get("state_only", False)),
        tokens=dict(raw.get("tokens", {})),
        overrides=dict(raw.get("overrides", {})),
        static_sources=tuple(_source(path, s) for s in raw.get("static", {}).get("sources", [])),
    )


def _source(theme_path: Path, source: str) -> Path:
    """A ``[static] sources`` entry: absolute, ``./…`` (from the theme folder) or from the
    repository root (``node_modules/…``)."""
    candidate = Path(source)
    if candidate.is_absolute():
        return candidate
    if source.startswith("./"):
        return (theme_path / candidate).resolve()
    return REPO_ROOT / candidate


def static_problems(theme: Theme) -> list[str]:
    """Declared static sources that are missing (e.g. ``npm ci`` not run)."""
    return [f"theme {theme.name}: static source {src} not found (run `npm ci` at the repository root)"
            for src in theme.static_sources if not src.is_dir()]


def theme_chain(name: str, themes_dir: Path = THEMES_DIR) -> list[Theme]:
    """The theme then its ancestors, child first; every chain ends with ``base``."""
    chain: list[Theme] = []
    while name:
        if any(t.name == name for t in chain):
            raise ThemeError(f"theme {name!r} extends itself")
        theme = load_theme(name, themes_dir)
        chain.append(theme)
        name = theme.extends or ("base" if theme.name != "base" else "")
    return chain


def template_loader(chain: list[Theme], instance_dir: Path) -> ChoiceLoader:
    paths = [instance_dir / "templates", *(t.templates for t in chain), CORE_TEMPLATES]
    prefixed = {"@core": FileSystemLoader(str(CORE_TEMPLATES))}
    prefixed.update({f"@{t.name}": FileSystemLoader(str(t.templates)) for t in chain})
    return ChoiceLoader(
        [FileSystemLoader([str(p) for p in paths if p.is_dir()]), PrefixLoader(prefixed, delimiter="/")]
    )


def merged_tokens(chain: list[Theme], instance_tokens: dict[str, str]) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for theme in reversed(chain):
        tokens.update(theme.tokens)
    tokens.update(instance_tokens)
    return tokens


def is_overridable(template: str) -> bool:
    return template.startswith(OVERRIDABLE_PREFIXES) or template in OVERRIDABLE_PAGES


def file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def override_problems(theme: Theme) -> list[str]:
    """What breaks the override rules: a template outside the overridable list, or a core
    template shadowed without acknowledging its current digest in ``[overrides]``."""
    problems = []
    if not theme.templates.is_dir():
        return problems
    for path in sorted(p for p in theme.templates.rglob("*") if p.is_file()):
        template = str(path.relative_to(theme.templates))
        if not is_overridable(template):
            problems.append(f"theme {theme.name}: {template} may not be overridden")
            continue
        core = CORE_TEMPLATES / template
        if core.exists() and theme.overrides.get(template) != file_digest(core):
            problems.append(
                f"theme {theme.name} shadows {template}: check it against the core's current version, "
                f"then set [overrides] \"{template}\" = \"{file_digest(core)}\" in theme.toml"
            )
    return problems
