"""The ``pilote`` command, end to end: database, seeding, plugins, users, instance checks.

Every test runs the real Click command (``core.cli.cli``) against its own empty database given
through ``PILOTE_DATABASE_URL`` (a SQLite file, or a fresh PostgreSQL database when
``PILOTE_TEST_DATABASE_URL`` is set) and a ``PILOTE_VAR_DIR`` inside ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import flask
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

import core.app
from core.cli import cli
from core.config import INSTANCES_DIR, load_instance_config
from core.db import Model, make_engine
from core.migrate import alembic_config, heads_by_branch, pending
from core.models import IndicatorValue, Policy, Role, Territory, User, ValueKind
from core.plugins import build_plugin_manager, hooks_implemented, installed_plugins
from core.testing.pytest_plugin import database_kind, login

_SCRIPT = ScriptDirectory.from_config(alembic_config("sqlite://"))
REVISIONS = {rev.revision for rev in _SCRIPT.walk_revisions()}  # core and every installed plugin
HEADS = set(_SCRIPT.get_heads())
DITP_ENABLED = load_instance_config("ditp").enabled_plugins
ENABLED_LINE = 'enabled = ["visualisation", "cartographie", "datapass", "barometre"]'
CARTOGRAPHIE_TABLE = '[plugins.cartographie]\ndefault_level = "department"\n'
COUNT_LINE = re.compile(r"^  ([a-z_]+): (\d+)$", re.M)


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def db_url(tmp_path, database_factory):
    """A database with nothing in it, not even Alembic's version table."""
    if database_kind() == "postgresql":
        url = database_factory.new()  # holds the schema: start again from an empty one
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        return url
    # a folder that does not exist yet: `db upgrade` must create it
    return f"sqlite:///{tmp_path / 'data' / 'pilote.sqlite3'}"


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pilote(db_url, tmp_path, monkeypatch):
    """``pilote(*args, input=None, **env)`` runs the command in-process and returns the result.

    The environment names this test's database and var folder and clears the variables of the
    developer's shell that would change what the command does.
    """
    apps = []
    real_create_app = core.app.create_app

    def tracking_create_app(*args, **kwargs):
        app = real_create_app(*args, **kwargs)
        apps.append(app)
        return app

    monkeypatch.setattr(core.app, "create_app", tracking_create_app)
    base = {
        "PILOTE_DATABASE_URL": db_url,
        "PILOTE_VAR_DIR": str(tmp_path / "var"),
        "PILOTE_INSTANCE": None,
        "PILOTE_SECRET_KEY": None,
        "PILOTE_REDIS_URL": None,
    }
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, **env: str | None):
        return runner.invoke(cli, list(args), input=input, env={**base, **env})

    yield invoke
    for app in apps:
        app.extensions["pilote"].db.dispose()


