"""Contracts between the core and its plugins, checked for every installed plugin.

* imports: the core never imports a plugin; a plugin imports only ``core.api`` from the core and
  never another plugin (read from the source with ``ast``, nothing is executed);
* names: entry point, package folder, ``PLUGIN.name``, blueprints, URLs, templates, static
  files and translation catalogs all carry the plugin's name;
* routes: every view declares its permission (``public``, ``requires``…) and, on the demo
  data, no page answers 500 and protected pages refuse whoever may not see them;
* migrations: one Alembic branch per plugin, based on a core revision;
* hooks: every hook implementation matches a spec.

Plugin modules are imported inside the tests only (collection just reads the entry points).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import itertools
import re
from pathlib import Path

import pytest
from flask import Blueprint
from sqlalchemy import select

import core
from core.plugins import build_plugin_manager, hooks_implemented, hookimpl, installed_plugins

PLUGINS = sorted(installed_plugins())
CORE_DIR = Path(core.__file__).resolve().parent
NAME = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Extra core modules a plugin may import, by kind of file (everything else: core.api only).
ALLOWED_CORE = {
    "code": ("core.api",),
    "tests": ("core.api", "core.testing"),
    # Alembic renders `import core.db` in every revision (core/migrations/script.py.mako)
    "migrations": ("core.api", "core.db"),
}


def test_there_are_plugins_to_check():
    assert {"visualisation", "cartographie", "datapass"} <= set(PLUGINS)


# -- locating plugins and reading imports -----------------------------------------------------


def plugin_package(name: str) -> tuple[str, Path]:
    """(package name, package folder) of the plugin whose entry point is ``name``."""
    module = installed_plugins()[name].value.split(":")[0]
    package = module.rpartition(".")[0] or module
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin, f"plugin {name!r}: package {package!r} not found"
    return package, Path(spec.origin).resolve().parent


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def module_package(path: Path, root: Path, root_package: str) -> str:
    """The package a file's relative imports start from."""
    parts = list(path.relative_to(root).parent.parts)
    return ".".join([root_package, *parts])


