"""``pilote import …``: import values (all or nothing), list imports, revert one.

Registered by the core CLI with ``cli.add_command(import_group)``. Every command prints its
report; the exit status is 1 when anything is refused (then nothing was written).
"""

from __future__ import annotations

import getpass
from pathlib import Path

import click

from core.cli_context import require_schema, with_app



@click.group("import")
def import_group():
    """Import indicator values (all or nothing), list and revert imports."""


def _author(session, email: str | None) -> tuple[int | None, str]:
    from sqlalchemy import func, select

    from core.models import User

    if not email:
        try:
            who = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name (containers): stay anonymous
            who = "unknown"
        return None, f"cli:{who}"
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    return user.id, user.email


def _run(app, format: str, path: Path, dry_run: bool, erase_empty: bool, user: str | None) -> None:
    from core.db import session as db_session
    from core.imports.service import import_file

    require_schema(app)
    session = db_session()
    author_id, label = _author(session, user)
    report = import_file(session, format, path, dry_run=dry_run, erase_empty=erase_empty,
                         author_id=author_id, author_label=label)
    click.echo(report.render())
    if not report.ok:
        session.rollback()
        raise SystemExit(1)


_dry_run = click.option("--dry-run", is_flag=True,
                        help="Check everything and show what would change; write nothing.")
_erase = click.option("--erase-empty", is_flag=True,
                      help="Let empty value cells erase the stored value (default: skipped).")
_user = click.option("--user", "user", metavar="EMAIL", default=None,
                     help="Record the import as made by this user (default: the system login).")


@import_group.command("pilote")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_dry_run
@_erase
@_user
@with_app
def import_pilote(app, file, dry_run, erase_empty, user):
    """A PILOTE 2 import file (CSV or XLSX).

    Columns identifiant_indic;zone_id;zone_nom;date_valeur;type_valeur;valeur, one value per
    row (vi, va or vc); CSV separated by ; in UTF-8."""
    _run(app, "pilote", file, dry_run, erase_empty, user)


@import_group.command("barometre")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@_dry_run
@_user
@with_app
def import_barometre(app, folder, dry_run, user):
    """A baromètre open-data folder (metadata/, then data/ind-*.csv).

    Creates or updates the commitments, policies and indicators of metadata/, then imports
    the values of data/."""
    _run(app, "barometre", folder, dry_run, False, user)


@import_group.command("native")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_dry_run
@_erase
@_user
@with_app
def import_native(app, file, dry_run, erase_empty, user):
    """Pilote's native format (CSV or XLSX).

    Columns indicator, territory_level, territory_code, kind, date, value[, target_scope]
    [, source], as described by the Table Schema core/imports/schemas/native.json."""
    _run(app, "native", file, dry_run, erase_empty, user)


@import_group.command("list")
@click.option("--limit", default=50, show_default=True, type=int)
@with_app
def import_list(app, limit):
    """Applied imports, latest first."""
    from core.db import session as db_session
    from core.imports.service import list_imports

    require_schema(app)
    batches = list_imports(db_session(), limit)
    if not batches:
        click.echo("No import yet.")
        return
    for b in batches:
        counts = b.counts or {}
        summary = ", ".join(f"{k} {counts.get(k, 0)}" for k in ("created", "updated", "erased", "unchanged"))
        state = f"reverted {b.reverted_at:%Y-%m-%d %H:%M}" if b.reverted_at else "applied"
        click.echo(f"#{b.id}  {b.created_at:%Y-%m-%d %H:%M} UTC  {b.format:<9}  {b.filename}  "
                   f"by {b.author_label or '?'}  sha256 {b.file_hash[:12]}  {summary}  {state}")


@import_group.command("revert")
@click.argument("batch_id", type=int)
@_user
@with_app
def import_revert(app, batch_id, user):
    """Undo an applied import as a whole.

    Every value it wrote gets its previous value back (values it created are erased). Refused
    if the import was already reverted or if one of its values was written since."""
    from core.db import session as db_session
    from core.imports.service import revert_import

    require_schema(app)
    session = db_session()
    author_id, _ = _author(session, user)
    report = revert_import(session, batch_id, author_id)
    click.echo(report.render())
    if not report.ok:
        session.rollback()
        raise SystemExit(1)