def create_sqlite_folder(db_url: str) -> None:
    """Commands other than `db upgrade` expect the SQLite file's folder to exist."""
    if db_url.startswith("sqlite:///"):
        Path(db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def ok(result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result.output


def fails(result, message: str) -> str:
    """A refusal: exit status 1 with ``message``, through Click (no traceback)."""
    assert result.exit_code == 1, f"exit {result.exit_code}\n{result.output}"
    assert isinstance(result.exception, SystemExit), f"crashed: {result.exception!r}\n{result.output}"
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    return result.output


def ok_stderr(result) -> str:
    ok(result)
    return result.stderr


def printed_counts(output: str) -> dict[str, int]:
    return {key: int(value) for key, value in COUNT_LINE.findall(output)}


def db_counts(engine, counts: dict[str, int]) -> dict[str, int]:
    """The same keys as ``counts``, counted in the database (levels, then tables)."""
    import core.models  # noqa: F401  (every core table in the metadata)

    out = {}
    with engine.connect() as conn:
        for key in counts:
            if key in ("nation", "region", "department", "commune"):
                query = select(func.count()).select_from(Territory).where(Territory.level == key)
            else:
                assert key in Model.metadata.tables, f"{key!r} is neither a level nor a table"
                query = select(func.count()).select_from(Model.metadata.tables[key])
            out[key] = conn.scalar(query)
    return out


def copy_instance(tmp_path: Path, *edits: tuple[str, str], name: str = "ditp-copy") -> Path:
    """A copy of instances/ditp whose instance.toml has each ``(old, new)`` text replaced."""
    target = tmp_path / "instances" / name
    shutil.copytree(INSTANCES_DIR / "ditp", target)
    toml = target / "instance.toml"
    content = toml.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in content, f"instances/ditp/instance.toml no longer contains {old!r}"
        content = content.replace(old, new, 1)
    toml.write_text(content, encoding="utf-8")
    return target


# -- help ----------------------------------------------------------------------------------------


def test_help_lists_every_command(pilote):
    output = ok(pilote("--help"))
    listed = re.findall(r"^  ([a-z-]+)  ", output.partition("Commands:")[2], re.M)
    assert {"db", "seed", "run", "plugins", "users", "instance", "worker"} <= set(listed)
    assert "--instance" in output


def test_console_script_is_installed_and_answers_help(tmp_path):
    script = Path(sys.executable).parent / "pilote"
    script = script if script.exists() else Path(shutil.which("pilote") or "pilote")
    assert script.exists(), "the pilote console script is not installed next to this Python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PILOTE_")}
    env["PILOTE_VAR_DIR"] = str(tmp_path / "var")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, env=env,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: pilote ")
    for command in ("db", "seed", "run", "plugins", "users", "instance", "worker"):
        assert re.search(rf"^  {command}\s", done.stdout, re.M), command


# -- db ------------------------------------------------------------------------------------------


def test_db_check_on_an_empty_database_says_to_upgrade(pilote, tmp_path, db_url):
    create_sqlite_folder(db_url)
    output = fails(pilote("db", "check"), "database not at heads")
    assert "run `pilote db upgrade`" in output
    missing = set(re.search(r"missing ([^)]*)\)", output).group(1).split(", "))
    assert missing == REVISIONS and "0001" in missing


def test_db_upgrade_then_check(pilote, engine, db_url, tmp_path):
    assert "Database is up to date." in ok(pilote("db", "upgrade"))
    assert "Database at heads; models match migrations." in ok(pilote("db", "check"))
    assert pending(engine, alembic_config(db_url)) == set()
    with engine.connect() as conn:  # Alembic stores heads only (not those others depend on)
        stored = set(conn.scalars(text("SELECT version_num FROM alembic_version")))
    assert stored and stored <= HEADS
    branches = heads_by_branch(alembic_config(db_url))
    for name in installed_plugins():  # nothing depends on a plugin's head: it is stored
        assert set(branches[name]) <= stored, name
    assert ok(pilote("db", "upgrade"))  # idempotent
    assert (tmp_path / "var" / "secret_key").is_file()  # PILOTE_VAR_DIR is honoured


# -- seed ----------------------------------------------------------------------------------------


def test_seed_before_upgrade_asks_to_run_db_upgrade(pilote, engine, db_url):
    create_sqlite_folder(db_url)
    for profile in ("empty", "demo"):
        fails(pilote("seed", profile), "run `pilote db upgrade` first")
    with engine.connect() as conn:
        assert not engine.dialect.has_table(conn, "policy")


def test_seed_empty_loads_only_reference_territories(pilote, engine):
    ok(pilote("db", "upgrade"))
    output = ok(pilote("seed", "empty"))
    assert "Reference data loaded" in output
    assert printed_counts(output) == {"nation": 1, "region": 18, "department": 101}
    assert db_counts(engine, {"nation": 0, "region": 0, "department": 0}) == {
        "nation": 1, "region": 18, "department": 101}
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Policy)) == 0
        assert conn.scalar(select(func.count()).select_from(User)) == 0
    # reference data is idempotent: a second run neither fails nor duplicates
    assert printed_counts(ok(pilote("seed", "empty")))["department"] == 101
    assert db_counts(engine, {"department": 0}) == {"department": 101}


