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
class RenderedFigure:
    """A chart or map drawn by a plugin: inline ``svg`` markup (already safe), a one-sentence
    ``summary`` for screen readers and captions, and the data ``table`` behind it
    (``columns``: header labels, ``rows``: lists of cells) that pages show next to it."""

    svg: str
    summary: str
    table: dict[str, list] = field(default_factory=lambda: {"columns": [], "rows": []})
    title: str = ""


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
    every: dt.timedelta | None = None  # periodic: the scheduler (`pilote scheduler`) runs it this often


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


@dataclass(frozen=True)
class AuthProvider:
    """An OpenID Connect provider offered on the sign-in page (``auth_providers`` hook).

    ``key`` appears in URLs (``/connexion/oidc/<key>``); ``server_metadata_url`` is the
    discovery document; ``style`` is ``proconnect`` for the official ProConnect button.
    """

    key: str
    label: str
    server_metadata_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ("openid", "email", "given_name", "usual_name")
    style: str = "default"
    token_auth_method: str = "client_secret_post"


@dataclass(frozen=True)
class ReportSection:
    """A part of a PDF report, returned by the ``report_sections`` hook.

    ``html`` is safe markup (escape what you insert); ``title`` goes to the table of contents.
    ``policy``/``territory`` (a policy code and a territory key ``<level>-<code>``) attach the
    section to that pair's chapter; without them it goes to the end of the report.
    Sections of a chapter are ordered by ``order`` (the core's: 10 figures, 20 charts,
    30 map, 40 weather, 50 comments, 60 alerts), then by plugin precedence.
    """

    key: str
    title: str
    html: str
    order: int = 100
    policy: str | None = None
    territory: str | None = None
    owner: str = ""
