"""Territorial roadmaps and structuring projects, managed by prefects and territorial coordinators.

A roadmap is the set of policies a territory selects (:class:`core.models.RoadmapEntry`). A
structuring project is a policy of kind ``structuring_project`` belonging to the territory, with
impact / realisation indicators; the data engine computes its progress as their mean.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import DecimalField, FieldList, FormField, SelectField, StringField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from core.db import session as db_session
from core.engine.recompute import reference_date
from core.engine.values import ValueInput, save_values
from core.models import (
    Channel,
    Indicator,
    IndicatorCategory,
    IndicatorWeight,
    Organisation,
    Policy,
    PolicyStatus,
    RoadmapEntry,
    TargetScope,
    Territory,
    ValueKind,
)
from core.permissions import require, requires, scope
from core.views.territory import find_territory

bp = Blueprint("roadmaps", __name__)
STRUCTURING_PROJECT = "structuring_project"


def roadmap_candidates(session) -> list[Policy]:
    """Published policies the current user may read, other than structuring projects."""
    return list(session.scalars(
        select(Policy).where(scope("policy.read", Policy), Policy.status == PolicyStatus.PUBLISHED,
                             Policy.kind != STRUCTURING_PROJECT).order_by(Policy.code)))


def set_roadmap(session, territory: Territory, policy_ids: set[int], user_id: int | None) -> tuple[int, int]:
    """Make the roadmap of ``territory`` exactly ``policy_ids`` (among the user's candidates);
    returns (added, removed). Entries outside the candidates are left alone."""
    candidates = {p.id for p in roadmap_candidates(session)}
    wanted = policy_ids & candidates
    current = {e.policy_id: e for e in session.scalars(
        select(RoadmapEntry).where(RoadmapEntry.territory_id == territory.id))}
    added = removed = 0
    for pid in sorted(wanted - set(current)):
        session.add(RoadmapEntry(territory_id=territory.id, policy_id=pid, added_by_id=user_id))
        added += 1
    for pid, entry in current.items():
        if pid in candidates and pid not in wanted:
            session.delete(entry)
            removed += 1
    return added, removed


@bp.route("/territoires/<level>/<code>/feuille-de-route", methods=["GET", "POST"])
@requires("roadmap.manage")
def edit(level: str, code: str):
    session = db_session()
    territory = find_territory(level, code)
    require("roadmap.manage", territory)
    if request.method == "POST":
        ids = {int(v) for v in request.form.getlist("policy") if v.isdigit()}
        added, removed = set_roadmap(session, territory, ids, current_user.id)
        session.commit()
        flash(_("Feuille de route enregistrée : %(added)s ajout(s), %(removed)s retrait(s).",
                added=added, removed=removed), "success")
        return redirect(url_for("roadmaps.edit", level=level, code=code))
    selected = set(session.scalars(select(RoadmapEntry.policy_id)
                                   .where(RoadmapEntry.territory_id == territory.id)))
    projects = session.scalars(select(Policy).where(
        Policy.kind == STRUCTURING_PROJECT, Policy.territory_id == territory.id,
        scope("policy.read", Policy)).order_by(Policy.code)).all()
    return render_template("pages/roadmap.html", territory=territory,
                           candidates=roadmap_candidates(session), selected=selected, projects=projects)


CATEGORIES = [SelectChoice(IndicatorCategory.IMPACT.value, _l("Impact")),
              SelectChoice(IndicatorCategory.REALISATION.value, _l("Réalisation"))]


class ProjectIndicatorForm(FlaskForm):
    class Meta:
        csrf = False  # the enclosing form carries the token

    name = StringField(_l("Nom de l'indicateur"), validators=[Optional(), Length(max=300)])
    unit = StringField(_l("Unité"), validators=[Optional(), Length(max=60)])
    category = SelectField(_l("Catégorie"), choices=CATEGORIES, default=IndicatorCategory.IMPACT.value)
    baseline = DecimalField(_l("Valeur initiale"), validators=[Optional()])
    target = DecimalField(_l("Cible finale"), validators=[Optional()])


class ProjectForm(FlaskForm):
    name = StringField(_l("Nom du projet"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    organisation = SelectField(_l("Ministère"), coerce=int)
    target_date = StringField(_l("Échéance (AAAA-MM-JJ)"), validators=[DataRequired()])
    indicators = FieldList(FormField(ProjectIndicatorForm), min_entries=3, max_entries=3)

    def validate_target_date(self, field):
        try:
            dt.date.fromisoformat(field.data)
        except (TypeError, ValueError):
            raise ValidationError(_("Date attendue au format AAAA-MM-JJ."))

    def validate_indicators(self, field):
        named = [row for row in field.entries if row.form.name.data]
        if not named:
            raise ValidationError(_("Un projet structurant doit avoir au moins un indicateur."))
        for row in named:
            if row.form.baseline.data is None or row.form.target.data is None:
                raise ValidationError(_("Indiquez la valeur initiale et la cible de « %(name)s ».",
                                   name=row.form.name.data))


def next_project_code(session, territory: Territory) -> str:
    prefix = f"PS-{re.sub(r'[^A-Za-z0-9]', '', territory.code)}-"
    count = session.scalar(select(func.count()).select_from(Policy).where(Policy.code.like(prefix + "%")))
    return f"{prefix}{count + 1:03d}"


def create_project(session, territory: Territory, form: ProjectForm, user_id: int | None) -> Policy:
    """A published structuring project of ``territory`` with its indicators, baselines and
    targets, added to the territory's roadmap; figures are recomputed."""
    code = next_project_code(session, territory)
    project = Policy(code=code, name=form.name.data, description=form.description.data or "",
                     kind=STRUCTURING_PROJECT, status=PolicyStatus.PUBLISHED, territory_id=territory.id,
                     organisation_id=form.organisation.data or None, is_territorialised=True,
                     targets_expected=True)
    session.add(project)
    session.flush()
    today = reference_date(None)
    target_date = dt.date.fromisoformat(form.target_date.data)
    entries = []
    named = [row.form for row in form.indicators.entries if row.form.name.data]
    for position, sub in enumerate(named, start=1):
        indicator = Indicator(code=f"{code}-I{position}", policy_id=project.id, name=sub.name.data,
                              unit=sub.unit.data or "", category=IndicatorCategory(sub.category.data),
                              aggregation_method="sum", position=position)
        indicator.weights.append(IndicatorWeight(level=territory.level, weight=100 / len(named)))
        session.add(indicator)
        session.flush()
        entries += [
            ValueInput(indicator.id, territory.id, ValueKind.BASELINE, today, sub.baseline.data),
            ValueInput(indicator.id, territory.id, ValueKind.TARGET, target_date, sub.target.data,
                       target_scope=TargetScope.FINAL),
        ]
    session.add(RoadmapEntry(territory_id=territory.id, policy_id=project.id, added_by_id=user_id))
    session.flush()
    save_values(session, entries, channel=Channel.FORM, author_id=user_id,
                note="structuring project creation")
    return project


@bp.route("/territoires/<level>/<code>/projets/nouveau", methods=["GET", "POST"])
@requires("roadmap.manage")
def new_project(level: str, code: str):
    session = db_session()
    territory = find_territory(level, code)
    require("roadmap.manage", territory)
    form = ProjectForm()
    form.organisation.choices = [SelectChoice(0, _("— aucun —"))] + [
        SelectChoice(o.id, f"{o.acronym} – {o.name}") for o in session.scalars(select(Organisation).order_by(Organisation.acronym))]
    if form.validate_on_submit():
        project = create_project(session, territory, form, current_user.id)
        session.commit()
        flash(_("Projet structurant « %(name)s » créé.", name=project.name), "success")
        return redirect(url_for("core.policy", code=project.code, territoire=territory.key))
    return render_template("pages/project_form.html", territory=territory, form=form)