def test_seed_demo_load_refuse_if_empty_and_reset(pilote, engine):
    ok(pilote("db", "upgrade"))
    output = ok(pilote("seed", "demo", "--today", "2026-11-01"))
    assert "Demo data loaded" in output and "pilote-demo" in output
    counts = printed_counts(output)
    assert {"nation": 1, "region": 18, "department": 101}.items() <= counts.items()
    assert counts["policy"] == 20 and counts["user_account"] == len(Role)
    assert counts["indicator_value"] > 100_000
    assert db_counts(engine, counts) == counts
    with Session(engine) as session:
        latest = session.scalar(select(func.max(IndicatorValue.date))
                                .where(IndicatorValue.kind == ValueKind.ACTUAL))
        assert dt.date(2026, 8, 1) <= latest <= dt.date(2026, 11, 1)  # --today is honoured
        session.execute(text("UPDATE policy SET name = 'changed by hand'"))
        session.commit()

    fails(pilote("seed", "demo", "--today", "2026-11-01"), "already loaded")
    again = ok(pilote("seed", "demo", "--if-empty"))
    assert again.strip() == "Demo data already loaded."
    assert db_counts(engine, counts) == counts

    # --reset replaces the demo (another date, so other values), it does not add to it
    reloaded = printed_counts(ok(pilote("seed", "demo", "--reset", "--today", "2025-03-01")))
    assert reloaded.keys() == counts.keys()
    for key in ("policy", "indicator", "user_account", "user_grant", "organisation", "department"):
        assert reloaded[key] == counts[key], key
    assert reloaded["indicator_value"] != counts["indicator_value"]
    assert db_counts(engine, reloaded) == reloaded
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM policy WHERE name = 'changed by hand'")) == 0
        latest = conn.scalar(select(func.max(IndicatorValue.date))
                             .where(IndicatorValue.kind == ValueKind.ACTUAL))
    assert dt.date(2024, 12, 1) <= latest <= dt.date(2025, 3, 1)


# -- plugins -------------------------------------------------------------------------------------


def plugin_rows(output: str) -> dict[str, dict[str, str]]:
    lines = output.strip().splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["name", "version", "enabled", "hooks"]
    rows = {}
    for line in lines[1:]:
        name, version, enabled, *hooks = re.split(r"\s{2,}", line.strip(), maxsplit=3)
        rows[name] = {"version": version, "enabled": enabled, "hooks": hooks[0] if hooks else ""}
    return rows


def expected_plugin(name: str) -> tuple[str, str]:
    import importlib

    package = importlib.import_module(installed_plugins()[name].value.rpartition(".")[0])
    hooks = hooks_implemented(build_plugin_manager([name]), name)
    return package.PLUGIN.version, ", ".join(hooks)


def test_plugins_list_shows_version_position_and_hooks(pilote):
    rows = plugin_rows(ok(pilote("plugins", "list")))
    assert set(rows) == set(installed_plugins())
    assert {"visualisation", "cartographie", "datapass"} <= set(rows)
    for name, row in rows.items():
        version, hooks = expected_plugin(name)
        assert row["version"] == version
        assert row["hooks"] == hooks and "declare_settings" in hooks
        position = DITP_ENABLED.index(name) + 1 if name in DITP_ENABLED else None
        assert row["enabled"] == (f"yes (#{position})" if position else "no")
    assert rows["visualisation"]["enabled"] == "yes (#1)"
    assert "register_widgets" in rows["visualisation"]["hooks"]
    assert "register_actions" in rows["datapass"]["hooks"]


