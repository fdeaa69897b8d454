"""Every hook a plugin can implement. One docstring per spec: kind, when, return, ordering.

Kinds: *collect* (the list of non-None results is used), *firstresult* (the first non-None
result wins), *vote* (any False denies, one True is needed, None abstains), *notify* (results
ignored). Ordering is always the order of ``[plugins] enabled`` in ``instance.toml``: the first
plugin listed is called first and wins; the core's own implementations come last.
Calls are keyword-only; an implementation may accept a subset of the arguments.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("pilote")


@hookspec
def declare_settings():
    """Collect, at start-up. Return a :class:`marshmallow.Schema` (class or instance)
    validating this plugin's ``[plugins.<name>]`` table of ``instance.toml``.

    Validation errors stop start-up with a located message. The loaded values are read
    back with :func:`core.api.plugin_settings`.
    """


@hookspec
def register_blueprints(app):
    """Collect, at start-up, after the core blueprints. Return a :class:`flask.Blueprint`
    or a list of them. A blueprint's name must be the plugin's name or start with
    ``<plugin>_`` and its URL prefix must start with ``/<plugin>``; duplicates stop start-up.
    """


@hookspec
def register_commands():
    """Collect, when the CLI starts. Return a :class:`click.Command` (often a group named
    after the plugin) or a list of them; they appear under ``pilote``.
    """


@hookspec
def template_helpers():
    """Collect, at start-up. Return a dict of Jinja globals; every name must start with
    ``<plugin>_``. A duplicated name stops start-up.
    """


@hookspec
def asset_urls(page):
    """Collect, at each page render. ``page`` is the endpoint being rendered. Return a list
    of :class:`core.api.Asset` (CSS or JS) to include; order follows plugin precedence.
    """


@hookspec
def register_widgets():
    """Collect, at start-up. Return a list of :class:`core.api.Widget` placed into named
    slots of core pages (see ``core.slots.SLOTS``). Within a slot, widgets are ordered by
    ``order`` then by plugin precedence. Keys must start with ``<plugin>.``; duplicates
    stop start-up.
    """


@hookspec
def menu_items(user):
    """Collect, at each page render. Return a list of :class:`core.api.MenuItem` for the
    main navigation, shown in plugin precedence order after the core's entries.
    """


@hookspec
def register_actions():
    """Collect, at start-up. Return a list of :class:`core.api.Action` (permission names
    such as ``cartographie.layer.edit``, with a description). Names must start with
    ``<plugin>.``; duplicates stop start-up. Checked by :func:`core.api.can`.
    """


@hookspec
def permission_check(user, action, resource):
    """Vote, at every permission check. Return False to deny, True to allow, None to
    abstain. Any False denies; at least one True is needed. The core's rules vote last.
    ``user`` may be anonymous; ``resource`` may be None (a global action).
    """


@hookspec
def scope_filter(user, action, model):
    """Collect, when a listing, export or API query is built. Return a SQLAlchemy boolean
    criterion restricting ``model`` rows to what ``user`` may see for ``action``, or None.
    All criteria are ANDed, so a plugin can only narrow a listing.
    """


@hookspec
def user_grants(user):
    """Collect, when a user's grants are resolved. Return extra, non-persisted
    :class:`core.api.GrantSpec` objects (e.g. from an external habilitation service).
    """


@hookspec(firstresult=True)
def render_chart(kind, data, options):
    """Firstresult, when a page, report or download needs a chart. ``kind`` is one of
    ``trajectory``, ``comparison``, ``gauge``, ``weather_timeline`` (data shapes in
    ``docs/charts.md``); ``data`` is a plain dict of what to draw, already filtered by the
    caller's permissions; ``options`` a dict (``width``, ``height``, ``locale``…). Return a
    :class:`core.api.RenderedFigure` (SVG, text summary, data table) or None when the kind is
    unknown. Callers go through :func:`core.api.render_chart`, which returns None when no
    plugin draws charts, and must then show the data table alone.
    """


@hookspec(firstresult=True)
def render_map(level, values, options):
    """Firstresult, when a page, report or download needs a map. ``level`` is a territory
    level key; ``values`` maps territory codes to a number, a weather key or None;
    ``options`` a dict (``title``, ``unit``, ``scale``: ``quantiles``/``deciles``/``weather``,
    ``within``: a parent territory code, ``link``: URL template with ``{code}``). Return a
    :class:`core.api.RenderedFigure` or None. Callers go through :func:`core.api.render_map`.
    """


@hookspec
def territory_layers(level, within):
    """Collect, when a map needs geometries. Return a GeoJSON ``FeatureCollection`` (a dict;
    each feature's ``properties`` has ``code`` and ``name``; WGS84 longitude/latitude) for the
    territories of ``level`` (inside the territory code ``within`` when not None), or None when
    this plugin has no shapes for that level. When several plugins answer, the first in
    precedence order wins for each code. Read through :func:`core.api.territory_layer`.
    """


@hookspec(firstresult=True)
def user_from_request(request):
    """Firstresult, at each request without a session user. Return the
    :class:`core.models.User` identified by the request (API token, trusted header…)
    or None. The first plugin in precedence order that answers wins.
    """


@hookspec
def on_event(event):
    """Notify, after the transaction that produced ``event`` has committed.
    ``event`` is a :class:`core.api.Event` (``name``, ``payload``). Return value ignored;
    an exception is logged and does not undo the write.
    """


@hookspec
def seed_data(session, config, profile):
    """Notify, during ``pilote seed <profile>`` (``empty`` or ``demo``), after the core has
    loaded its rows, inside the seed transaction. Add the plugin's own rows to ``session``.
    """


@hookspec
def register_jobs():
    """Collect, at start-up. Return a list of :class:`core.api.JobSpec` (name starting with
    ``<plugin>.``, function). Jobs run on RQ when Redis is configured, inline otherwise.
    """


@hookspec
def register_aggregation_methods():
    """Collect, at start-up. Return a list of :class:`core.api.AggregationMethod` (``key``,
    ``label``, ``combine(inputs) -> Decimal | None`` where inputs are (value, population)
    pairs of the children). Keys of plugins start with ``<plugin>_`` or ``<plugin>.``;
    an indicator names its method in ``aggregation_method``. Duplicates stop start-up.
    """


@hookspec
def register_alert_rules():
    """Collect, at start-up. Return a list of :class:`core.api.AlertRule` (``key``,
    ``label``, ``applies_at``: level keys and/or ``TOP``/``BELOW_TOP``, None for every level,
    ``check(ctx) -> bool`` over a :class:`core.api.AlertContext`, optional ``detail(ctx)``).
    Keys of plugins start with ``<plugin>.`` or ``<plugin>_``; duplicates stop start-up.
    Alerts are computed on read, never stored; the core's rules come last.
    """


@hookspec
def auth_providers():
    """Collect, when the sign-in page or an OpenID Connect callback is served. Return a
    :class:`core.api.AuthProvider` (or a list): an OpenID Connect provider users may sign in
    with. The core's implementation returns the ``[auth.providers.<key>]`` tables of
    ``instance.toml``; a plugin's key must start with ``<plugin>_``. The first provider with
    a given key wins (plugin precedence, then the instance file).
    """


@hookspec
def app_ready(app):
    """Notify, once, at the end of :func:`core.app.create_app`, when every registry is
    built. A last resort for wiring that no other hook covers.
    """


@hookspec
def report_sections(report):
    """Collect, when a PDF report is built (one-page briefs have a fixed layout and
    do not call it). ``report`` is a :class:`core.reports.Report` (``user``,
    ``period_start``/``period_end``,
    ``policies``, ``territories`` and ``chapters``: the readable policy × territory pairs,
    each with its figures), already filtered by the requesting user's permissions.
    Return a list of :class:`core.api.ReportSection`; keys of plugins start with
    ``<plugin>.``. The core's own sections (figures, charts, map, weather, comments,
    alerts) come through this hook too, last. Never put in a section what ``report.user``
    may not read.
    """
