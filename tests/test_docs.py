"""The documentation is tested like code: generated reference, examples, links.

* docs/instances.md carries the reference of every instance.toml key, generated from the schema
  by ``python -m core.docs_gen``; every key must have a description.
* The instance.toml examples of docs/instances.md load (``<!-- example: instance.toml -->`` for a
  complete file, ``<!-- example: instance.toml fragment -->`` for a part of the reference one).
* The error messages quoted by docs/instances.md are the ones the code prints.
* The minimal plugin of docs/plugins.md (``<!-- example: plugin <file> -->`` blocks) is installed
  in a temporary folder, enabled in an instance, and serves its page and its widget; its hook
  module also works as a test-only plugin (``make_app(extra_plugins=[module])``), and the tests
  the page shows for it pass.
* The lists the docs hold by hand (tokens, overridable templates, slots, bundled plugin settings)
  cover what the code has.
* Every relative link of docs/*.md reaches an existing file (and heading, for ``#anchors``).
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
import tomli_w
from marshmallow import fields

from core.app import create_app
from core.config import INSTANCES_DIR, InstanceSchema, load_instance_config
from core.docs_gen import KEY_DOCS, generated_block, instance_reference_markdown, reference_rows

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLE = re.compile(
    r"<!-- example: (?P<label>[^>]+?) -->\s*\n```(?P<lang>[\w-]*)\n(?P<code>.*?)\n```", re.S
)


def examples(doc: str, label: str) -> list[tuple[str, str]]:
    """``(label, code)`` of the blocks of ``docs/<doc>`` marked ``<!-- example: <label> -->``;
    a label ending with a space is a prefix (``"plugin "`` matches ``plugin notice/views.py``)."""
    text = (DOCS / doc).read_text(encoding="utf-8")
    return [(m["label"], m["code"] + "\n") for m in EXAMPLE.finditer(text)
            if m["label"] == label or (label.endswith(" ") and m["label"].startswith(label))]


# --------------------------------------------------------------------------- instance.toml reference
def test_generated_reference_is_up_to_date():
    current = generated_block((DOCS / "instances.md").read_text(encoding="utf-8"))
    assert current == instance_reference_markdown(), (
        "docs/instances.md's instance.toml reference is out of date: run python -m core.docs_gen"
    )


def test_every_key_has_a_description():
    missing = [row.location for row in reference_rows() if not row.doc.strip()]
    assert not missing, (
        f"instance.toml keys without a description: {missing}. Give the field "
        "metadata={'doc': '…'} in core/config.py or add the location to core.docs_gen.KEY_DOCS, "
        "then run python -m core.docs_gen"
    )


def _leaf_paths(schema, prefix=()):
    """Schema paths of every field that is not a table or an array of tables (walked here
    independently of core.docs_gen)."""
    for name, field in schema.fields.items():
        key = field.data_key or name
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            nested = inner.nested() if callable(inner.nested) and not isinstance(inner.nested, type) \
                else inner.nested
            yield from _leaf_paths(nested() if isinstance(nested, type) else nested, prefix + (key,))
        else:
            yield prefix + (key,)


def test_every_leaf_field_is_in_the_reference():
    markdown = instance_reference_markdown()
    rows = {tuple(p for p in row.path if not p.startswith("<")): row for row in reference_rows()}
    leaves = list(_leaf_paths(InstanceSchema()))
    assert len(leaves) >= 20
    for path in leaves:
        assert path in rows, f"{'.'.join(path)} is missing from the generated reference"
        assert f"`{rows[path].location}`" in markdown, rows[path].location


def test_key_docs_has_no_stale_entry():
    used = {row.location for row in reference_rows() if row.doc_source == "KEY_DOCS"}
    stale = sorted(set(KEY_DOCS) - used)
    assert not stale, f"core.docs_gen.KEY_DOCS documents keys that no longer exist (or have metadata docs): {stale}"


def test_generator_handles_every_shape():
    """Tables in tables, arrays of tables, inline tables in arrays, free-form tables."""
    from marshmallow import Schema, validate

    class Leaf(Schema):
        x = fields.Integer(validate=validate.Range(min=0))
        tags = fields.Dict(keys=fields.String(), values=fields.String())

    class Mid(Schema):
        sub = fields.Nested(Leaf)
        items = fields.List(fields.Nested(Leaf), required=True)

    class Top(Schema):
        a = fields.Nested(Mid)
        arr = fields.List(fields.Nested(Mid))
        top = fields.String(validate=validate.Length(equal=3))

    rows = {row.location: row for row in reference_rows(Top())}
    assert {"[a]", "[a.sub]", "[a.sub] x", "[a.sub.tags] <key>", "[[a.items]]", "[[a.items]] x",
            "[[arr]]", "[[arr]] sub.x", "[[arr]] items", "[[arr]] items[].x",
            "[[arr]] items[].tags.<key>", "top"} <= set(rows)
    assert rows["[a.sub] x"].allowed == "at least `0`"
    assert rows["top"].allowed == "exactly 3 characters"
    assert rows["[[a.items]]"].required


# --------------------------------------------------------------------------- instance.toml examples
def _write_instance(tmp_path: Path, data: dict | str) -> Path:
    """A copy of instances/ditp (seed, templates…) named after the slug, with this instance.toml."""
    text = data if isinstance(data, str) else tomli_w.dumps(data)
    slug = tomllib.loads(text)["instance"]["slug"]
    folder = tmp_path / slug
    shutil.copytree(INSTANCES_DIR / "ditp", folder)
    (folder / "instance.toml").write_text(text, encoding="utf-8")
    return folder / "instance.toml"


def _merge(base: dict, fragment: dict) -> dict:
    """``fragment`` over ``base``: tables merge, everything else (arrays included) replaces."""
    out = dict(base)
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _ditp() -> dict:
    return tomllib.loads((INSTANCES_DIR / "ditp" / "instance.toml").read_text(encoding="utf-8"))


COMPLETE = examples("instances.md", "instance.toml")
FRAGMENTS = examples("instances.md", "instance.toml fragment")


def test_instances_doc_has_examples():
    assert len(COMPLETE) >= 1 and len(FRAGMENTS) >= 5


def _boots(path: Path) -> None:
    """Start-up validates what load_instance_config does not: the plugins' settings."""
    create_app(path, settings={"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})


@pytest.mark.parametrize("code", [c for _, c in COMPLETE], ids=lambda c: tomllib.loads(c)["instance"]["slug"])
def test_complete_instance_example_is_valid(tmp_path, code):
    path = _write_instance(tmp_path, code)
    config = load_instance_config(path)
    assert config.slug == tomllib.loads(code)["instance"]["slug"]
    _boots(path)


@pytest.mark.parametrize("code", [c for _, c in FRAGMENTS], ids=lambda c: ",".join(tomllib.loads(c)))
def test_instance_fragment_is_valid(tmp_path, monkeypatch, code):
    for name in re.findall(r'env = "([A-Z0-9_]+)"', code):  # the secrets the fragment names
        monkeypatch.setenv(name, "sqlite://" if "DATABASE" in name else "secret")
    fragment = tomllib.loads(code)
    merged = _merge(_ditp(), fragment)
    merged["instance"]["slug"] = "ditp"
    path = _write_instance(tmp_path, merged)
    config = load_instance_config(path)
    for key in fragment:
        assert key in config.data
    _boots(path)


def test_bundled_plugin_settings_are_documented():
    """The hand-written table of docs/instances.md lists every setting of the bundled plugins."""
    from core.plugins import installed_plugins

    text = (DOCS / "instances.md").read_text(encoding="utf-8")
    bundled = {n: ep for n, ep in installed_plugins().items() if ep.value.startswith("plugins.")}
    assert bundled
    for name, ep in bundled.items():
        module = ep.load()
        if not hasattr(module, "declare_settings"):
            continue
        schema = module.declare_settings()
        schema = schema() if isinstance(schema, type) else schema
        for key, field in schema.fields.items():
            location = f"`[plugins.{name}] {field.data_key or key}`"
            assert location in text, f"docs/instances.md: add {location} to 'Settings of the bundled plugins'"


# The located errors docs/instances.md quotes, and the edits of instances/ditp that produce them.
QUOTED_ERRORS = [
    [('name = "Pilote"', 'name "Pilote"')],
    [('slug = "occitanie"', 'slug = "ditp"')],
    [('timezone = "Europe/Paris"', 'timezone = "Europe/Paris"\ncolour = "red"')],
    [('default_locale = "fr"', 'default_locale = "de"')],
    [('name = "dsfr"\n', 'name = "fancy"\n')],
    [('"cartographie", "datapass"', '"cartographi", "datapass"')],
    [('enabled = ["visualisation", "cartographie", "datapass", "barometre"]',
      'enabled = ["visualisation", "datapass", "barometre"]')],
    [(None, '\n[plugins.visualisation]\nsparkline_months = 1000\n')],
    [('{ key = "region", label = { fr = "Région", en = "Region" }, parent = "nation" }',
      '{ key = "region", parent = "nation" }')],
    [('parent = "region" }', 'parent = "regoin" }')],
    [('{ key = "nation", label = { fr = "National", en = "National" } },',
      '{ key = "nation", label = { fr = "National", en = "National" } },\n'
      '  { key = "canton", label = "Canton", parent = "nation" },')],
    [('key = "priority_policy"', 'key = "Priority policy"')],
    [('session_lifetime_hours = 12', 'session_lifetime_hours = 100')],
]


@pytest.mark.parametrize("edits", QUOTED_ERRORS, ids=lambda e: e[0][1].strip().split("\n")[-1][:30])
def test_quoted_errors_are_the_real_messages(edits, tmp_path, monkeypatch):
    """The examples of "Checking an instance" are what the code prints today."""
    import core.config
    from core.config import ConfigError
    from core.plugins import PluginError

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(core.config, "INSTANCES_DIR", (tmp_path / "instances").resolve())
    folder = tmp_path / "instances" / "occitanie"
    shutil.copytree(INSTANCES_DIR / "ditp", folder)
    text = (INSTANCES_DIR / "ditp" / "instance.toml").read_text(encoding="utf-8")
    text = text.replace('slug = "ditp"', 'slug = "occitanie"')
    for old, new in edits:
        if old is None:
            text += new
        else:
            assert old in text, f"instances/ditp/instance.toml changed: {old!r} not found"
            text = text.replace(old, new, 1)
    (folder / "instance.toml").write_text(text, encoding="utf-8")
    with pytest.raises((ConfigError, PluginError)) as info:
        create_app("instances/occitanie", settings={"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    doc = (DOCS / "instances.md").read_text(encoding="utf-8")
    first = str(info.value).splitlines()[0]
    assert f"Error: {first}\n" in doc, f"docs/instances.md should quote the real message:\nError: {first}"


# --------------------------------------------------------------------------- themes and slots
def test_themes_doc_lists_base_tokens_and_overridable_templates():
    from core.themes import OVERRIDABLE_PAGES, OVERRIDABLE_PREFIXES, load_theme

    text = (DOCS / "themes.md").read_text(encoding="utf-8")
    for token in load_theme("base").tokens:
        assert f"| `{token}` |" in text, f"docs/themes.md: the token {token!r} of base is not documented"
    for prefix in OVERRIDABLE_PREFIXES:
        assert f"| `{prefix}` |" in text, f"docs/themes.md: overridable folder {prefix!r} not documented"
    for page in OVERRIDABLE_PAGES:
        assert f"`{page}`" in text, f"docs/themes.md: overridable page {page!r} not documented"


def test_template_override_examples_work(make_app, tmp_path):
    """The two overrides of docs/themes.md, put in an instance's templates/, render."""
    from core.testing.pytest_plugin import seed_reference

    blocks = examples("themes.md", "template ")
    assert {label for label, _ in blocks} == {"template pages/home.html", "template layout/base.html"}
    folder = tmp_path / "ditp"
    shutil.copytree(INSTANCES_DIR / "ditp", folder)
    for label, code in blocks:
        target = folder / "templates" / label.split(" ", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code, encoding="utf-8")
    app = make_app(folder)
    with app.app_context():
        seed_reference(app)
    home = app.test_client().get("/")
    html = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "Les données de mars sont en cours de consolidation." in html  # pages/home.html
    assert '<footer class="site-footer" role="contentinfo">…</footer>' in html  # layout/base.html
    assert 'class="skip-links"' in html  # the rest of the base skeleton is kept


def test_plugins_doc_lists_every_slot():
    from core.slots import SLOTS

    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", text, flags=re.M))
    assert documented >= set(SLOTS), f"docs/plugins.md: slots not documented: {set(SLOTS) - documented}"


# --------------------------------------------------------------------------- the example plugin
PLUGIN_FILES = examples("plugins.md", "plugin ")


@pytest.fixture
def notice_project(tmp_path, monkeypatch):
    """The example plugin's project written out and "installed": on sys.path, with a
    ``.dist-info`` holding the entry points of its setup.cfg (as ``pip install -e`` would)."""
    project = tmp_path / "notice-project"
    files = {label.split(" ", 1)[1]: code for label, code in PLUGIN_FILES}
    for name, code in files.items():
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code, encoding="utf-8")
    setup = configparser.ConfigParser()
    setup.read_string(files["setup.cfg"])
    dist = project / f"{setup['metadata']['name'].replace('-', '_')}-{setup['metadata']['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {setup['metadata']['name']}\nVersion: {setup['metadata']['version']}\n"
    )
    (dist / "entry_points.txt").write_text(
        "[pilote.plugins]\n" + setup["options.entry_points"]["pilote.plugins"].strip() + "\n"
    )
    packages = {name.split("/", 1)[0] for name in files if "/" in name and not name.startswith("tests/")}
    monkeypatch.syspath_prepend(str(project))
    yield project
    for module in [m for m in sys.modules if m.split(".")[0] in packages]:
        del sys.modules[module]


def test_plugins_doc_has_a_complete_example():
    labels = {label for label, _ in PLUGIN_FILES}
    assert {"plugin notice/__init__.py", "plugin notice/plugin.py", "plugin setup.cfg",
            "plugin instance.toml", "plugin tests/test_notice.py"} <= labels


def test_example_plugin_installed_is_not_enabled(notice_project, make_app):
    from core.plugins import installed_plugins

    assert "notice" in installed_plugins()
    app = make_app("ditp")
    assert app.extensions["pilote"].pm.get_plugin("notice") is None
    assert app.test_client().get("/notice/").status_code == 404


def test_example_plugin_serves_its_page_and_widget(notice_project, make_app, tmp_path):
    from core.testing.pytest_plugin import seed_reference

    fragment = tomllib.loads((notice_project / "instance.toml").read_text(encoding="utf-8"))
    message = fragment["plugins"]["notice"]["message"]
    app = make_app(_write_instance(tmp_path / "instance", _merge(_ditp(), fragment)))
    assert app.extensions["pilote"].config.enabled_plugins[0] == "notice"
    with app.app_context():
        seed_reference(app)
    client = app.test_client()

    page = client.get("/notice/")
    assert page.status_code == 200
    assert message.replace("'", "&#39;") in page.get_data(as_text=True)

    home = client.get("/").get_data(as_text=True)
    assert message.replace("'", "&#39;") in home and 'href="/notice/"' in home
    assert f'class="alert alert--{fragment["plugins"]["notice"]["kind"]}"' in home


def test_example_plugin_as_extra_plugin(notice_project, make_app):
    """The hook module alone, exec'd into a module object, works as a test-only plugin.

    Extra plugins get no [plugins.<name>] table (plugin_settings() is empty for them), so only
    the page, which copes with an empty notice, is requested."""
    module = types.ModuleType("notice")  # registered under its __name__, the plugin's name
    code = (notice_project / "notice" / "plugin.py").read_text(encoding="utf-8")
    exec(compile(code, "docs/plugins.md:notice/plugin.py", "exec"), module.__dict__)
    app = make_app("ditp", extra_plugins=[module])
    assert app.extensions["pilote"].pm.get_plugin("notice") is module
    assert "notice.box" in app.extensions["pilote"].widgets
    page = app.test_client().get("/notice/")
    assert page.status_code == 200
    assert "Aucune annonce pour le moment." in page.get_data(as_text=True)


def test_example_plugin_settings_are_validated(notice_project, make_app, tmp_path):
    from core.config import ConfigError

    ditp = _ditp()
    data = _merge(ditp, {"plugins": {"enabled": ["notice", *ditp["plugins"]["enabled"]],
                                     "notice": {"kind": "loud"}}})
    with pytest.raises(ConfigError, match=r"\[plugins.notice\] kind: Must be one of: info, warning."):
        make_app(_write_instance(tmp_path, data))


def test_example_plugin_own_tests_pass(notice_project):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(notice_project), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_notice.py"],
        cwd=notice_project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


# --------------------------------------------------------------------------- links
LINK = re.compile(r"(?<!!)\[[^\]]+\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


@pytest.mark.parametrize("doc", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        if not file.exists():
            broken.append(f"{target} (no file {file})")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{target} (no heading #{anchor} in {file.name})")
    assert not broken, f"{doc.name}: broken links: {broken}"
