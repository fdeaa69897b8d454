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
def app_ready(app):
    """Notify, once, at the end of :func:`core.app.create_app`, when every registry is
    built. A last resort for wiring that no other hook covers.
    """
