"""Every hook spec is documented in its docstring and in docs/hooks.md, with its exact signature."""

import inspect
import re
from pathlib import Path

import pytest

from core import hookspecs

DOC = (Path(__file__).resolve().parents[1] / "docs" / "hooks.md").read_text(encoding="utf-8")
SPECS = [fn for _, fn in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(fn, "pilote_spec")]
KINDS = ("Collect", "Firstresult", "Vote", "Notify")


def test_there_are_hook_specs():
    assert len(SPECS) >= 10


@pytest.mark.parametrize("spec", SPECS, ids=lambda f: f.__name__)
def test_spec_docstring_states_kind_and_timing(spec):
    doc = inspect.getdoc(spec) or ""
    assert doc.startswith(KINDS), f"{spec.__name__}: docstring must start with its kind"
    firstresult = spec.pilote_spec.get("firstresult", False)
    assert firstresult == doc.startswith("Firstresult"), spec.__name__
    assert re.search(r"\b(at|when|during|after|once)\b", doc), f"{spec.__name__}: say when it is called"


@pytest.mark.parametrize("spec", SPECS, ids=lambda f: f.__name__)
def test_spec_is_in_docs_with_exact_signature(spec):
    signature = f"## `{spec.__name__}({', '.join(inspect.signature(spec).parameters)})`"
    assert signature in DOC, f"docs/hooks.md lacks the heading {signature}"
    section = DOC.split(signature, 1)[1].split("\n## ", 1)[0]
    assert inspect.getdoc(spec).split("\n")[0] in section, f"{spec.__name__}: docs out of date"


def test_no_documented_hook_is_gone():
    documented = set(re.findall(r"^## `(\w+)\(", DOC, flags=re.M))
    assert documented == {fn.__name__ for fn in SPECS}


def test_core_calls_every_hook():
    """A spec nobody calls is dead: each one must be invoked somewhere in the core."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (Path(hookspecs.__file__).parent).rglob("*.py")
                       if p.name != "hookspecs.py")
    for spec in SPECS:
        name = spec.__name__
        assert f"hook.{name}(" in source or f'"{name}"' in source, f"the core never calls {name}"
