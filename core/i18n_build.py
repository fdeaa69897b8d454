"""Extract, update and compile the gettext catalogs (``make install`` and tox compile them).

One domain per package: ``messages`` for the core and the themes, the plugin's name for each
bundled plugin. ``python -m core.i18n_build extract`` refreshes the ``.pot`` and ``.po``
files after UI strings change; ``compile`` (what installs run) writes the ``.mo`` files.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ("en", "fr")


def catalogs() -> list[tuple[str, list[Path], Path]]:
    """(domain, source folders, translations folder) for the core and each bundled plugin."""
    out = [("messages", [ROOT / "core", ROOT / "themes"], ROOT / "core" / "translations")]
    for plugin in sorted((ROOT / "plugins").iterdir()):
        if (plugin / "plugin.py").is_file():
            out.append((plugin.name, [plugin], plugin / "translations"))
    return out


def _babel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract(only: list[str] | None = None) -> None:
    """Refresh the catalogs (of the ``only`` domains when given, e.g. ``barometre``)."""
    for domain, sources, folder in catalogs():
        if only and domain not in only:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        pot = folder / f"{domain}.pot"
        _babel("extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "--no-location",
               "--sort-output", "--project", "Pilote", "-o", str(pot), *map(str, sources))
        for locale in LOCALES:
            po = folder / locale / "LC_MESSAGES" / f"{domain}.po"
            command = "update" if po.exists() else "init"
            _babel(command, "-D", domain, "-i", str(pot), "-d", str(folder), "-l", locale,
                   *(["--no-fuzzy-matching"] if command == "update" else []))


def compile_all() -> None:
    for domain, _, folder in catalogs():
        if folder.is_dir():
            _babel("compile", "-D", domain, "-d", str(folder))
    for instance_dir in (ROOT / "instances").glob("*/translations"):
        _babel("compile", "-D", "instance", "-d", str(instance_dir))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "compile"
    if command == "extract":
        extract(sys.argv[2:] or None)
    else:
        compile_all()
