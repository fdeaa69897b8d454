"""Demo publications: the barometer of ``make demo`` is populated from the start."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.api import Policy, PolicyFigure, PolicyStatus, plugin_settings, recompute
from plugins.barometre.snapshot import latest_publication, publish

DEMO_NOTE = "Publication de démonstration"


def publish_demo(session: Session, count: int | None = None) -> list[str]:
    """Publish the first ``count`` public policies (setting ``seed_publications``) that have
    never been published; the others stay drafts. Returns the codes published."""
    count = plugin_settings("barometre").get("seed_publications", 8) if count is None else count
    if session.scalar(select(PolicyFigure.id).limit(1)) is None:
        recompute(session)  # `pilote seed demo` calls this hook before computing the figures
    policies = session.scalars(
        select(Policy).where(Policy.is_public.is_(True), Policy.status == PolicyStatus.PUBLISHED)
        .options(selectinload(Policy.indicators)).order_by(Policy.code)).all()
    published = []
    for policy in policies[:count]:
        if latest_publication(session, policy.id) is None:
            publish(session, policy, author_id=None, note=DEMO_NOTE)
            published.append(policy.code)
    return published