def imports(path: Path, package: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """``(line, absolute module, names)`` for every import of a file, relative ones resolved,
    plus ``importlib.import_module("…")`` / ``__import__("…")`` calls with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, module, tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value, ()))
    return found


def targets(module: str, names: tuple[str, ...]) -> set[str]:
    """What an import may load: the module, and ``module.name`` for each imported name."""
    return {module, *(f"{module}.{n}" for n in names if n != "*")}


def within(target: str, package: str) -> bool:
    return target == package or target.startswith(package + ".")


def core_import_problems(path: Path, package: str, plugin_packages: set[str]) -> list[str]:
    problems = []
    for line, module, names in imports(path, package):
        for target in targets(module, names):
            if within(target, "plugins") or any(within(target, p) for p in plugin_packages):
                problems.append(f"{path}:{line}: the core imports {target}")
    return problems


def plugin_import_problems(path: Path, package: str, own: str, other_packages: set[str],
                           kind: str = "code") -> list[str]:
    problems = []
    allowed = ALLOWED_CORE[kind]
    for line, module, names in imports(path, package):
        where = f"{path}:{line}"
        if module == "core":
            bad = [n for n in names if n != "api"] or (["(the package)"] if not names else [])
            problems.extend(f"{where}: `core.{n}` must come through core.api" for n in bad)
        elif within(module, "core") and not any(within(module, a) for a in allowed):
            problems.append(f"{where}: imports {module} (plugins import core.api only)")
        hits = sorted(t for t in targets(module, names) if any(within(t, o) for o in other_packages))
        if hits:
            problems.append(f"{where}: imports another plugin ({hits[0]})")
    return problems


def file_kind(path: Path, folder: Path) -> str:
    parts = path.relative_to(folder).parts
    if parts[0] == "tests" or path.name == "conftest.py" or path.name.startswith("test_"):
        return "tests"
    return "migrations" if parts[0] == "migrations" else "code"


def all_plugin_packages() -> dict[str, str]:
    return {name: plugin_package(name)[0] for name in PLUGINS}


# -- import rules --------------------------------------------------------------------------------


def test_core_never_imports_a_plugin():
    packages = set(all_plugin_packages().values())
    files = python_files(CORE_DIR)
    assert CORE_DIR / "app.py" in files and len(files) > 20
    problems = []
    for path in files:
        problems += core_import_problems(path, module_package(path, CORE_DIR, "core"), packages)
    assert problems == []


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_imports_core_api_only_and_no_other_plugin(name):
    package, folder = plugin_package(name)
    others = set(all_plugin_packages().values())
    files = python_files(folder)
    assert folder / "__init__.py" in files
    problems = []
    for path in files:
        problems += plugin_import_problems(path, module_package(path, folder, package), package,
                                           others - {package}, file_kind(path, folder))
    assert problems == []


SNIPPETS = {
    "from core.api import Policy, hookimpl\nfrom . import views\nfrom .views import bp\n": 0,
    "from core import api\nimport core.api\nfrom plugins.toy.views import bp\n": 0,
    "from core import __version__\n": 1,
    "import core\n": 1,
    "from core.models import Policy\n": 1,
    "from core.db import session\n": 1,
    "from plugins.datapass.views import bp\n": 1,
    "from plugins import datapass\n": 1,
    "from ..datapass import plugin\n": 1,
    "import plugins.datapass.plugin\n": 1,
    "import importlib\nimportlib.import_module('plugins.datapass.views')\n": 1,
}


@pytest.mark.parametrize("source", SNIPPETS)
def test_the_import_checker_catches_violations(tmp_path, source):
    path = tmp_path / "module.py"
    path.write_text(source, encoding="utf-8")
    problems = plugin_import_problems(path, "plugins.toy", "plugins.toy", {"plugins.datapass"})
    assert len(problems) == SNIPPETS[source], problems
    in_core = core_import_problems(path, "core.views", {"plugins.datapass"})
    assert bool(in_core) == ("plugins" in source), in_core


def test_migrations_of_a_plugin_may_import_core_db_only_there(tmp_path):
    path = tmp_path / "rev.py"
    path.write_text("import core.db\n", encoding="utf-8")
    assert plugin_import_problems(path, "p", "p", set(), "migrations") == []
    assert plugin_import_problems(path, "p", "p", set(), "code") != []


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PLUGINS)
def test_entry_point_package_and_plugin_info_agree(name):
    from packaging.specifiers import SpecifierSet

    from core.api import PluginInfo, __version__
    from core.plugins import plugin_info

    package, folder = plugin_package(name)
    assert NAME.match(name), f"{name!r}: lowercase letters, digits and _ (usable in [plugins] enabled)"
    assert folder.name == name
    info = importlib.import_module(package).PLUGIN
    assert isinstance(info, PluginInfo) and info.name == name
    assert plugin_info(installed_plugins()[name].load(), name) is info
    assert info.label and info.version and info.description
    assert info.requires_core, f"{name}: PLUGIN.requires_core must say which cores it supports"
    assert __version__ in SpecifierSet(info.requires_core), (info.requires_core, __version__)


@pytest.mark.parametrize("name", PLUGINS)
def test_blueprints_and_urls_are_named_after_the_plugin(make_app, name):
    bare = make_app(plugins=[])
    app = make_app(plugins=[name])
    _, folder = plugin_package(name)
    added = {bp_name: bp for bp_name, bp in app.blueprints.items() if bp_name not in bare.blueprints}
    for bp_name, bp in added.items():
        assert bp_name == name or bp_name.startswith(name + "_"), bp_name
        if bp.template_folder:
            assert Path(bp.root_path, bp.template_folder).resolve() == folder / "templates"
        if bp.static_folder:
            assert Path(bp.static_folder).resolve() == folder / "static"
    before = {(rule.rule, rule.endpoint) for rule in bare.url_map.iter_rules()}
    new_rules = [r for r in app.url_map.iter_rules() if (r.rule, r.endpoint) not in before]
    for rule in new_rules:
        assert rule.rule == f"/{name}" or rule.rule.startswith(f"/{name}/"), rule.rule
        assert rule.endpoint.partition(".")[0] in added, f"{rule.rule}: not from {name}'s blueprints"
    assert {r.rule for r in bare.url_map.iter_rules()} <= {r.rule for r in app.url_map.iter_rules()}
    if added:
        assert new_rules, f"{name}: blueprints without routes"


def rendered_templates(path: Path) -> list[tuple[int, str]]:
    """Literal template names passed to render_template / get_template in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("render_template", "get_template", "select_template", "stream_template"):
                out.append((node.lineno, node.args[0].value))
    return out


@pytest.mark.parametrize("name", PLUGINS)
def test_templates_and_static_files_live_under_the_plugin_name(make_app, name):
    _, folder = plugin_package(name)
    for kind in ("templates", "static"):
        root = folder / kind
        files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        misplaced = [str(p.relative_to(root)) for p in files if p.relative_to(root).parts[0] != name]
        assert misplaced == [], f"{name}: {kind} outside {kind}/{name}/"
    for path in python_files(folder):
        for line, template in rendered_templates(path):
            assert template.startswith(f"{name}/"), f"{path}:{line}: {template}"
            assert (folder / "templates" / template).is_file(), f"{path}:{line}: {template} missing"
    widgets = make_app(plugins=[name]).extensions["pilote"].widgets
    for key, widget in widgets.items():
        if key.startswith(name + "."):
            assert widget.template.startswith(f"{name}/"), (key, widget.template)
            assert (folder / "templates" / widget.template).is_file(), widget.template


@pytest.mark.parametrize("name", PLUGINS)
def test_translations_have_a_catalog_per_locale_named_after_the_plugin(name):
    from babel.messages.pofile import read_po

    _, folder = plugin_package(name)
    translations = folder / "translations"
    for locale in ("fr", "en"):
        po = translations / locale / "LC_MESSAGES" / f"{name}.po"
        assert po.is_file(), f"{name}: missing {po.relative_to(folder)}"
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale, domain=name)
        assert str(catalog.locale) == locale
    strays = [p.name for p in translations.rglob("*.po") if p.stem != name]
    assert strays == [], f"{name}: catalogs of another domain are never loaded: {strays}"


