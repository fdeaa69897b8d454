"""The contributor directory (« Annuaire »): who is responsible for which policy in which
territory, from grants (role × territory subtree × policies) and the policies' named contacts,
with the entry territories that have no contributor at all flagged (the completeness engine's
``uncovered`` pairs). E-mail addresses only with ``contributor.email``; everything limited to
the viewer's policies (``policy.read``) and territories (``territory.read``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.db import session as db_session, utcnow
from core.engine.completeness import completeness
from core.identity.labels import role_label
from core.models import Grant, Policy, PolicyContact, PolicyStatus, Role, Territory, User
from core.permissions import can, requires, scope

bp = Blueprint("directory", __name__)

DIRECTORY_ROLES = (Role.CENTRAL_STEERING, Role.MINISTRY_REFERENT, Role.PREFECT,
                   Role.TERRITORIAL_COORDINATOR, Role.LOCAL_CONTRIBUTOR)
CONTACT_ROLE = "policy_contact"


def contact_role_labels() -> dict[str, str]:
    return {"owner": _("directeur de projet"), "contact": _("contact"), "data": _("responsable des données")}


@dataclass
class DirectoryRow:
    name: str
    email: str
    role: str  # a Role value, or ``policy_contact``
    role_label: str
    territory: Territory | None
    policies: list[Policy] = field(default_factory=list)
    all_policies: bool = False
    source: str = "grant"  # grant or contact
    user_id: int | None = None


@dataclass
class DirectoryFilters:
    policy: Policy | None = None
    territory: Territory | None = None
    role: str = ""

    def args(self) -> dict:
        out = {}
        if self.policy:
            out["politique"] = self.policy.code
        if self.territory:
            out["territoire"] = self.territory.key
        if self.role:
            out["role"] = self.role
        return out


def readable_policies(session) -> dict[int, Policy]:
    return {p.id: p for p in session.scalars(
        select(Policy).where(scope("policy.read", Policy), Policy.status == PolicyStatus.PUBLISHED)
        .order_by(Policy.code))}


def _parents(session) -> dict[int, int | None]:
    return dict(session.execute(select(Territory.id, Territory.parent_id)).all())


def _chain(parents: dict[int, int | None], tid: int | None) -> list[int]:
    out, node = [], tid
    while node is not None:
        out.append(node)
        node = parents.get(node)
    return out


def _related(parents, grant_territory: int | None, wanted: Territory) -> bool:
    """Everywhere, above ``wanted`` (or it), or below it."""
    if grant_territory is None:
        return True
    return grant_territory in _chain(parents, wanted.id) or wanted.id in _chain(parents, grant_territory)


def read_filters(session, policies: dict[int, Policy]) -> DirectoryFilters:
    from core.views.pages import visible_territory_ids

    filters = DirectoryFilters()
    code = request.args.get("politique", "")
    if code:
        filters.policy = next((p for p in policies.values() if p.code == code), None)
        if filters.policy is None:
            abort(404)  # unknown or unreadable: not revealed
    key = request.args.get("territoire", "")
    if key:
        level, _sep, tcode = key.partition("-")
        place = session.scalar(select(Territory).where(Territory.level == level, Territory.code == tcode,
                                                       Territory.valid_to.is_(None)))
        visible = visible_territory_ids()
        if place is None or (visible is not None and place.id not in visible):
            abort(404)
        filters.territory = place
    role = request.args.get("role", "")
    filters.role = role if role in {r.value for r in DIRECTORY_ROLES} | {CONTACT_ROLE} else ""
    return filters


def directory_rows(session, policies: dict[int, Policy], filters: DirectoryFilters) -> list[DirectoryRow]:
    from core.views.pages import visible_territory_ids

    visible = visible_territory_ids()
    parents = _parents(session)
    now = utcnow()
    rows: list[DirectoryRow] = []

    def territory_ok(tid: int | None) -> bool:
        if tid is not None and visible is not None and tid not in visible:
            return False
        return filters.territory is None or _related(parents, tid, filters.territory)

    if filters.role != CONTACT_ROLE:
        grants = session.scalars(
            select(Grant).join(User, User.id == Grant.user_id)
            .where(Grant.role.in_(DIRECTORY_ROLES), User.is_active.is_(True),
                   User.is_service_account.is_(False))
            .options(selectinload(Grant.user), selectinload(Grant.territory), selectinload(Grant.policies)))
        for grant in grants:
            if grant.expires_at is not None and grant.expires_at <= now:
                continue
            if filters.role and grant.role.value != filters.role:
                continue
            if not territory_ok(grant.territory_id):
                continue
            everything = grant.role is Role.CENTRAL_STEERING or (
                grant.organisation_id is None and not grant.policies)
            if everything:
                covered = list(policies.values())
            elif grant.organisation_id is not None:
                explicit = {p.id for p in grant.policies}
                covered = [p for p in policies.values()
                           if p.organisation_id == grant.organisation_id or p.id in explicit]
            else:
                covered = [policies[p.id] for p in grant.policies if p.id in policies]
            if filters.policy is not None:
                covered = [p for p in covered if p.id == filters.policy.id]
            if not covered:
                continue
            rows.append(DirectoryRow(
                grant.user.name, grant.user.email, grant.role.value, role_label(grant.role), grant.territory,
                sorted(covered, key=lambda p: p.code) if not (everything and filters.policy is None) else [],
                all_policies=everything and filters.policy is None, user_id=grant.user_id))
    if filters.role in ("", CONTACT_ROLE):
        query = (select(PolicyContact).where(PolicyContact.policy_id.in_(sorted(policies)))
                 .options(selectinload(PolicyContact.territory)))
        if filters.policy is not None:
            query = query.where(PolicyContact.policy_id == filters.policy.id)
        labels = contact_role_labels()
        merged: dict[tuple, DirectoryRow] = {}  # one row per person, territory and contact role
        for contact in session.scalars(query):
            if not territory_ok(contact.territory_id):
                continue
            key = (contact.email.lower(), contact.name, contact.territory_id, contact.role)
            if key not in merged:
                merged[key] = DirectoryRow(
                    contact.name, contact.email, CONTACT_ROLE, labels.get(contact.role, contact.role),
                    contact.territory, [], source="contact", user_id=contact.user_id)
            merged[key].policies.append(policies[contact.policy_id])
        for row in merged.values():
            row.policies.sort(key=lambda p: p.code)
            rows.append(row)
    rank = {r.value: i for i, r in enumerate(DIRECTORY_ROLES)} | {CONTACT_ROLE: -1}
    rows.sort(key=lambda r: (r.territory is not None, r.territory.level if r.territory else "",
                             r.territory.code if r.territory else "", rank.get(r.role, 99), r.name))
    return rows


def uncovered(session, policies: dict[int, Policy], filters: DirectoryFilters) -> list[dict]:
    """Entry (policy, territory) pairs without any contributor, within the filters and scope."""
    from core.views.completeness import scoped_roots
    from core.views.pages import selected_territory, visible_territory_ids

    if filters.role not in ("", Role.LOCAL_CONTRIBUTOR.value, Role.TERRITORIAL_COORDINATOR.value,
                            Role.PREFECT.value):
        return []
    place = filters.territory or selected_territory()
    ids = [filters.policy.id] if filters.policy else list(policies)
    if not ids:
        return []
    report = completeness(session, policy_ids=ids, territory_ids=scoped_roots(place))
    visible = visible_territory_ids()
    pairs = [(pid, tid) for pid, tid in report.uncovered
             if pid in policies and (visible is None or tid in visible)]
    if not pairs:
        return []
    territories = {t.id: t for t in session.scalars(
        select(Territory).where(Territory.id.in_(sorted({tid for _, tid in pairs}))))}
    grouped: dict[int, list[Territory]] = {}
    for pid, tid in pairs:
        grouped.setdefault(pid, []).append(territories[tid])
    out = [{"policy": policies[pid], "territories": sorted(places, key=lambda t: (t.level, t.code))}
           for pid, places in grouped.items()]
    out.sort(key=lambda r: r["policy"].code)
    return out


@bp.route("/annuaire")
@requires("territory.read")
def index():
    from core.views.pages import territory_choices

    session = db_session()
    policies = readable_policies(session)
    filters = read_filters(session, policies)
    rows = directory_rows(session, policies, filters)
    return render_template(
        "directory/index.html", rows=rows, filters=filters, policies=list(policies.values()),
        territories=territory_choices(), roles=[(r.value, role_label(r)) for r in DIRECTORY_ROLES]
        + [(CONTACT_ROLE, _("Responsable désigné de la politique"))],
        uncovered=uncovered(session, policies, filters), show_emails=can("contributor.email"))


@bp.route("/annuaire.csv")
@requires("territory.read")
def export():
    session = db_session()
    policies = readable_policies(session)
    filters = read_filters(session, policies)
    rows = directory_rows(session, policies, filters)
    show_emails = can("contributor.email")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    header = [_("Nom"), _("Rôle"), _("Territoire"), _("Code territoire"), _("Politiques")]
    if show_emails:
        header.append(_("Courriel"))
    writer.writerow(header)
    for row in rows:
        line = [row.name, row.role_label, row.territory.name if row.territory else _("partout"),
                row.territory.key if row.territory else "",
                _("toutes les politiques") if row.all_policies else " ".join(p.code for p in row.policies)]
        if show_emails:
            line.append(row.email)
        writer.writerow(line)
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=annuaire.csv"})
