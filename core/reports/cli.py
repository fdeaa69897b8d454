"""``pilote report``: a PDF report or one-page brief from the command line.

It runs with the operator's full access unless ``--as EMAIL`` restricts it to what that user
may read (the same filtering as the web page)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from core.cli_context import with_app


@click.command("report")
@click.option("--out", "-o", "out", required=True, metavar="FILE.pdf", help="The PDF to write.")
@click.option("--policy", "policies", multiple=True, metavar="CODE",
              help="Policy code (repeatable; default: every policy).")
@click.option("--territory", "territories", multiple=True, metavar="LEVEL-CODE",
              help="Territory, e.g. department-69 (repeatable; default: the top level).")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day of the period (default: a year before --to).")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Last day of the period (default: today).")
@click.option("--brief", is_flag=True,
              help="A one-page brief of one policy (in one territory) or of one territory.")
@click.option("--as", "as_user", metavar="EMAIL", default=None,
              help="Include only what this user may read.")
@with_app
def report_command(app, out, policies, territories, date_from, date_to, brief, as_user):
    """Write a PDF report (cover, contents, one chapter per policy × territory) or a brief."""
    from sqlalchemy import func, select

    from core.db import session as db_session
    from core.models import User
    from core.reports.model import Selection, SelectionError
    from core.reports.service import make_pdf

    user = None
    if as_user:
        user = db_session().scalar(select(User).where(func.lower(User.email) == as_user.strip().lower()))
        if user is None:
            raise click.BadParameter(f"no user with e-mail {as_user}", param_hint="--as")
    selection = Selection(tuple(policies), tuple(territories),
                          date_from.date() if date_from else None, date_to.date() if date_to else None,
                          brief)
    started = time.perf_counter()
    with app.test_request_context():  # templates and translations need a request
        try:
            pdf = make_pdf(selection, user)
        except SelectionError as exc:
            raise click.ClickException(str(exc)) from None
    Path(out).write_bytes(pdf.data)
    click.echo(f"Written {out}: {pdf.pages} page(s), {len(pdf.data) // 1024} KB "
               f"in {time.perf_counter() - started:.1f} s.")
