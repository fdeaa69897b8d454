"""Small value objects that plugins return from hooks (re-exported by :mod:`core.api`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class PluginInfo:
    """Metadata every plugin package exposes as ``PLUGIN`` in its ``__init__``."""

    name: str
    label: str
    version: str
    description: str = ""
    requires_core: str = ""


@dataclass(frozen=True)
class Asset:
    """A CSS or JS file served from a plugin's static folder."""

    kind: str  # "css" or "js"
    url: str


@dataclass(frozen=True)
class Widget:
    """A fragment a plugin renders into a named slot of a core page.

    ``template`` is rendered with the slot's context plus ``widget`` (this object) and
    whatever ``context(**slot_context)`` returns.
    """

    key: str
    slot: str
    template: str
    order: int = 100
    context: Callable[..., dict[str, Any]] | None = None
    owner: str = ""


@dataclass(frozen=True)
class MenuItem:
    label: str
    endpoint: str
    action: str | None = None
    order: int = 100


@dataclass(frozen=True)
class Action:
    """A named permission (``value.write``, ``cartographie.layer.edit``)."""

    name: str
    description: str
    owner: str = ""


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable[..., Any]
    description: str = ""
    owner: str = ""


@dataclass(frozen=True)
class GrantSpec:
    """A grant that does not live in the grant table (e.g. supplied by DataPass)."""

    role: str
    territory_id: int | None = None
    organisation_id: int | None = None
    policy_ids: frozenset[int] = frozenset()
    expires_at: dt.datetime | None = None
    source: str = ""


@dataclass(frozen=True)
class Event:
    """A domain event dispatched to ``on_event`` after commit."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
