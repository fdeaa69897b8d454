"""``pilote tokens``: create, list and revoke API tokens (service accounts, scripts, operators).

The token is printed once, on standard output and alone on its line, so that a script can
capture it; everything else goes to standard error.
"""

from __future__ import annotations

import click
from sqlalchemy import func, select

from core.cli_context import with_app

from core.api_v1.tokens import DEFAULT_EXPIRES_DAYS, MAX_EXPIRES_DAYS


def _fmt(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group("tokens")
def tokens_group():
    """API tokens: shown once, stored hashed, expiring, revocable."""


@tokens_group.command("create")
@click.option("--user", "email", required=True, metavar="EMAIL", help="The user the token acts as.")
@click.option("--name", required=True, help="What the token is for (shown in lists).")
@click.option("--expires-days", type=click.IntRange(1, MAX_EXPIRES_DAYS), default=DEFAULT_EXPIRES_DAYS,
              show_default=True, help="Lifetime in days.")
@click.option("--read-only", is_flag=True, help="The token cannot write.")
@with_app
def tokens_create(app, email, name, expires_days, read_only):
    """Create a token and print it (once: only its hash is stored)."""
    from core.api_v1.tokens import create_token
    from core.db import session as db_session
    from core.models import User

    session = db_session()
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"no user with e-mail {email}")
    if not user.is_active:
        raise click.ClickException(f"user {user.email} is deactivated")
    if not name.strip():
        raise click.ClickException("--name must not be empty")
    token, plain = create_token(session, user, name[:120], expires_days=expires_days, read_only=read_only)
    session.commit()
    mode = "read-only" if read_only else "read-write"
    click.echo(f"Token {token.id} ({mode}) for {user.email}, expires {_fmt(token.expires_at)} UTC. "
               "Store it now: it cannot be shown again.", err=True)
    click.echo(plain)


@tokens_group.command("list")
@click.option("--user", "email", default=None, metavar="EMAIL", help="Only this user's tokens.")
@with_app
def tokens_list(app, email):
    """Every token (never the secret): id, user, name, prefix, status, dates."""
    from sqlalchemy.orm import selectinload

    from core.api_v1.tokens import token_status
    from core.db import session as db_session
    from core.models import ApiToken, User

    session = db_session()
    query = select(ApiToken).options(selectinload(ApiToken.user)).order_by(ApiToken.id)
    if email:
        query = query.join(User, ApiToken.user_id == User.id).where(
            func.lower(User.email) == email.strip().lower())
    rows = [(str(t.id), t.user.email, t.name, f"pil_{t.prefix}_…", "read-only" if t.read_only else "read-write",
             token_status(t), _fmt(t.created_at), _fmt(t.expires_at), _fmt(t.last_used_at))
            for t in session.scalars(query)]
    header = ("id", "user", "name", "prefix", "rights", "status", "created", "expires", "last used")
    if not rows:
        click.echo("No API tokens.")
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_app
def tokens_revoke(app, token_id):
    """Revoke a token at once."""
    from core.api_v1.tokens import revoke_token
    from core.db import session as db_session
    from core.models import ApiToken

    session = db_session()
    token = session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"no token {token_id}")
    if not revoke_token(token):
        click.echo(f"Token {token_id} was already revoked.")
        return
    session.commit()
    click.echo(f"Token {token_id} ({token.name}) revoked.")


__all__ = ["tokens_group"]
