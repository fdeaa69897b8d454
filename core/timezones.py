"""The time zone of a territory: local dates (a campaign's due date) are reached at midnight
there. Overseas departments and regions have their own zone; everything else uses the
instance's ``[instance] timezone`` (Europe/Paris by default)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT = "Europe/Paris"
# INSEE COG codes of the overseas departments and of their regions (same zones)
DEPARTMENTS = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "976": "Indian/Mayotte",
}
REGIONS = {
    "01": "America/Guadeloupe",
    "02": "America/Martinique",
    "03": "America/Cayenne",
    "04": "Indian/Reunion",
    "06": "Indian/Mayotte",
}


def default_zone() -> ZoneInfo:
    """The instance's time zone (Europe/Paris when there is no app)."""
    if has_app_context() and "pilote" in current_app.extensions:
        return ZoneInfo(current_app.extensions["pilote"].config.data["instance"].get("timezone") or DEFAULT)
    return ZoneInfo(DEFAULT)


def zone_name_of(territory) -> str | None:
    """The specific zone of ``territory`` or of its nearest ancestor; None for the default."""
    node = territory
    while node is not None:
        if getattr(node, "grid", "admin") == "admin":
            if node.level == "department" and node.code in DEPARTMENTS:
                return DEPARTMENTS[node.code]
            if node.level == "region" and node.code in REGIONS:
                return REGIONS[node.code]
        node = node.parent
    return None


def zone_of(territory) -> ZoneInfo:
    name = zone_name_of(territory)
    return ZoneInfo(name) if name else default_zone()


def local_today(territory, now: dt.datetime) -> dt.date:
    """The date it is in ``territory`` at the aware instant ``now``."""
    return now.astimezone(zone_of(territory)).date()


def midnight(day: dt.date, territory) -> dt.datetime:
    """The instant (aware, UTC) when ``day`` begins in ``territory``."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone_of(territory)).astimezone(dt.timezone.utc)
