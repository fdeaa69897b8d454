"""Forms of the in-app access requests (Flask-WTF: CSRF included)."""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, SelectField, SelectMultipleField, TextAreaField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from core.api import Role

ROLE_LABELS = {
    Role.ADMIN: _l("Administrateur"),
    Role.CENTRAL_STEERING: _l("Pilotage central"),
    Role.MINISTRY_REFERENT: _l("Référent ministériel"),
    Role.PREFECT: _l("Préfet"),
    Role.TERRITORIAL_COORDINATOR: _l("Coordinateur territorial"),
    Role.LOCAL_CONTRIBUTOR: _l("Contributeur local"),
    Role.READER: _l("Lecteur"),
}
REQUESTABLE = [r for r in Role if r is not Role.ADMIN]
TERRITORIAL = {Role.PREFECT.value, Role.TERRITORIAL_COORDINATOR.value, Role.LOCAL_CONTRIBUTOR.value}


class RequestForm(FlaskForm):
    """Ask for a role on territories and policies, until a date, with a justification."""

    role = SelectField(_l("Profil demandé"), choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in REQUESTABLE],
                       validators=[DataRequired()])
    territories = SelectMultipleField(
        _l("Territoires"),
        description=_l("Chaque territoire vaut pour lui-même et les territoires qu'il contient. "
                       "Maintenez Ctrl (ou Cmd) pour en choisir plusieurs."))
    organisation = SelectField(_l("Périmètre ministériel"), validators=[Optional()])
    policies = SelectMultipleField(_l("Politiques"), validators=[Optional()],
                                   description=_l("Aucune : toutes celles du périmètre ministériel, ou toutes."))
    until = DateField(_l("Jusqu'au"), validators=[InputRequired(message=_l("Indiquez une date de fin."))])
    justification = TextAreaField(_l("Justification"), validators=[
        DataRequired(message=_l("Expliquez pourquoi vous avez besoin de cet accès.")),
        Length(min=20, max=5000, message=_l("Entre 20 et 5 000 caractères."))])
    version = HiddenField()

    def __init__(self, *args, today: dt.date, max_days: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.today, self.max_days = today, max_days

    def validate_territories(self, field):
        if self.role.data in TERRITORIAL and not field.data:
            raise ValidationError(_l("Ce profil s'exerce sur au moins un territoire."))

    def validate_until(self, field):
        if field.data is None:
            return
        if field.data <= self.today:
            raise ValidationError(_l("La date de fin doit être postérieure à aujourd'hui."))
        if field.data > self.today + dt.timedelta(days=self.max_days):
            raise ValidationError(_l("Au plus %(days)s jours.", days=self.max_days))


class ActionForm(FlaskForm):
    """A message, or a decision (the button pressed) with its message."""

    body = TextAreaField(_l("Message"), validators=[Optional(), Length(max=5000)])
    until = DateField(_l("Fin de l'habilitation (pour l'approbation)"), validators=[Optional()])
    version = IntegerField(validators=[InputRequired()])
