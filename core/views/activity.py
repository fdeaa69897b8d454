"""Activity feeds (per policy, territory, person) and featuring local successes.

Feeds read with ``territory.read`` and ``policy.read`` scoping (:mod:`core.activity`): a
policy or territory outside the viewer's scope is never shown, even on another subject's feed.
A person's feed is open to that person and to those whose delegation scope covers them
(``user.delegate``: coordinators of their territory, administrators).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.activity import (
    CHANNELS,
    KINDS,
    PERIODS,
    FeedFilter,
    contributor_counts,
    feed,
    since_days,
    subtree_ids,
    viewer_scope,
)
from core.db import session as db_session
from core.engine.recompute import reference_date
from core.models import Comment, FeaturedComment, Policy, User
from core.permissions import can, requires
from core.views.entry import actor, post_requires, safe_next

bp = Blueprint("activity", __name__)
DEFAULT_PERIOD = "365"


def kind_labels() -> dict[str, str]:
    return {"value": _("Valeurs saisies"), "import": _("Imports"), "weather": _("Météo"),
            "comment": _("Commentaires"), "reply": _("Réponses"), "decision": _("Décisions"),
            "proposal": _("Propositions traitées")}


def channel_labels() -> dict[str, str]:
    return {"form": _("formulaire"), "import": _("import"), "api": _("API"),
            "seed": _("chargement initial"), "job": _("tâche automatique"), "": "–"}


def period_labels() -> dict[str, str]:
    return {"7": _("7 derniers jours"), "30": _("30 derniers jours"), "90": _("90 derniers jours"),
            "365": _("12 derniers mois"), "tout": _("Depuis le début")}


def read_filters(**subject) -> tuple[FeedFilter, dict, int]:
    """The feed filter from ``?type=&periode=&auteur=&canal=&page=``, with the echoed values."""
    args = request.args
    kind = args.get("type", "")
    period = args.get("periode", DEFAULT_PERIOD)
    if period not in PERIODS and period != "tout":
        period = DEFAULT_PERIOD
    channel = args.get("canal", "")
    if channel not in CHANNELS:
        channel = ""
    try:
        author = int(args["auteur"]) if args.get("auteur") else None
    except ValueError:
        author = None
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    if "author_id" in subject:  # a person's feed: the ``auteur`` filter cannot widen it
        author = None
    else:
        subject["author_id"] = author
    wanted = FeedFilter(kinds={kind} if kind in KINDS else set(KINDS),
                        since=since_days(PERIODS.get(period), reference_date(None)), channel=channel,
                        **subject)
    echoed = {"type": kind if kind in KINDS else "", "periode": period, "canal": channel,
              "auteur": str(author) if author else ""}
    return wanted, echoed, page


def may_see_user(user: User) -> bool:
    """Their own feed, or a person inside one's delegation scope (administrators: everyone)."""
    if not current_user.is_authenticated:
        return False
    return user.id == current_user.id or can("user.delegate", user)


def _render(title: str, subject_kind: str, endpoint: str, endpoint_args: dict, *, counts: bool,
            back: tuple[str, str] | None = None, **subject):
    session = db_session()
    scope = viewer_scope(session)
    wanted, echoed, page = read_filters(**subject)
    result = feed(session, scope, wanted, page=page)
    people = contributor_counts(session, scope, wanted) if counts else []
    authors = sorted(((r["user_id"], r["name"]) for r in people), key=lambda p: p[1])
    linkable = {r["user_id"] for r in people if r["user_id"] == current_user.id}
    if people and can("user.delegate"):
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_([r["user_id"] for r in people])))}
        linkable |= {uid for uid, u in users.items() if can("user.delegate", u)}
    return render_template(
        "activity/feed.html", title=title, subject_kind=subject_kind, feed=result, filters=echoed,
        endpoint=endpoint, endpoint_args=endpoint_args,
        link_args={**endpoint_args, **{k: v for k, v in echoed.items() if v}}, people=people, authors=authors,
        linkable=linkable, kinds=kind_labels(), channels=channel_labels(), periods=period_labels(),
        counts=counts, back=back, show_author_filter=subject_kind != "user")


@bp.route("/activite")
@requires("territory.read")
def mine():
    return redirect(url_for("activity.user", user_id=current_user.id))


@bp.route("/activite/politique/<code>")
@requires("territory.read")
def policy(code: str):
    policy = db_session().scalar(select(Policy).where(Policy.code == code))
    if policy is None or not can("policy.read", policy):
        abort(404)  # an unreadable policy is not revealed
    return _render(_("Activité — %(name)s", name=policy.name), "policy", "activity.policy", {"code": code},
                   counts=True, back=(policy.name, url_for("core.policy", code=code)),
                   policy_ids={policy.id})


