"""``pilote export``: values and figures as CSV or XLSX, and the barometer open-data files.

The command runs with the operator's full access (like every ``pilote`` command) unless
``--as EMAIL`` restricts it to what that user may read.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from core.cli_context import with_app

FORMATS = ("csv", "xlsx")




def _filter_options(func):
    options = [
        click.option("--policy", "policies", multiple=True, metavar="CODE",
                     help="Policy code (repeatable)."),
        click.option("--group", "groups", multiple=True, metavar="CODE",
                     help="Policy group code (repeatable)."),
        click.option("--kind", "kinds", multiple=True, metavar="KIND",
                     help="Policy kind (repeatable)."),
        click.option("--status", "statuses", multiple=True,
                     type=click.Choice(["draft", "published", "archived"]),
                     help="Policy status (repeatable)."),
        click.option("--level", "levels", multiple=True, metavar="LEVEL",
                     help="Territory level (repeatable)."),
        click.option("--territory", "territories", multiple=True, metavar="LEVEL-CODE",
                     help="A territory and its whole subtree, e.g. region-84 (repeatable)."),
        click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None,
                     help="First date (values: value date; figures: date of the latest value)."),
        click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None,
                     help="Last date, included."),
        click.option("--as", "as_user", metavar="EMAIL", default=None,
                     help="Export only what this user may read."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _output_options(func):
    func = click.option("--output", "-o", required=True, metavar="FILE",
                        help="File to write ('-' writes CSV to standard output).")(func)
    func = click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help="csv or xlsx (default: from the file extension, else csv).")(func)
    return func


def _resolve(session, policies, groups, kinds, statuses, levels, territories, date_from, date_to,
             as_user):
    from sqlalchemy import func, select

    from core.exports.tabular import UNRESTRICTED, ExportFilters
    from core.models import Territory, User

    territory_ids = []
    for key in territories:
        level, _, code = key.partition("-")
        found = session.scalar(select(Territory.id).where(
            Territory.level == level, Territory.code == code, Territory.valid_to.is_(None)))
        if found is None:
            raise click.BadParameter(f"unknown territory {key!r} (form: level-code, e.g. region-84)",
                                     param_hint="--territory")
        territory_ids.append(found)
    user = UNRESTRICTED
    if as_user:
        user = session.scalar(select(User).where(func.lower(User.email) == as_user.strip().lower()))
        if user is None:
            raise click.BadParameter(f"no user with e-mail {as_user}", param_hint="--as")
    filters = ExportFilters(
        policy_codes=tuple(policies), group_codes=tuple(groups), kinds=tuple(kinds),
        statuses=tuple(statuses), levels=tuple(levels), territory_ids=tuple(territory_ids),
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
    )
    return filters, user


def _format(fmt: str | None, output: str) -> str:
    if fmt:
        return fmt
    return "xlsx" if output.lower().endswith(".xlsx") else "csv"


def _write(tables, fmt: str, output: str) -> None:
    from core.exports.tabular import write_csv, write_csv_with_schema, write_xlsx

    if fmt == "xlsx":
        if output == "-":
            raise click.BadParameter("XLSX cannot go to standard output", param_hint="--output")
        counts = write_xlsx(tables, output)
        for name, count in counts.items():
            click.echo(f"{name}: {count} rows", err=True)
        click.echo(f"Written to {output}.", err=True)
        return
    (table,) = tables
    if output == "-":
        count = write_csv(table, sys.stdout)
    else:
        count = write_csv_with_schema(table, output)
    click.echo(f"{table.name}: {count} rows", err=True)
    if output != "-":
        from core.exports.tabular import schema_path

        click.echo(f"Written to {output} (Table Schema: {schema_path(output).name}).", err=True)


@click.group("export")
def export_group():
    """Export values, figures and the barometer open data."""


@export_group.command("values")
@_output_options
@_filter_options
@with_app
def export_values(app, fmt, output, **options):
    """Entered values with their provenance (who, when, how, source)."""
    from core.db import session as db_session
    from core.exports.tabular import values_table

    session = db_session()
    filters, user = _resolve(session, **options)
    _write([values_table(session, filters, user=user)], _format(fmt, output), output)


@export_group.command("figures")
@_output_options
@click.option("--table", "which", type=click.Choice(["policies", "indicators"]), default=None,
              help="Which figures (default: policies for CSV, both sheets for XLSX).")
@_filter_options
@with_app
def export_figures(app, fmt, output, which, **options):
    """Computed figures: policy progress (trend, gap to the median) and indicator progress."""
    from core.db import session as db_session
    from core.exports.tabular import indicator_figures_table, policy_figures_table

    session = db_session()
    filters, user = _resolve(session, **options)
    fmt = _format(fmt, output)
    builders = {"policies": policy_figures_table, "indicators": indicator_figures_table}
    names = [which] if which else (["policies"] if fmt == "csv" else ["policies", "indicators"])
    _write([builders[name](session, filters, user=user) for name in names], fmt, output)


@export_group.command("barometre")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--indicator", "indicators", multiple=True, metavar="CODE",
              help="Only this indicator (repeatable).")
@click.option("--all", "everything", is_flag=True,
              help="Every indicator, not only the public ones of public, published policies.")
@with_app
def export_barometre_command(app, folder, indicators, everything):
    """One ind-<id>.csv per indicator in the barometer's open-data format, with Pilote's
    progress rates, and its Table Schema next to it."""
    from core.db import session as db_session
    from core.exports.barometre import export_barometre

    started = dt.datetime.now()
    report = export_barometre(db_session(), folder, indicator_codes=list(indicators) or None,
                              public_only=not everything)
    rows = sum(report.files.values())
    seconds = (dt.datetime.now() - started).total_seconds()
    click.echo(f"{len(report.files)} indicator files, {rows} rows, written to {folder} "
               f"in {seconds:.1f} s.")
