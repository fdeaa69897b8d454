"""Translations: Flask-Babel with one gettext domain per package, French by default.

Catalogs are merged in this order, later ones winning: core (``messages``), each enabled
plugin (domain = plugin name), the instance (domain ``instance``, its wording).
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel
from flask_login import current_user

CORE_TRANSLATIONS = Path(__file__).parent / "translations"
LOCALE_SESSION_KEY = "locale"


def compile_instance_catalogs(folder: Path) -> list[Path]:
    """Compile ``<folder>/<locale>/LC_MESSAGES/instance.po`` files whose ``.mo`` is missing or
    stale; returns the written files. A read-only folder is skipped (compile at build time)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(folder.glob("*/LC_MESSAGES/instance.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=po.parent.parent.name, domain="instance")
            # written aside then renamed: workers starting together never read a half-written file
            partial = mo.with_name(f".{mo.name}.{os.getpid()}")
            with partial.open("wb") as fh:
                write_mo(fh, catalog)
            os.replace(partial, mo)
            written.append(mo)
        except OSError:
            continue
    return written


def translation_dirs(app: Flask) -> list[tuple[Path, str]]:
    """(directory, domain) pairs, in merge order."""
    state = app.extensions["pilote"]
    pairs = [(CORE_TRANSLATIONS, "messages")]
    for name in reversed(state.config.enabled_plugins):  # the first listed wins, so merges last
        plugin = state.pm.get_plugin(name)
        folder = Path(plugin.__file__).parent / "translations"
        if folder.is_dir():
            pairs.append((folder, name))
    instance_dir = state.config.dir / "translations"
    if instance_dir.is_dir():
        compile_instance_catalogs(instance_dir)
        pairs.append((instance_dir, "instance"))
    return pairs


def select_locale() -> str:
    locales = current_app.extensions["pilote"].config.locales
    if not has_request_context():  # jobs and commands: the instance default (or force_locale)
        return current_app.extensions["pilote"].config.default_locale
    chosen = request.args.get("lang")
    if chosen in locales:
        session[LOCALE_SESSION_KEY] = chosen
        return chosen
    if session.get(LOCALE_SESSION_KEY) in locales:
        return session[LOCALE_SESSION_KEY]
    user_locale = getattr(current_user, "locale", None)
    if user_locale in locales:
        return user_locale
    default = current_app.extensions["pilote"].config.default_locale
    return request.accept_languages.best_match(locales, default=default)


def init_app(app: Flask) -> None:
    config = app.extensions["pilote"].config
    pairs = translation_dirs(app)
    app.config.update(
        BABEL_DEFAULT_LOCALE=config.default_locale,
        BABEL_DEFAULT_TIMEZONE=config.data["instance"]["timezone"],
        BABEL_TRANSLATION_DIRECTORIES=";".join(str(p) for p, _ in pairs),
        BABEL_DOMAIN=";".join(d for _, d in pairs),
    )
    Babel(app, locale_selector=select_locale)