def test_plugins_list_installed_is_not_enabled(pilote, tmp_path):
    copy = copy_instance(tmp_path, (ENABLED_LINE, 'enabled = ["datapass", "visualisation"]'),
                         (CARTOGRAPHIE_TABLE, ""))
    rows = plugin_rows(ok(pilote("--instance", str(copy), "plugins", "list")))
    assert set(rows) == set(installed_plugins())
    assert rows["datapass"]["enabled"] == "yes (#1)"
    assert rows["visualisation"]["enabled"] == "yes (#2)"
    assert rows["cartographie"]["enabled"] == "no"
    assert rows["cartographie"]["hooks"] == expected_plugin("cartographie")[1]  # still listed
    # the same copy through the environment variable
    assert plugin_rows(ok(pilote("plugins", "list", PILOTE_INSTANCE=str(copy)))) == rows


# -- users ---------------------------------------------------------------------------------------


def test_users_create_then_sign_in_through_the_web(pilote, db_url, engine):
    ok(pilote("db", "upgrade"))
    ok(pilote("seed", "empty"))
    output = ok(pilote("users", "create", "--email", " Alice@Example.ORG ", "--name", "Alice Martin",
                       "--role", "prefect", "--territory", "region-84",
                       "--password", "correct horse battery"))
    assert "User alice@example.org created with role prefect on region-84." in output
    assert "correct horse battery" not in output
    with Session(engine) as session:
        user = session.scalars(select(User)).one()
        assert user.email == "alice@example.org" and user.is_active
        assert user.password_hash and "correct horse" not in user.password_hash
        [grant] = user.grants
        assert grant.role is Role.PREFECT and grant.territory.key == "region-84"

    app = core.app.create_app("ditp", settings={"DATABASE_URL": db_url, "SECRET_KEY": "x"})
    try:
        client = app.test_client()
        assert login(client, "alice@example.org", "wrong password!!").status_code == 401
        response = login(client, "ALICE@example.org", "correct horse battery")
        assert response.status_code == 302, response.get_data(as_text=True)
        assert "Alice Martin" in client.get("/").get_data(as_text=True)
    finally:
        app.extensions["pilote"].db.dispose()


def test_users_create_prompts_for_the_password(pilote, engine):
    ok(pilote("db", "upgrade"))
    output = ok(pilote("users", "create", "--email", "bob@example.org", "--name", "Bob",
                       "--role", "reader", input="a long enough secret\na long enough secret\n"))
    assert "User bob@example.org created with role reader." in output
    assert "a long enough secret" not in output
    with Session(engine) as session:
        [grant] = session.scalars(select(User)).one().grants
        assert grant.role is Role.READER and grant.territory_id is None


def test_users_create_refusals(pilote, engine):
    ok(pilote("db", "upgrade"))
    ok(pilote("seed", "empty"))
    base = ("users", "create", "--name", "Carol", "--role", "reader")
    fails(pilote(*base, "--email", "carol@example.org", "--password", "too short"),
          "at least 12 characters")
    fails(pilote(*base, "--email", "carol@example.org", "--password", "long enough pass",
                 "--territory", "region-99"), "unknown territory 'region-99'")
    fails(pilote(*base, "--email", "carol@example.org", "--password", "long enough pass",
                 "--territory", "84"), "unknown territory '84'")
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User)) == 0
    ok(pilote(*base, "--email", "carol@example.org", "--password", "long enough pass"))
    fails(pilote(*base, "--email", "CAROL@example.org", "--password", "another long one"),
          "a user with e-mail carol@example.org already exists")
    bad_role = pilote("users", "create", "--name", "D", "--role", "emperor", "--email", "d@example.org",
                      "--password", "long enough pass")
    assert bad_role.exit_code == 2 and "emperor" in bad_role.output
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User)) == 1


def test_users_create_before_upgrade_asks_to_run_db_upgrade(pilote, db_url):
    create_sqlite_folder(db_url)
    fails(pilote("users", "create", "--email", "e@example.org", "--name", "E", "--role", "reader",
                 "--password", "long enough pass"), "run `pilote db upgrade` first")


# -- instance ------------------------------------------------------------------------------------


