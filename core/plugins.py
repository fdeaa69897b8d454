"""Plugin discovery, enabling and precedence: the one place where plugin order is decided.

Rule: the order of ``[plugins] enabled`` is the precedence. The first plugin listed is called
first (so it wins a firstresult hook and comes first in collected lists); the core's own
implementations are registered first, hence called last. Installed is not enabled: a plugin
that is not listed is never registered.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Iterable, Sequence

import pluggy
from packaging.specifiers import SpecifierSet

from core import __version__, hookspecs
from core.specs import PluginInfo

ENTRY_POINT_GROUP = "pilote.plugins"
CORE_NAME = "core"

hookimpl = pluggy.HookimplMarker("pilote")


class PluginError(Exception):
    """A plugin could not be loaded or broke a registration rule."""


def installed_plugins() -> dict[str, Any]:
    """Entry points of every installed plugin, by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def plugin_info(module: Any, name: str) -> PluginInfo:
    """The ``PLUGIN`` metadata of the package a plugin module belongs to."""
    package = importlib.import_module(module.__name__.rpartition(".")[0] or module.__name__)
    info = getattr(package, "PLUGIN", None) or getattr(module, "PLUGIN", None)
    if not isinstance(info, PluginInfo):
        raise PluginError(f"plugin {name!r}: its package defines no PLUGIN = PluginInfo(...)")
    if info.name != name:
        raise PluginError(f"plugin {name!r}: PLUGIN.name is {info.name!r}, expected {name!r}")
    if info.requires_core and not SpecifierSet(info.requires_core).contains(__version__, prereleases=True):
        raise PluginError(
            f"plugin {name!r} requires core {info.requires_core}, this is core {__version__}"
        )
    return info


def build_plugin_manager(
    enabled: Sequence[str], extra_plugins: Iterable[Any] = ()
) -> pluggy.PluginManager:
    """A fresh manager with the core defaults and exactly the ``enabled`` plugins, in order.

    ``extra_plugins`` (objects or modules with hookimpls; tests and embedding) take
    precedence over the configured ones, in the order given.
    """
    from core import defaults

    pm = pluggy.PluginManager("pilote")
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name=CORE_NAME)
    available = installed_plugins()
    for name in reversed(list(enabled)):  # pluggy calls the last registered first
        if name not in available:
            raise PluginError(
                f"plugin {name!r} is not installed (installed: {', '.join(sorted(available))})"
            )
        module = available[name].load()
        plugin_info(module, name)
        pm.register(module, name=name)
    for obj in reversed(list(extra_plugins)):
        pm.register(obj, name=getattr(obj, "name", None))
    pm.check_pending()
    return pm


def call_in_order(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call a collect hook and return ``(plugin name, result)`` pairs in precedence order.

    Lists returned by one implementation are flattened; None results are dropped.
    """
    caller = getattr(pm.hook, hook_name)
    out: list[tuple[str, Any]] = []
    for impl in reversed(caller.get_hookimpls()):  # call order
        args = {k: kwargs[k] for k in impl.argnames}
        result = impl.function(**args)
        if result is None:
            continue
        items = result if isinstance(result, (list, tuple)) else [result]
        out.extend((impl.plugin_name, item) for item in items)
    return out


def keyed_registry(
    entries: Iterable[tuple[str, Any]], key: str, what: str
) -> dict[str, Any]:
    """Build an ordered dict from ``(owner, obj)`` pairs keyed by ``obj.<key>``.

    Keys of plugins must start with ``<plugin>.`` or ``<plugin>_``; a duplicate key is an
    error naming both owners.
    """
    registry: dict[str, Any] = {}
    owners: dict[str, str] = {}
    for owner, obj in entries:
        value = getattr(obj, key)
        if owner != CORE_NAME and not (
            value.startswith(owner + ".") or value.startswith(owner + "_")
        ):
            raise PluginError(f"{what} {value!r} of plugin {owner!r} must start with {owner!r}.")
        if value in registry:
            raise PluginError(
                f"duplicate {what} {value!r}: registered by {owners[value]!r} and {owner!r}"
            )
        registry[value] = obj
        owners[value] = owner
    return registry


def hooks_implemented(pm: pluggy.PluginManager, name: str) -> list[str]:
    """Names of the hooks the plugin registered as ``name`` implements."""
    plugin = pm.get_plugin(name)
    return sorted(caller.name for caller in pm.get_hookcallers(plugin) or [])
