"""Themes and instances override only what may be overridden, and acknowledge what they shadow."""

from pathlib import Path

import pytest

from core.config import INSTANCES_DIR, THEMES_DIR
from core.themes import CORE_TEMPLATES, file_digest, is_overridable, load_theme, override_problems, theme_chain

THEMES = sorted(p.parent.name for p in THEMES_DIR.glob("*/theme.toml"))
INSTANCES = sorted(p.parent for p in INSTANCES_DIR.glob("*/instance.toml"))


def templates_of(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


@pytest.mark.parametrize("name", THEMES)
def test_theme_chain_ends_with_base(name):
    assert theme_chain(name)[-1].name == "base"


@pytest.mark.parametrize("name", THEMES)
def test_theme_overrides_only_declared_templates(name):
    assert override_problems(load_theme(name)) == []


@pytest.mark.parametrize("folder", INSTANCES, ids=lambda p: p.name)
def test_instance_templates_are_overridable(folder):
    for template in templates_of(folder / "templates"):
        assert is_overridable(template), f"instance {folder.name}: {template} may not be overridden"


def test_base_theme_provides_what_core_pages_extend():
    base = load_theme("base")
    for required in ("layout/base.html", "components/ui.html", "errors/error.html"):
        assert (base.templates / required).is_file()


def make_theme(tmp_path, template, acknowledged):
    folder = tmp_path / "custom"
    (folder / "templates" / Path(template).parent).mkdir(parents=True, exist_ok=True)
    (folder / "templates" / template).write_text("{% extends '@core/" + template + "' %}")
    overrides = f'[overrides]\n"{template}" = "{acknowledged}"\n' if acknowledged else ""
    (folder / "theme.toml").write_text('[theme]\nlabel = "Custom"\n' + overrides)
    return load_theme("custom", themes_dir=tmp_path)


def test_a_drifted_or_unacknowledged_override_is_reported(tmp_path):
    current = file_digest(CORE_TEMPLATES / "pages" / "home.html")
    assert override_problems(make_theme(tmp_path, "pages/home.html", current)) == []
    assert "shadows pages/home.html" in override_problems(make_theme(tmp_path, "pages/home.html", "sha256:old"))[0]
    assert "shadows pages/home.html" in override_problems(make_theme(tmp_path, "pages/home.html", None))[0]


def test_a_non_overridable_template_is_reported(tmp_path):
    assert "may not be overridden" in override_problems(make_theme(tmp_path, "pages/policy.html", None))[0]
