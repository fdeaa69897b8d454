"""instance.toml: a bad file stops start-up with a located message (file, key, reason, allowed)."""

import shutil

import pytest

from core.app import create_app
from core.config import INSTANCES_DIR, ConfigError, load_instance_config
from core.plugins import PluginError


@pytest.fixture
def copy_instance(tmp_path):
    """Copy instances/ditp to a temp folder and apply text edits to its instance.toml."""

    def make(*replacements, append=""):
        target = tmp_path / "ditp"
        shutil.copytree(INSTANCES_DIR / "ditp", target, dirs_exist_ok=True)
        path = target / "instance.toml"
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            assert old in text, old
            text = text.replace(old, new)
        path.write_text(text + append, encoding="utf-8")
        return path

    return make


def problems(path, **settings):
    with pytest.raises((ConfigError, PluginError)) as info:
        create_app(path, settings={"DATABASE_URL": "sqlite://", "SECRET_KEY": "x", **settings})
    return str(info.value)


def test_reference_instance_is_valid():
    config = load_instance_config("ditp")
    assert config.slug == "ditp"
    assert config.level_keys == ["nation", "region", "department"]
    assert config.enabled_plugins == ["visualisation", "cartographie", "datapass", "barometre"]


def test_copied_instance_works_without_python(copy_instance):
    path = copy_instance(('name = "Pilote"', 'name = "Pilote Occitanie"'),
                         ('name = "dsfr"', 'name = "base"'))
    app = create_app(path, settings={"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    assert app.extensions["pilote"].config.name == "Pilote Occitanie"


def test_syntax_error_is_located(copy_instance):
    message = problems(copy_instance(('slug = "ditp"', 'slug = "ditp')))
    assert "instance.toml" in message and "not valid TOML" in message and "line" in message


def test_unknown_key_is_located(copy_instance):
    message = problems(copy_instance(('timezone = "Europe/Paris"', 'timezone = "Europe/Paris"\ncolour = "red"')))
    assert "instance.toml: [instance] colour: unknown key" in message


def test_unknown_theme_lists_allowed(copy_instance):
    message = problems(copy_instance(('name = "dsfr"', 'name = "fancy"')))
    assert "[theme] name: unknown theme 'fancy' (available: base" in message


def test_unknown_plugin_lists_installed(copy_instance):
    message = problems(copy_instance(('enabled = ["visualisation", "cartographie", "datapass", "barometre"]',
                                      'enabled = ["visualisation", "cartographi"]')))
    assert ("instance.toml: [plugins] enabled[1]: plugin 'cartographi' is not installed "
            "(installed: barometre, cartographie, datapass" in message)


def test_settings_of_a_disabled_plugin_are_refused(copy_instance):
    message = problems(copy_instance(('enabled = ["visualisation", "cartographie", "datapass", "barometre"]',
                                      'enabled = ["visualisation", "datapass"]')))
    assert "[plugins.cartographie]: settings for a plugin that is not enabled" in message


def test_plugin_setting_error_is_located(copy_instance):
    message = problems(copy_instance(append="\n[plugins.visualisation]\nsparkline_months = 1000\n"))
    assert "[plugins.visualisation] sparkline_months: Must be greater than or equal to 3" in message


def test_bad_locale_lists_allowed(copy_instance):
    message = problems(copy_instance(('default_locale = "fr"', 'default_locale = "de"')))
    assert "[instance] default_locale: Must be one of: fr, en." in message


def test_level_with_unknown_parent(copy_instance):
    message = problems(copy_instance(('parent = "region"', 'parent = "province"')))
    assert "grids[0].levels[2].parent: unknown level 'province' (allowed: nation, region)" in message


def test_missing_required_table(copy_instance):
    path = copy_instance()
    text = path.read_text(encoding="utf-8")
    start = text.index("[[policy_kinds]]")
    end = text.index("[[comment_types]]")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    assert "[policy_kinds]: Missing data for required field." in problems(path)


def test_secret_from_environment(copy_instance, monkeypatch):
    monkeypatch.setenv("TEST_DATAPASS_SECRET", "s3cret")
    path = copy_instance(append='\n[plugins.datapass]\nwebhook_secret = { env = "TEST_DATAPASS_SECRET" }\n')
    app = create_app(path, settings={"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    assert app.extensions["pilote"].plugin_settings["datapass"]["webhook_secret"] == "s3cret"


def test_database_url_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PILOTE_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    assert load_instance_config("ditp").database_url == f"sqlite:///{tmp_path}/x.sqlite3"
    monkeypatch.delenv("PILOTE_DATABASE_URL")
    assert load_instance_config("ditp").database_url.endswith("var/ditp/pilote.sqlite3")


def test_unknown_instance_lists_known(tmp_path):
    with pytest.raises(ConfigError, match="known instances: .*ditp"):
        load_instance_config("nowhere")


def test_wording_terms_match_the_templates():
    from core.config import WORDING_TERMS
    from core.templating import TERMS

    assert set(WORDING_TERMS) == set(TERMS)


def test_unknown_wording_term_and_time_zone_are_refused(copy_instance):
    message = problems(copy_instance(('policies = "politiques prioritaires"', 'polices = "x"'),
                                     ('timezone = "Europe/Paris"', 'timezone = "Europe/Pariss"')))
    assert "[wording] fr.polices: unknown term (allowed: policy, policies, indicator" in message
    assert "[instance] timezone: unknown time zone" in message


def test_database_url_from_an_unset_variable_is_an_error(copy_instance, monkeypatch):
    monkeypatch.delenv("PILOTE_TEST_UNSET_DB", raising=False)
    message = problems(copy_instance(append='\n[database]\nurl = { env = "PILOTE_TEST_UNSET_DB" }\n'))
    assert "[database] url: environment variable PILOTE_TEST_UNSET_DB is not set" in message
