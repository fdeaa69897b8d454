"""Each hook does what docs/hooks.md says, seen through a test-only plugin."""

from flask import Blueprint, render_template_string
from sqlalchemy import select

from core.api import (
    Action, Asset, GrantSpec, MenuItem, Policy, PolicyStatus, User, db_session, hookimpl, public,
)
from core.permissions import can, effective_grants, scope


class Spy:
    """A plugin recording what the core asks it."""

    name = "spy"

    def __init__(self, **answers):
        self.answers = answers
        self.calls = []

    @hookimpl
    def app_ready(self, app):
        self.calls.append(("app_ready", app.name))

    @hookimpl
    def register_blueprints(self, app):
        bp = Blueprint("spy", __name__, url_prefix="/spy")
        bp.add_url_rule("/", "index", public(lambda: render_template_string(
            "{% extends 'layout/base.html' %}{% block main %}{{ spy_shout('ok') }}{% endblock %}")))
        return bp

    @hookimpl
    def template_helpers(self):
        return {"spy_shout": lambda text: text.upper() + "!"}

    @hookimpl
    def asset_urls(self, page):
        self.calls.append(("asset_urls", page))
        return [Asset("css", "/static/plugins/spy/spy.css"), Asset("js", "/static/plugins/spy/spy.js")]

    @hookimpl
    def menu_items(self, user):
        return [MenuItem("Espion", "spy.index"), MenuItem("Secret", "spy.index", action="spy.secret")]

    @hookimpl
    def register_actions(self):
        return [Action("spy.secret", "Voir les secrets")]

    @hookimpl
    def permission_check(self, user, action, resource):
        return self.answers.get("vote")

    @hookimpl
    def scope_filter(self, user, action, model):
        if model is Policy and "exclude" in self.answers:
            return Policy.code != self.answers["exclude"]
        return None

    @hookimpl
    def user_grants(self, user):
        return [GrantSpec(role="admin", source="spy")] if self.answers.get("admin") else []

    @hookimpl
    def on_event(self, event):
        self.calls.append(("on_event", event.name, dict(event.payload)))

    @hookimpl
    def seed_data(self, session, config, profile):
        self.calls.append(("seed_data", profile, config.slug))


def test_app_ready_blueprint_helpers_assets_and_menu(make_app):
    spy = Spy()
    app = make_app(extra_plugins=[spy])
    assert ("app_ready", "core") in spy.calls
    html = app.test_client().get("/spy/").get_data(as_text=True)
    assert "OK!" in html
    assert '<link rel="stylesheet" href="/static/plugins/spy/spy.css">' in html
    assert '<script src="/static/plugins/spy/spy.js" defer></script>' in html
    assert ("asset_urls", "spy.index") in spy.calls
    assert ">Espion</a>" in html
    assert ">Secret</a>" not in html  # its action is not granted to anonymous users


def test_core_allows_the_admin(make_app):
    app = make_app(extra_plugins=[Spy()])
    with app.app_context(), app.test_request_context():
        assert can("instance.admin", user=_admin())
        assert not can("instance.admin", user=User(email="r@example.org", name="R"))


def test_plugin_vote_false_denies_even_the_admin(make_app):
    app = make_app(extra_plugins=[Spy(vote=False)])
    with app.app_context(), app.test_request_context():
        admin = _admin()
        assert not can("instance.admin", user=admin)


def test_plugin_vote_true_allows_what_the_core_does_not(make_app):
    app = make_app(extra_plugins=[Spy(vote=True)])
    with app.app_context(), app.test_request_context():
        reader = User(email="r@example.org", name="R")
        assert can("spy.secret", user=reader)


def test_scope_filter_narrows_listings(make_app):
    app = make_app(extra_plugins=[Spy(exclude="CH-2")])
    with app.app_context(), app.test_request_context():
        session = db_session()
        for code in ("CH-1", "CH-2"):
            session.add(Policy(code=code, name=code, status=PolicyStatus.PUBLISHED))
        session.commit()
        admin = _admin()
        codes = session.scalars(select(Policy.code).where(scope("policy.read", Policy, user=admin))).all()
    assert codes == ["CH-1"]


def test_user_grants_adds_grants_from_outside(make_app):
    app = make_app(extra_plugins=[Spy(admin=True)])
    with app.app_context(), app.test_request_context():
        nobody = User(email="n@example.org", name="N")
        assert [g.source for g in effective_grants(nobody)] == ["spy"]
        assert can("instance.admin", user=nobody)


def test_on_event_runs_after_commit_only(make_app):
    from core.events import emit

    spy = Spy()
    app = make_app(extra_plugins=[spy])
    with app.app_context():
        session = db_session()
        emit(session, "rolled_back", n=1)
        session.rollback()
        emit(session, "committed", n=2)
        session.commit()
    events = [c for c in spy.calls if c[0] == "on_event"]
    assert events == [("on_event", "committed", {"n": 2})]


def test_seed_data_is_called_by_seed_empty(make_app):
    import click

    from core import cli
    from core.db import Model
    from core.migrate import alembic_config, upgrade

    spy = Spy()
    app = make_app(extra_plugins=[spy])
    Model.metadata.drop_all(app.extensions["pilote"].db.engine)
    upgrade(alembic_config(app.extensions["pilote"].config.database_url))
    with click.Context(cli.cli) as ctx:
        ctx.meta["pilote.app"] = app  # run the real command with this app (it carries the spy)
        with ctx.scope():
            ctx.invoke(cli.seed_empty)
    assert ("seed_data", "empty", "ditp") in spy.calls
    with app.app_context():
        from core.api import Territory

        assert db_session().scalar(select(Territory).where(Territory.level == "nation")) is not None


def _admin():
    from core.api import Grant, Role

    admin = User(email="root@example.org", name="Root")
    admin.grants.append(Grant(role=Role.ADMIN))
    return admin


def test_register_commands_adds_plugin_commands_to_the_cli(monkeypatch):
    import click
    from click.testing import CliRunner

    from core import cli, plugins

    class Commands:
        name = "spycli"

        @hookimpl
        def register_commands(self):
            @click.command("spycli")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

            return hello

    real = plugins.build_plugin_manager
    monkeypatch.setattr(plugins, "build_plugin_manager",
                        lambda enabled, extra=(): real(enabled, [Commands(), *extra]))
    runner = CliRunner()
    assert "spycli" in runner.invoke(cli.cli, ["--help"]).output
    assert runner.invoke(cli.cli, ["spycli"]).output == "hello from a plugin\n"