# -- route audit ---------------------------------------------------------------------------------

MARKERS = {"public", "authenticated"}


def permission_marker(view) -> str | None:
    """The ``pilote_permission`` of a view, looking through its decorators."""
    for layer in (view, getattr(view, "view_class", None)):
        while layer is not None:
            marker = getattr(layer, "pilote_permission", None)
            if marker:
                return marker
            layer = getattr(layer, "__wrapped__", None)
    return None


def is_flask_static(endpoint: str, view) -> bool:
    return (endpoint == "static" or endpoint.endswith(".static")) and \
        getattr(view, "__name__", "") == "send_static_file"


def permission_problems(app) -> list[str]:
    actions = app.extensions["pilote"].actions
    problems = []
    for endpoint, view in sorted(app.view_functions.items()):
        if is_flask_static(endpoint, view):
            continue
        marker = permission_marker(view)
        if marker is None:
            problems.append(f"{endpoint}: no permission declared (use public or requires)")
        elif marker not in MARKERS and marker not in actions:
            problems.append(f"{endpoint}: unknown action {marker!r}")
    return problems


def test_every_endpoint_declares_its_permission(make_app):
    app = make_app(plugins=PLUGINS)
    assert permission_problems(app) == []
    endpoints = {e.partition(".")[0] for e in app.view_functions}
    assert {"core", "auth", "assets"} <= endpoints
    if "datapass" in PLUGINS:
        assert permission_marker(app.view_functions["datapass.status"]) == "datapass.status"


class Unmarked:
    """A test plugin whose views forget to declare their permission, or name a wrong action."""

    name = "unmarked"

    @hookimpl
    def register_blueprints(self, app):
        from core.api import public, requires

        bp = Blueprint("unmarked", __name__, url_prefix="/unmarked", static_folder="static")
        bp.add_url_rule("/naked", "naked", lambda: "x")
        bp.add_url_rule("/typo", "typo", requires("unmarked.no_such_action")(lambda: "x"))
        bp.add_url_rule("/open", "open", public(lambda: "x"))
        return bp


def test_the_permission_audit_catches_undeclared_views(make_app):
    app = make_app(plugins=[], extra_plugins=[Unmarked()])
    assert "unmarked.static" in app.view_functions  # Flask's own static view: not audited
    assert permission_problems(app) == [
        "unmarked.naked: no permission declared (use public or requires)",
        "unmarked.typo: unknown action 'unmarked.no_such_action'",
    ]


