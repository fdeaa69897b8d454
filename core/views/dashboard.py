"""The home dashboard query, shared by the page and its CSV/XLSX exports (same filters, same rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from core.db import session as db_session
from core.engine.alerts import alerts_for, registered_alert_rules
from core.exports.tabular import Column, Table, csv_bytes, xlsx_bytes
from core.figures import PolicyView, Spread, level_figures, policy_views
from core.models import (
    Grant,
    Indicator,
    Organisation,
    Policy,
    PolicyContact,
    PolicyGroup,
    PolicyStatus,
    Territory,
    grant_policy,
)
from core.permissions import public, require, scope

bp = Blueprint("dashboard", __name__)

SORTS = ("code", "progress", "gap", "trend", "update")
TREND_RANK = {"down": 0, "stable": 1, "up": 2}


@dataclass(frozen=True)
class DashboardFilters:
    """What the home page filters on; read from and written back to the query string."""

    q: str = ""
    group: str = ""
    organisation: str = ""
    kind: str = ""
    alert: str = ""
    weather: str = ""
    mine: bool = False
    sort: str = "code"
    desc: bool = False
    level: str = ""

    ARGS = {"q": "q", "group": "groupe", "organisation": "ministere", "kind": "type",
            "alert": "alerte", "weather": "meteo", "mine": "miennes", "sort": "tri",
            "desc": "desc", "level": "niveau"}

    @classmethod
    def from_args(cls, args) -> "DashboardFilters":
        sort = args.get("tri", "code")
        return cls(
            q=args.get("q", "").strip()[:100], group=args.get("groupe", ""),
            organisation=args.get("ministere", ""), kind=args.get("type", ""),
            alert=args.get("alerte", ""), weather=args.get("meteo", ""),
            mine=args.get("miennes") == "1", sort=sort if sort in SORTS else "code",
            desc=args.get("desc") == "1", level=args.get("niveau", ""),
        )

    def as_args(self, **changes: Any) -> dict[str, str]:
        """Query-string arguments of these filters (empty ones left out), with ``changes``."""
        values = {**asdict(self), **changes}
        out = {}
        for name, arg in self.ARGS.items():
            value = values[name]
            if isinstance(value, bool):
                value = "1" if value else ""
            if value and not (name == "sort" and value == "code"):
                out[arg] = str(value)
        return out


@dataclass
class Dashboard:
    territory: Territory
    filters: DashboardFilters
    rows: list[PolicyView]
    mean: Decimal | None
    level: str | None
    spread: Spread | None  # of the selection's mean progress across the territories of ``level``
    alert_counts: dict[str, int] = field(default_factory=dict)


def my_policy_ids(session: Session, user) -> set[int]:
    """Policies the user is a contact of, or that a grant names (explicitly or by ministry)."""
    if not getattr(user, "is_authenticated", False):
        return set()
    ids = set(session.scalars(select(PolicyContact.policy_id).where(PolicyContact.user_id == user.id)))
    grants = select(Grant.id).where(Grant.user_id == user.id)
    ids |= set(session.scalars(select(grant_policy.c.policy_id).where(grant_policy.c.grant_id.in_(grants))))
    organisations = select(Grant.organisation_id).where(Grant.user_id == user.id,
                                                        Grant.organisation_id.is_not(None))
    ids |= set(session.scalars(select(Policy.id).where(Policy.organisation_id.in_(organisations))))
    return ids


def _sort_key(sort: str):
    def key(view: PolicyView):
        if sort == "progress":
            value = view.overall
        elif sort == "gap":
            value = view.gap_to_median
        elif sort == "trend":
            value = TREND_RANK.get(view.trend)
        elif sort == "update":
            value = view.last_update
        else:
            return (0, view.policy.code)
        return (value is None, value if value is not None else 0, view.policy.code)
    return key


def build_dashboard(session: Session, territory: Territory, filters: DashboardFilters,
                    user=None) -> Dashboard:
    """The policies of the home page for ``territory``: scoped to what ``user`` may read,
    filtered and sorted by ``filters``; used as is by the page and by the exports."""
    user = current_user if user is None else user
    query = (
        select(Policy)
        .where(scope("policy.read", Policy, user=user), Policy.status != PolicyStatus.ARCHIVED)
        .options(selectinload(Policy.indicators).selectinload(Indicator.weights),
                 selectinload(Policy.group), selectinload(Policy.organisation))
        .order_by(Policy.code)
    )
    if filters.q:
        like = f"%{filters.q}%"
        query = query.where(or_(Policy.name.ilike(like), Policy.code.ilike(like),
                                Policy.short_name.ilike(like)))
    if filters.group:
        query = query.where(Policy.group_id.in_(select(PolicyGroup.id).where(PolicyGroup.code == filters.group)))
    if filters.organisation:
        query = query.where(Policy.organisation_id.in_(
            select(Organisation.id).where(Organisation.code == filters.organisation)))
    if filters.kind:
        query = query.where(Policy.kind == filters.kind)
    if filters.mine:
        query = query.where(Policy.id.in_(sorted(my_policy_ids(session, user)) or [-1]))
    policies = session.scalars(query).all()
    views = policy_views(session, policies, territory)
    alerts = alerts_for(session, [p.id for p in policies], [territory.id]) if policies else []
    counts: dict[str, int] = {}
    for alert in alerts:
        views[alert.policy_id].alerts.append(alert)
        counts[alert.key] = counts.get(alert.key, 0) + 1
    rows = [views[p.id] for p in policies]
    if filters.weather:
        rows = [r for r in rows if r.weather.value == filters.weather]
    if filters.alert:
        rows = [r for r in rows if any(a.key == filters.alert for a in r.alerts)]
    rows.sort(key=_sort_key(filters.sort), reverse=filters.desc)
    known = [r.overall for r in rows if r.overall is not None]
    mean = sum(known) / len(known) if known else None
    levels = current_app.extensions["pilote"].config.level_keys
    level = filters.level if filters.level in levels else (levels[1] if len(levels) > 1 else None)
    spread = None
    if level and rows:
        per_territory: dict[int, list[Decimal]] = {}
        for figure in level_figures(session, [r.policy.id for r in rows], level):
            if figure.overall is not None:
                per_territory.setdefault(figure.territory_id, []).append(figure.overall)
        spread = Spread.of([sum(v) / len(v) for v in per_territory.values()])
    return Dashboard(territory, filters, rows, mean, level, spread, counts)


def alert_labels() -> dict[str, str]:
    return {rule.key: str(rule.label) for rule in registered_alert_rules()}


def export_table(board: Dashboard) -> Table:
    """The rows of the dashboard as a table (one row per policy, in the page's order)."""
    labels = alert_labels()

    def number(value):
        return None if value is None else float(value)

    rows = [(
        v.policy.code, v.policy.name, v.policy.group.code if v.policy.group else None,
        v.policy.organisation.acronym if v.policy.organisation else None, v.policy.kind,
        board.territory.key, board.territory.name, number(v.overall), number(v.annual),
        v.weather.value, v.trend, number(v.gap_to_median), v.last_update,
        " | ".join(labels.get(a.key, a.key) for a in v.alerts),
    ) for v in board.rows]
    return Table(
        name="politiques", title="Politiques",
        columns=[
            Column("policy_code", "Code"), Column("policy_name", "Politique"),
            Column("group_code", "Engagement"), Column("organisation", "Ministère"),
            Column("kind", "Type"), Column("territory_key", "Territoire (clé)"),
            Column("territory_name", "Territoire"),
            Column("overall_progress", "Avancement global", "number"),
            Column("annual_progress", "Avancement annuel", "number"),
            Column("weather", "Météo"), Column("trend", "Tendance"),
            Column("gap_to_median", "Écart à la médiane", "number"),
            Column("last_value_date", "Dernière donnée", "date"),
            Column("alerts", "Alertes"),
        ],
        rows=rows, primary_key=("policy_code",),
    )


def _export(fmt: str) -> Response:
    from core.views.pages import selected_territory

    territory = selected_territory()
    require("territory.read", territory)
    board = build_dashboard(db_session(), territory, DashboardFilters.from_args(request.args))
    table = export_table(board)
    stem = f"politiques-{territory.key}-{dt.date.today().isoformat()}"
    if fmt == "csv":
        return Response(csv_bytes(table), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    return Response(xlsx_bytes([table]),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'})


@bp.route("/export/politiques.csv")
@public  # like the home page: anonymous visitors export the public policies
def export_csv():
    return _export("csv")


@bp.route("/export/politiques.xlsx")
@public
def export_xlsx():
    return _export("xlsx")


