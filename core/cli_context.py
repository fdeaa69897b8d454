"""The app context of ``pilote`` commands, shared by every command module (no cycles)."""

from __future__ import annotations

import functools
import os

import click
from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from core.config import ConfigError


def instance_of(ctx: click.Context) -> str | None:
    root = ctx.find_root()
    return (root.params or {}).get("instance") or os.environ.get("PILOTE_INSTANCE")


def make_app(ctx: click.Context) -> Flask:
    from core.app import create_app

    cached = ctx.find_root().meta.get("pilote.app")
    if cached is None:
        cached = create_app(instance_of(ctx))
        ctx.find_root().meta["pilote.app"] = cached
    return cached


def with_app(func):
    """Run the command inside the instance's app context, writes attributed to the CLI."""

    @click.pass_context
    @functools.wraps(func)
    def wrapper(ctx, *args, **kwargs):
        from core.audit import acting_as

        try:
            app = make_app(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        with app.app_context(), acting_as(None, f"pilote {ctx.command_path.partition(' ')[2]}", "cli"):
            try:
                return func(app, *args, **kwargs)
            except OperationalError as exc:
                url = make_url(app.extensions["pilote"].config.database_url)
                raise click.ClickException(
                    f"database not reachable ({url.render_as_string(hide_password=True)}): {exc.orig}"
                ) from None

    return wrapper


def alembic_for(app):
    """The Alembic configuration of the app's database."""
    from core.migrate import alembic_config

    state = app.extensions["pilote"]
    return alembic_config(state.config.database_url)


def require_schema(app) -> None:
    """Stop the command with a clear message when migrations are pending."""
    from core.migrate import pending

    if pending(app.extensions["pilote"].db.engine, alembic_for(app)):
        raise click.ClickException("the database is not up to date: run `pilote db upgrade` first")
