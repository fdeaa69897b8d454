"""``pilote campaigns remind``: send the campaign reminders due now (the hourly job, by hand)."""

from __future__ import annotations

import datetime as dt

import click

from core.cli_context import with_app


@click.group("campaigns")
def campaigns_group():
    """Review campaigns."""


@campaigns_group.command("remind")
@click.option("--now", default=None, metavar="ISO-DATETIME",
              help="Pretend it is this instant (UTC unless an offset is given); default: now.")
@click.option("--campaign", "codes", multiple=True, metavar="CODE", help="Only these campaigns.")
@with_app
def remind_command(app, now, codes):
    """Send the reminders and escalations due now (each e-mail once)."""
    from core.campaigns.reminders import remind

    when = None
    if now:
        when = dt.datetime.fromisoformat(now)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
    sent = remind(when, list(codes) or None)
    click.echo("Campaign reminders sent: " + ", ".join(f"{k} {v}" for k, v in sent.items()))