def demo_arguments(app) -> dict[str, list[str]]:
    """Values for the URL variables of the demo: real ones, plus one that does not exist."""
    from core.api import Indicator, Policy, PolicyStatus, db_session

    session = db_session()
    policies, statuses = [], set()
    for status, is_public in itertools.product(PolicyStatus, (True, False)):
        code = session.scalar(select(Policy.code).where(Policy.status == status,
                                                        Policy.is_public.is_(is_public)).limit(1))
        if code:
            policies.append(code)
            statuses.add(status)
    assert statuses == set(PolicyStatus), policies  # one of each: published, draft, archived
    indicators = [session.scalar(select(Indicator.code).join(Policy).where(Policy.code == code)
                                 .order_by(Indicator.code).limit(1)) for code in policies]
    theme = app.extensions["pilote"].themes[0].static
    css = sorted(str(p.relative_to(theme)) for p in theme.rglob("*.css"))
    return {
        "code": [*policies, *indicators, "NOPE-0"],
        "level": [*app.extensions["pilote"].config.level_keys, "nope"],
        "kind": ["theme", "instance", "core"],
        "filename": [*css[:1], "missing.css", "../instance.toml"],
        # identity pages: a demo user, an e-mail, an unknown provider, a forged reset token
        "user_id": [1, 999999], "message_id": [1, 999999], "provider_key": ["nope"],
        "token": ["not-a-token"],
        "comment_id": [1, 999999],  # question threads (/questions/<id>)
    }


QUERIES = [{}, {"territoire": "department-69"}, {"territoire": "nation-FR"}]


def audited_urls(app) -> tuple[list[tuple[str, str]], list[str]]:
    """``(endpoint, url)`` for every GET route, with demo values for its variables."""
    values = demo_arguments(app)
    adapter = app.url_map.bind("localhost")
    urls, problems = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or is_flask_static(rule.endpoint, app.view_functions[rule.endpoint]):
            continue
        variables = sorted(rule.arguments - set(rule.defaults or {}))
        unknown = [v for v in variables if v not in values]
        if unknown:
            problems.append(f"{rule.rule}: no demo value for {unknown} (add some to demo_arguments)")
            continue
        for combo in itertools.product(*(values[v] for v in variables)):
            args = dict(zip(variables, combo))
            try:
                path = adapter.build(rule.endpoint, args)
            except Exception:  # noqa: BLE001 - a value its converter refuses (e.g. any(...))
                continue
            for query in QUERIES:
                qs = "&".join(f"{k}={v}" for k, v in query.items())
                urls.append((rule.endpoint, path + ("?" + qs if qs else "")))
    return sorted(set(urls)), problems


def fetch(client, url: str) -> int | str:
    """The status code; an exception (TESTING propagates them) counts as a server error."""
    try:
        return client.get(url).status_code
    except Exception as exc:  # noqa: BLE001
        return f"500 {exc.__class__.__name__}: {exc}"


def server_error(status: int | str) -> bool:
    return isinstance(status, str) or status >= 500


@pytest.fixture(scope="module")
def audit(demo_app):
    """Each GET URL of the demo fetched as anonymous, reader and admin."""
    from core.api import User, can, db_session
    from core.testing.pytest_plugin import login

    with demo_app.app_context():
        urls, problems = audited_urls(demo_app)
    clients = {"anonymous": demo_app.test_client()}
    allowed = {}
    for role in ("reader", "admin"):
        email = f"{role}@demo.pilote.example"
        clients[role] = demo_app.test_client()
        assert login(clients[role], email).status_code == 302, role
        with demo_app.test_request_context():
            user = db_session().scalar(select(User).where(User.email == email))
            actions = demo_app.extensions["pilote"].actions
            allowed[role] = {a for a in actions if can(a, user=user)}
    statuses = {(who, url): fetch(client, url)
                for who, client in clients.items() for _, url in urls}
    markers = {endpoint: permission_marker(demo_app.view_functions[endpoint]) for endpoint, _ in urls}
    return urls, problems, statuses, markers, allowed


def test_audit_reaches_every_get_route(audit, demo_app):
    urls, problems, statuses, _, _ = audit
    assert problems == []
    audited = {endpoint for endpoint, _ in urls}
    for rule in demo_app.url_map.iter_rules():
        if "GET" in rule.methods and not is_flask_static(rule.endpoint, demo_app.view_functions[rule.endpoint]):
            assert rule.endpoint in audited, rule.rule
    # the demo values are real: some pages with variables do render
    assert statuses[("anonymous", "/")] == 200
    for endpoint in ("core.policy", "visualisation.trajectory", "cartographie.territories"):
        if endpoint.partition(".")[0] in demo_app.blueprints:
            assert any(statuses[("reader", url)] == 200 for e, url in urls if e == endpoint), endpoint


@pytest.mark.parametrize("who", ["anonymous", "reader", "admin"])
def test_no_page_fails(audit, who):
    urls, _, statuses, _, _ = audit
    failing = [f"{url} -> {statuses[(who, url)]}" for _, url in urls if server_error(statuses[(who, url)])]
    assert failing == [], f"{who}: server errors on {failing}"


