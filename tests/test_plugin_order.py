"""Plugin precedence: the order of [plugins] enabled decides, both ways, everywhere."""

import pytest
from flask import Blueprint

from core.api import Widget, hookimpl
from core.plugins import PluginError


class Toy:
    """A test-only plugin; ``name`` doubles as its registration name and key prefix."""

    def __init__(self, name, user=None, order=100):
        self.name = name
        self._user = user
        self._order = order

    @hookimpl
    def user_from_request(self, request):
        return self._user

    @hookimpl
    def register_widgets(self):
        return [Widget(key=f"{self.name}.box", slot="home.main", template="x.html", order=self._order)]


@pytest.mark.parametrize("first,second", [("alpha", "beta"), ("beta", "alpha")])
def test_firstresult_and_widget_order_follow_precedence(make_app, first, second):
    plugins = [Toy(first, user=f"user-of-{first}"), Toy(second, user=f"user-of-{second}")]
    app = make_app(extra_plugins=plugins)
    pm = app.extensions["pilote"].pm
    assert pm.hook.user_from_request(request=None) == f"user-of-{first}"
    keys = [k for k in app.extensions["pilote"].widgets if k.endswith(".box")]
    assert keys == [f"{first}.box", f"{second}.box"]


def test_widget_order_field_beats_precedence(make_app):
    app = make_app(extra_plugins=[Toy("alpha", order=50), Toy("beta", order=10)])
    with app.test_request_context():
        widgets = sorted(
            (w for w in app.extensions["pilote"].widgets.values() if w.slot == "home.main"),
            key=lambda w: w.order,
        )
    assert [w.key for w in widgets] == ["beta.box", "alpha.box"]


@pytest.mark.parametrize("order", [["visualisation", "cartographie"], ["cartographie", "visualisation"]])
def test_enabled_order_is_the_call_order(make_app, order):
    app = make_app(plugins=order)
    pm = app.extensions["pilote"].pm
    called = [impl.plugin_name for impl in reversed(pm.hook.declare_settings.get_hookimpls())]
    assert called == order


def test_duplicate_registry_key_stops_startup(make_app):
    class Clash:
        name = "alpha"

        @hookimpl
        def register_widgets(self):
            box = Widget(key="alpha.box", slot="home.main", template="x.html")
            return [box, box]

    with pytest.raises(PluginError, match="duplicate widget 'alpha.box': registered by 'alpha' and 'alpha'"):
        make_app(extra_plugins=[Clash()])


def test_unprefixed_key_is_refused(make_app):
    class Rude:
        name = "rude"

        @hookimpl
        def register_widgets(self):
            return [Widget(key="box", slot="home.main", template="x.html")]

    with pytest.raises(PluginError, match="must start with 'rude'"):
        make_app(extra_plugins=[Rude()])


def test_unknown_slot_is_refused(make_app):
    class Lost:
        name = "lost"

        @hookimpl
        def register_widgets(self):
            return [Widget(key="lost.box", slot="nowhere", template="x.html")]

    with pytest.raises(PluginError, match="unknown slot 'nowhere'"):
        make_app(extra_plugins=[Lost()])


def test_plugin_cannot_redefine_a_core_url(make_app):
    class Thief:
        name = "thief"

        @hookimpl
        def register_blueprints(self, app):
            bp = Blueprint("thief", __name__, url_prefix="/thief")
            bp.add_url_rule("/", "x", lambda: "x")
            return bp

    app = make_app(extra_plugins=[Thief()])
    assert "/thief/" in {r.rule for r in app.url_map.iter_rules()}

    class Squatter:
        name = "squatter"

        @hookimpl
        def register_blueprints(self, app):
            return Blueprint("squatter", __name__, url_prefix="/")

    with pytest.raises(PluginError, match="must be mounted under /squatter"):
        make_app(extra_plugins=[Squatter()])


def test_plugin_requiring_another_core_version_is_refused(monkeypatch):
    import types

    from core import plugins
    from core.specs import PluginInfo

    package = types.ModuleType("oldplugin")
    package.PLUGIN = PluginInfo(name="oldplugin", label="Old", version="1", requires_core=">=9")
    module = types.ModuleType("oldplugin.plugin")
    monkeypatch.setitem(__import__("sys").modules, "oldplugin", package)
    monkeypatch.setitem(__import__("sys").modules, "oldplugin.plugin", module)
    with pytest.raises(PluginError, match=r"requires core >=9, this is core 0\."):
        plugins.plugin_info(module, "oldplugin")