@bp.route("/activite/territoire/<level>/<code>")
@requires("territory.read")
def territory(level: str, code: str):
    from core.permissions import require
    from core.views.territory import find_territory

    place = find_territory(level, code)
    require("territory.read", place)
    return _render(_("Activité — %(name)s", name=place.name), "territory", "activity.territory",
                   {"level": level, "code": code}, counts=True,
                   back=(place.name, url_for("territory.sheet", level=level, code=code)),
                   territory_ids=subtree_ids(db_session(), place, whole=True))


@bp.route("/activite/utilisateur/<int:user_id>")
@requires("territory.read")
def user(user_id: int):
    person = db_session().get(User, user_id)
    if person is None or not may_see_user(person):
        abort(404)  # a person outside one's delegation scope is not revealed
    title = _("Mon activité") if person.id == current_user.id else _("Activité de %(name)s", name=person.name)
    return _render(title, "user", "activity.user", {"user_id": user_id}, counts=False, author_id=person.id)


# --------------------------------------------------------------------------- featured local successes
def _comment_or_404(comment_id: int) -> Comment:
    comment = db_session().get(Comment, comment_id)
    if comment is None:
        abort(404)
    return comment


@bp.route("/reussites/<int:comment_id>/mettre-en-avant", methods=["POST"])
@post_requires("comment.feature")
def feature(comment_id: int):
    """Show a local "results to highlight" comment on the policy's national page."""
    from core.recognition import highlight_type

    session = db_session()
    comment = _comment_or_404(comment_id)
    if not can("comment.feature", comment.policy):
        abort(403)
    if comment.parent_id is not None or comment.type != highlight_type():
        abort(400)
    back = safe_next(request.form.get("next"), url_for("core.policy", code=comment.policy.code))
    if session.scalar(select(FeaturedComment).where(FeaturedComment.comment_id == comment.id)) is None:
        with actor():
            session.add(FeaturedComment(comment_id=comment.id, featured_by_id=current_user.id,
                                        featured_at=dt.datetime.now(dt.timezone.utc)))
            session.commit()
    flash(_("Réussite mise en avant sur la page nationale."), "success")
    return redirect(back)


@bp.route("/reussites/<int:comment_id>/retirer", methods=["POST"])
@post_requires("comment.feature")
def unfeature(comment_id: int):
    session = db_session()
    comment = _comment_or_404(comment_id)
    if not can("comment.feature", comment.policy):
        abort(403)
    back = safe_next(request.form.get("next"), url_for("core.policy", code=comment.policy.code))
    row = session.scalar(select(FeaturedComment).where(FeaturedComment.comment_id == comment.id))
    if row is not None:
        with actor():
            session.delete(row)
            session.commit()
    flash(_("Réussite retirée de la page nationale."), "success")
    return redirect(back)


# --------------------------------------------------------------------------- page partials
@bp.app_template_global()
def territory_recognition(territory, report=None) -> dict:
    """What ``pages/_recognition.html`` needs: the territory's contributions (signed-in users)
    and its results on the policies and indicators the viewer may read."""
    from core.recognition import contributions, results
    from core.views.pages import visible_territory_ids
    from core.views.territory import readable_policies

    session = db_session()
    today = reference_date(None)
    policies = readable_policies(session)
    indicators = [i for p in policies for i in p.indicators if can("indicator.read", i)]
    signed_in = current_user.is_authenticated
    return {
        "contributions": contributions(session, territory, [p.id for p in policies], report, today,
                                       visible=visible_territory_ids()) if signed_in else None,
        "results": results(session, territory, indicators, today),
        "feed_url": url_for("activity.territory", level=territory.level, code=territory.code)
        if signed_in else None,
    }


@bp.app_template_global()
def local_successes(policy) -> dict:
    """What ``activity/_highlights.html`` needs: featured local successes of the policy (signed-in
    users), and for its central referents the comments they may feature."""
    from core.recognition import candidates, featured
    from core.views.dialogue import type_label

    if not current_user.is_authenticated:
        return {"hidden": True}
    session = db_session()
    may_feature = can("comment.feature", policy)
    return {"hidden": False, "featured": featured(session, policy),
            "candidates": candidates(session, policy) if may_feature else [],
            "can_feature": may_feature, "type_label": type_label,
            "feed_url": url_for("activity.policy", code=policy.code),
            "next": request.full_path.rstrip("?")}
