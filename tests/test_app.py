"""The application factory: every instance boots, any subset of plugins boots, install ≠ enable."""

import itertools
from pathlib import Path

import pytest

from core.config import INSTANCES_DIR
from core.plugins import installed_plugins

INSTANCES = sorted(p.parent.name for p in INSTANCES_DIR.glob("*/instance.toml"))
BUNDLED = ["visualisation", "cartographie", "datapass"]


def test_core_is_imported_from_this_checkout():
    import core

    assert Path(core.__file__).resolve().parent == Path(__file__).resolve().parents[1] / "core"


@pytest.mark.parametrize("slug", INSTANCES)
def test_every_instance_boots_and_renders_its_home_page(make_app, slug):
    from core.testing.pytest_plugin import seed_reference

    app = make_app(slug)
    with app.app_context():
        seed_reference(app)
    response = app.test_client().get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert app.extensions["pilote"].config.name in html
    assert f'data-theme="{app.extensions["pilote"].theme.name}"' in html


def test_bundled_plugins_are_installed():
    assert set(BUNDLED) <= set(installed_plugins())


@pytest.mark.parametrize(
    "subset", [list(c) for n in range(len(BUNDLED) + 1) for c in itertools.combinations(BUNDLED, n)]
)
def test_app_boots_with_any_subset_of_plugins(make_app, subset):
    app = make_app(plugins=subset)
    pm = app.extensions["pilote"].pm
    registered = {name for name, _ in pm.list_name_plugin()} - {"core"}
    assert registered == set(subset)
    prefixes = {rule.rule.split("/")[1] for rule in app.url_map.iter_rules()}
    for name in BUNDLED:
        assert (name in prefixes) == (name in subset)
        assert (name in app.blueprints) == (name in subset)


def test_installed_but_not_enabled_plugin_is_inert(make_app):
    app = make_app(plugins=["cartographie"])
    state = app.extensions["pilote"]
    assert "visualisation.trajectory" not in state.widgets
    assert "datapass.status" not in state.actions
    assert app.test_client().get("/datapass/").status_code == 404
    assert "visualisation" not in state.plugin_settings


def test_plugin_settings_are_validated_and_defaulted(make_app):
    app = make_app(plugins=["visualisation", "cartographie"])
    settings = app.extensions["pilote"].plugin_settings
    assert settings["visualisation"] == {"sparkline_months": 24}
    assert settings["cartographie"] == {"default_level": "department"}


def test_settings_override_configuration(make_app):
    app = make_app(settings={"PILOTE_CUSTOM": "x"})
    assert app.config["PILOTE_CUSTOM"] == "x"
    assert app.config["TESTING"] is True


def test_two_apps_in_one_process_do_not_share_state(make_app):
    first = make_app(plugins=["visualisation"])
    second = make_app(plugins=["datapass"])
    assert first.extensions["pilote"].pm is not second.extensions["pilote"].pm
    assert "datapass.status" in second.extensions["pilote"].actions
    assert "datapass.status" not in first.extensions["pilote"].actions