def test_protected_pages_refuse_who_may_not_see_them(audit):
    urls, _, statuses, markers, allowed = audit
    protected = [(e, url) for e, url in urls if markers[e] != "public"]
    if "datapass" in PLUGINS:
        assert ("datapass.status", "/datapass/") in protected
    problems = []
    for endpoint, url in protected:
        action = markers[endpoint]
        if statuses[("anonymous", url)] not in (302, 401):
            problems.append(f"anonymous on {url}: {statuses[('anonymous', url)]}")
        for who in ("reader", "admin"):
            may = action == "authenticated" or action in allowed[who]
            status = statuses[(who, url)]
            if (may and status in (401, 403)) or (not may and status != 403):
                problems.append(f"{who} on {url} ({action}, allowed={may}): {status}")
    assert problems == []


def test_anonymous_is_sent_to_the_login_page(demo_app):
    protected = [e for e, v in demo_app.view_functions.items()
                 if permission_marker(v) not in (None, "public", "authenticated")]
    client = demo_app.test_client()
    for endpoint in protected:
        rule = next((r for r in demo_app.url_map.iter_rules(endpoint) if "GET" in r.methods), None)
        if rule is None or rule.arguments:  # POST-only endpoints are covered by test_permission_matrix
            continue
        response = client.get(rule.rule)
        assert response.status_code == 302 and "/connexion?next=" in response.location, rule.rule


# -- migrations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PLUGINS)
def test_plugin_migrations_are_one_branch_based_on_core(name):
    from alembic.script import ScriptDirectory

    from core.migrate import MIGRATIONS, alembic_config, plugin_migration_dirs

    folder = plugin_migration_dirs().get(name)
    assert folder is not None, f"{name}: no migrations/versions folder"
    assert folder.resolve() == plugin_package(name)[1] / "migrations" / "versions"
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    every = list(script.walk_revisions())
    core_revs = {r.revision for r in every if Path(r.path).resolve().parent == (MIGRATIONS / "versions").resolve()}
    mine = {r.revision: r for r in every if Path(r.path).resolve().parent == folder.resolve()}
    assert mine, f"{name}: no revision"
    bases = [r for r in mine.values() if not r.down_revision]
    assert len(bases) == 1, f"{name}: one base revision, found {[r.revision for r in bases]}"
    base = bases[0]
    assert set(base.branch_labels) == {name}
    deps = base.dependencies or ()
    deps = (deps,) if isinstance(deps, str) else tuple(deps)
    assert deps and set(deps) <= core_revs, f"{name}: its base must depend on a core revision: {deps}"
    for rev in mine.values():  # every revision of the folder descends from the base, in the folder
        downs = rev.down_revision or ()
        downs = (downs,) if isinstance(downs, str) else tuple(downs)
        assert rev is base or (downs and set(downs) <= set(mine)), rev.revision
        assert not rev.branch_labels or set(rev.branch_labels) == {name}, rev.revision
    heads = [r for r in mine.values() if not any(r.revision in _downs(o) for o in mine.values())]
    assert len(heads) == 1, f"{name}: one head, found {[r.revision for r in heads]}"
    outside = [r.revision for r in every if r.revision not in mine and name in (r.branch_labels or ())]
    assert outside == []


def _downs(rev) -> tuple[str, ...]:
    downs = rev.down_revision or ()
    return (downs,) if isinstance(downs, str) else tuple(downs)


# -- hooks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PLUGINS)
def test_every_hook_implementation_matches_a_spec(name):
    from core import hookspecs

    pm = build_plugin_manager([name])
    pm.check_pending()
    module = installed_plugins()[name].load()
    specs = {n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "pilote_spec")}
    own = {n: f for n, f in inspect.getmembers(module, inspect.isfunction) if f.__module__ == module.__name__}
    marked = {(f.pilote_impl.get("specname") or n) for n, f in own.items() if hasattr(f, "pilote_impl")}
    assert marked and marked <= specs
    assert set(hooks_implemented(pm, name)) == marked
    forgotten = sorted(n for n, f in own.items() if n in specs and not hasattr(f, "pilote_impl"))
    assert forgotten == [], f"{name}: hook functions without @hookimpl are never called: {forgotten}"


def test_check_pending_catches_a_misspelt_hook():
    from pluggy import PluginValidationError

    class Typo:
        name = "typo"

        @hookimpl
        def register_blueprint(self, app):  # register_blueprints
            return None

    with pytest.raises(PluginValidationError, match="register_blueprint"):
        build_plugin_manager([], extra_plugins=[Typo()])