def test_instance_check_passes_on_ditp(pilote, db_url):
    first = pilote("--instance", "ditp", "instance", "check")
    output = ok(first)
    assert "instance: ditp" in output and str(INSTANCES_DIR / "ditp" / "instance.toml") in output
    assert "plugins: " + ", ".join(DITP_ENABLED) in output
    assert "levels: nation, region, department" in output
    assert output.rstrip().endswith("Instance configuration is valid.")
    assert "warning: PILOTE_SECRET_KEY is not set" in first.stderr  # warnings go to stderr
    if db_url.startswith("sqlite:///"):  # its folder does not exist yet
        assert "warning: database not reachable" in first.stderr
        create_sqlite_folder(db_url)
        assert "warning: database not at heads" in ok_stderr(pilote("instance", "check"))
    else:
        assert "warning: database not at heads" in first.stderr

    ok(pilote("db", "upgrade"))
    after = pilote("instance", "check", PILOTE_SECRET_KEY="from-the-environment")  # default: ditp
    ok(after)
    assert after.stderr == ""


BROKEN = {
    "unknown-theme": ((('name = "dsfr"', 'name = "no-such-theme"'),),
                      "[theme] name: unknown theme 'no-such-theme' (available: "),
    "plugin-not-installed": (((ENABLED_LINE, 'enabled = ["visualisation", "nope", "cartographie"]'),),
                             "[plugins] enabled[1]: plugin 'nope' is not installed"),
    "plugin-setting": ((('[plugins.cartographie]', '[plugins.visualisation]\nsparkline_months = 1\n\n'
                                                   '[plugins.cartographie]'),),
                       "[plugins.visualisation] sparkline_months: "),
    "unknown-key": ((("[auth]", "[auth]\ntimeout = 3"),), "[auth] timeout: unknown key"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_instance_check_locates_the_problem(pilote, tmp_path, case):
    edits, message = BROKEN[case]
    copy = copy_instance(tmp_path, *edits)
    where = f"{(copy / 'instance.toml').resolve()}: "
    by_option = fails(pilote("--instance", str(copy), "instance", "check"), where + message)
    by_env = fails(pilote("instance", "check", PILOTE_INSTANCE=str(copy)), where + message)
    assert by_option == by_env
    assert "Instance configuration is valid." not in by_option


def test_instance_check_follows_the_selected_copy(pilote, tmp_path):
    copy = copy_instance(tmp_path, (ENABLED_LINE, 'enabled = ["datapass"]'), (CARTOGRAPHIE_TABLE, ""))
    for result in (pilote("instance", "check", PILOTE_INSTANCE=str(copy)),
                   pilote("--instance", str(copy / "instance.toml"), "instance", "check")):
        output = ok(result)
        assert f"instance: ditp ({(copy / 'instance.toml').resolve()})" in output
        assert "plugins: datapass\n" in output
    fails(pilote("--instance", str(tmp_path / "nowhere"), "instance", "check"), "no instance.toml here")


# -- run and worker (never actually serving) -----------------------------------------------------


@pytest.fixture
def served(monkeypatch):
    calls = []
    monkeypatch.setattr(flask.Flask, "run", lambda self, **kwargs: calls.append((self, kwargs)))
    return calls


def test_run_refuses_a_database_not_at_heads(pilote, served, db_url):
    create_sqlite_folder(db_url)
    fails(pilote("run", "--port", "5999"), "run `pilote db upgrade` first")
    assert served == []


def test_run_serves_once_the_database_is_at_heads(pilote, served):
    ok(pilote("db", "upgrade"))
    output = ok(pilote("run", "--port", "5999"))
    assert "on http://127.0.0.1:5999/" in output
    [(app, kwargs)] = served
    assert app.extensions["pilote"].config.slug == "ditp"
    assert kwargs["host"] == "127.0.0.1" and kwargs["port"] == 5999
    assert kwargs["debug"] is False and kwargs["use_reloader"] is False


def test_worker_needs_redis(pilote):
    pytest.importorskip("rq")
    fails(pilote("worker", "--burst"), "PILOTE_REDIS_URL is not set")

