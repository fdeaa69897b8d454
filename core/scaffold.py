"""``pilote instance new <slug>``: a minimal instance folder that boots at once.

Writes ``instances/<slug>/instance.toml`` (the reference instance's administrative grid:
nation, region, department from the INSEE COG), a README, empty ``templates/``, ``static/``
and ``translations/`` folders, and no demo spec (``pilote seed empty`` loads the territories;
create the first administrator with ``pilote users create``, see :func:`create_admin`).
"""

from __future__ import annotations

import json
from pathlib import Path

from core.config import INSTANCES_DIR, SLUG, THEMES_DIR, load_instance_config
from core.themes import load_theme


class ScaffoldError(Exception):
    pass


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


INSTANCE_TOML = """\
# {name}: created by `pilote instance new {slug}`. Every key is documented in docs/instances.md.
# No secrets here: use {{ env = "VARIABLE" }}.

[instance]
slug = {slug_q}
name = {name_q}
operator = {operator_q}
default_locale = "fr"
locales = ["fr", "en"]
timezone = "Europe/Paris"

[theme]
# "base" is the neutral theme; "dsfr" is reserved to State administrations (.gouv.fr).
name = {theme_q}

[theme.tokens]
# primary = "#1d4f91"

[plugins]
enabled = []

[[grids]]
key = "admin"
label = {{ fr = "Découpage administratif", en = "Administrative divisions" }}
reference = "cog"
levels = [
  {{ key = "nation", label = {{ fr = "National", en = "National" }} }},
  {{ key = "region", label = {{ fr = "Région", en = "Region" }}, parent = "nation" }},
  {{ key = "department", label = {{ fr = "Département", en = "Department" }}, parent = "region" }},
]

[[policy_kinds]]
key = "priority_policy"
label = {{ fr = "Politique prioritaire", en = "Priority policy" }}

[[comment_types]]
key = "obstacles"
label = {{ fr = "Freins à lever", en = "Obstacles to remove" }}

[[comment_types]]
key = "next_actions"
label = {{ fr = "Actions à venir", en = "Next actions" }}

[[comment_types]]
key = "question"
label = {{ fr = "Question aux référents", en = "Question to the referents" }}

# Wording, the quick way (or translations/<locale>/LC_MESSAGES/instance.po, domain "instance"):
# [wording.fr]
# policy = "politique prioritaire"
# policies = "politiques prioritaires"

[auth]
session_lifetime_hours = 12
"""

README = """\
# {name}

Instance `{slug}` of Pilote, created by `pilote instance new {slug}`.

```sh
pilote --instance {slug} db upgrade
pilote --instance {slug} seed empty
pilote --instance {slug} users create --email {admin_email} --name "Administrateur" --role admin
pilote --instance {slug} run
```

* `instance.toml`: name, theme (`{theme}`), plugins, grids, wording — see docs/instances.md.
* `templates/`, `static/`: overrides and assets (keep them tiny, prefer `[theme.tokens]`).
* `translations/<locale>/LC_MESSAGES/instance.po`: wording (gettext domain `instance`).
* `seed/demo.toml` (optional): a demo spec for `pilote seed demo`, like instances/ditp's.
"""


def scaffold_instance(
    slug: str,
    *,
    name: str,
    theme: str = "base",
    admin_email: str,
    admin_password: str,
    target_dir: Path = INSTANCES_DIR,
    operator: str = "",
) -> Path:
    """Create ``<target_dir>/<slug>/`` and return its ``instance.toml``; validates the result.

    ``admin_email`` and ``admin_password`` are checked here (the password is never written to
    disk): pass them to :func:`create_admin` once the database is upgraded and seeded.
    """
    if SLUG.regex.match(slug) is None:
        raise ScaffoldError(f"slug {slug!r}: {SLUG.error}")
    if not (THEMES_DIR / theme / "theme.toml").is_file():
        known = sorted(p.parent.name for p in THEMES_DIR.glob("*/theme.toml"))
        raise ScaffoldError(f"unknown theme {theme!r} (available: {', '.join(known)})")
    if "@" not in admin_email:
        raise ScaffoldError(f"admin e-mail {admin_email!r} is not an e-mail address")
    if len(admin_password) < 12:
        raise ScaffoldError("admin password: at least 12 characters")
    folder = Path(target_dir) / slug
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists")
    load_theme(theme)
    folder.mkdir(parents=True)
    for sub in ("templates", "static", "translations", "seed"):
        (folder / sub).mkdir()
        (folder / sub / ".gitkeep").write_text("")
    path = folder / "instance.toml"
    path.write_text(INSTANCE_TOML.format(
        slug=slug, name=name, slug_q=_toml_str(slug), name_q=_toml_str(name),
        operator_q=_toml_str(operator), theme_q=_toml_str(theme)), encoding="utf-8")
    (folder / "README.md").write_text(README.format(
        slug=slug, name=name, theme=theme, admin_email=admin_email), encoding="utf-8")
    load_instance_config(path, settings={"DATABASE_URL": "sqlite://"})  # raises ConfigError if wrong
    return path


def create_admin(session, email: str, name: str, password: str):
    """The first administrator: a local account with a national ``admin`` grant — the same
    rows as ``pilote users create --role admin``. Does not commit."""
    from sqlalchemy import func, select
    from werkzeug.security import generate_password_hash

    from core.models import Grant, Role, User

    email = email.strip().lower()
    if session.scalar(select(User).where(func.lower(User.email) == email)):
        raise ScaffoldError(f"a user with e-mail {email} already exists")
    if len(password) < 12:
        raise ScaffoldError("password: at least 12 characters")
    user = User(email=email, name=name, password_hash=generate_password_hash(password))
    user.grants.append(Grant(role=Role.ADMIN, territory_id=None))
    session.add(user)
    return user


def _new_instance_command():
    import click

    @click.command("new")
    @click.argument("slug")
    @click.option("--name", required=True, help="Name shown in the header.")
    @click.option("--theme", default="base", show_default=True,
                  help='Theme folder of themes/ ("dsfr" is reserved to the State).')
    @click.option("--operator", default="", help="Administration running the instance.")
    @click.option("--admin-email", required=True, help="E-mail of the first administrator.")
    @click.option("--admin-password", prompt=True, hide_input=True, confirmation_prompt=True,
                  help="Password of the first administrator (prompted for when not given).")
    @click.option("--target-dir", type=click.Path(file_okay=False, path_type=Path), default=INSTANCES_DIR,
                  show_default=True, hidden=True)
    def new_instance(slug, name, theme, operator, admin_email, admin_password, target_dir):
        """Create instances/SLUG (instance.toml, README) ready to boot."""
        try:
            path = scaffold_instance(slug, name=name, theme=theme, operator=operator,
                                     admin_email=admin_email, admin_password=admin_password,
                                     target_dir=target_dir)
        except ScaffoldError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Instance {slug} created: {path}")
        click.echo("Next steps:")
        instance = slug if Path(target_dir).resolve() == INSTANCES_DIR.resolve() else str(path.parent)
        for step in ("db upgrade", "seed empty",
                     f"users create --email {admin_email} --name Administrateur --role admin", "run"):
            click.echo(f"  pilote --instance {instance} {step}")

    return new_instance


new_instance_command = _new_instance_command()
