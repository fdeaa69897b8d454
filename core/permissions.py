"""The one place that decides: :func:`can` for one object, :func:`scope` for listings.

Both ask every enabled plugin (``permission_check`` votes, ``scope_filter`` criteria) and the
core's own rules (:mod:`core.defaults`), which vote last.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import abort, current_app
from flask_login import current_user
from sqlalchemy import and_, true

from core.plugins import call_in_order
from core.specs import Action, GrantSpec

CORE_ACTIONS = [
    Action("policy.read", "Voir une politique et ses données"),
    Action("policy.read_draft", "Voir les politiques en brouillon"),
    Action("indicator.read", "Voir un indicateur et ses valeurs (public, ou après connexion)"),
    Action("value.write", "Saisir des valeurs d'indicateur"),
    Action("weather.write", "Saisir la météo et la synthèse"),
    Action("comment.write", "Écrire des commentaires"),
    Action("territory.read", "Voir les pages d'un territoire (dans son périmètre territorial)"),
    Action("roadmap.manage", "Composer la feuille de route d'un territoire et ses projets structurants"),
    Action("contributor.email", "Voir l'adresse électronique des contributeurs"),
    Action("value.propose", "Proposer une valeur corrigée (validée par un référent)"),
    Action("value.review", "Valider ou refuser les propositions de valeur (référent central)"),
    Action("comment.feature", "Mettre en avant une réussite locale sur la page nationale d'une politique"),
    Action("catalog.edit", "Administrer le catalogue : politiques, indicateurs, maillages"),
    Action("user.manage", "Gérer les utilisateurs et leurs habilitations"),
    Action("instance.admin", "Administrer l'instance (extensions, configuration)"),
]


class UnknownAction(Exception):
    pass


def _state():
    return current_app.extensions["pilote"]


def effective_grants(user: Any) -> list[GrantSpec]:
    """The user's active grants: rows of the grant table plus those plugins supply
    (``user_grants``, e.g. DataPass), as :class:`GrantSpec` objects."""
    if not getattr(user, "is_authenticated", False):
        return []
    grants = [
        GrantSpec(role=g.role, territory_id=g.territory_id, organisation_id=g.organisation_id,
                  policy_ids=frozenset(p.id for p in g.policies), expires_at=g.expires_at,
                  source=g.source)
        for g in user.active_grants()
    ]
    for _, extra in call_in_order(_state().pm, "user_grants", user=user):
        grants.append(extra)
    return grants


def can(action: str, resource: Any = None, user: Any = None) -> bool:
    """True when ``user`` (default: the current user) may do ``action`` on ``resource``."""
    if action not in _state().actions:
        raise UnknownAction(action)
    user = current_user if user is None else user
    votes = _state().pm.hook.permission_check(user=user, action=action, resource=resource)
    return bool(votes) and False not in votes and True in votes


def scope(action: str, model: Any, user: Any = None):
    """A SQL criterion limiting ``model`` rows to those ``user`` may see for ``action``."""
    if action not in _state().actions:
        raise UnknownAction(action)
    user = current_user if user is None else user
    criteria = [c for c in _state().pm.hook.scope_filter(user=user, action=action, model=model)
                if c is not None]
    return and_(true(), *criteria)


def require(action: str, resource: Any = None) -> None:
    """Abort with 403 (401 for anonymous users) unless the current user may do ``action``."""
    if not can(action, resource):
        abort(401 if not current_user.is_authenticated else 403)


def requires(action: str):
    """View decorator for actions without a resource; the view is marked for the route audit."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            require(action)
            return view(*args, **kwargs)

        wrapped.pilote_permission = action
        return wrapped

    return decorator


def public(view):
    """Mark a view as deliberately open to anonymous users (checked by the route audit test)."""
    view.pilote_permission = "public"
    return view
