"""Reports on demand: the request form, the progress of queued reports, downloads, and the
stable PDF links of a policy or territory page. Every route needs a signed-in user; what goes
into a PDF is filtered by that user's permissions (see core.reports.model)."""

from __future__ import annotations

from pathlib import Path

from flask import (Blueprint, Response, abort, jsonify, redirect, render_template,
                   request, send_file, url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, RadioField, SelectMultipleField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from core.db import session as db_session
from core.models import Policy, PolicyStatus, ReportRequest, ReportStatus, Territory, User
from core.permissions import can, scope
from core.reports.model import Selection, SelectionError, build_report
from core.reports.housekeeping import fail_interrupted
from core.reports.service import create_request, file_of, make_pdf
from core.views.pages import territory_choices

bp = Blueprint("reports", __name__, url_prefix="/rapports")
STATIC = Path(__file__).resolve().parents[1] / "reports" / "static"


def signed_in(view):
    """Any signed-in user (anonymous visitors go to the sign-in page); content is filtered."""
    wrapped = login_required(view)
    wrapped.pilote_permission = "authenticated"
    return wrapped


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ReportForm(FlaskForm):
    kind = RadioField(_l("Document"), choices=[SelectChoice("report", _l("Rapport détaillé")),
                                               SelectChoice("brief", _l("Fiche conducteur (une page)"))],
                      default="report")
    policies = MultiCheckboxField(_l("Politiques"), choices=[], validate_choice=True)
    territories = SelectMultipleField(_l("Territoires"), choices=[], validate_choice=True)
    period_start = DateField(_l("Début de la période"), validators=[Optional()])
    period_end = DateField(_l("Fin de la période"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.period_start.data and self.period_end.data and self.period_start.data > self.period_end.data:
            self.period_end.errors.append(_("La fin de la période doit suivre son début."))
            ok = False
        if self.kind.data == "brief":
            policies, territories = len(self.policies.data or []), len(self.territories.data or [])
            if not ((policies == 1 and territories <= 1) or (policies == 0 and territories == 1)):
                self.kind.errors.append(_("Une fiche conducteur porte sur une politique dans un "
                                          "territoire, ou sur un territoire."))
                ok = False
        return ok


def _readable_policies() -> list[Policy]:
    return db_session().scalars(
        select(Policy).where(scope("policy.read", Policy), Policy.status != PolicyStatus.ARCHIVED)
        .order_by(Policy.code)).all()


def _readable_territories() -> list[Territory]:
    return [t for t in territory_choices() if can("territory.read", t)]


def _mine(code: str) -> ReportRequest:
    """The request ``code``, if the current user asked for it (administrators see all)."""
    found = db_session().scalar(select(ReportRequest).where(ReportRequest.code == code))
    if found is None:
        abort(404)
    if found.user_id != current_user.id and not can("instance.admin"):
        abort(404)  # someone else's: not even its existence is shown
    if found.status in (ReportStatus.QUEUED, ReportStatus.RUNNING):
        fail_interrupted(user_id=found.user_id, channel="page")  # its worker may have died
    return found


def _available(item: ReportRequest) -> bool:
    """Done and its PDF still on disk."""
    return item.status is ReportStatus.DONE and item.expired_at is None and file_of(item) is not None


def _retryable(item: ReportRequest) -> bool:
    """Failed, or done but its PDF is gone (expired by retention, or removed)."""
    return item.status is ReportStatus.FAILED or (item.status is ReportStatus.DONE and not _available(item))


@bp.route("/", methods=["GET", "POST"])
@signed_in
def index():
    form = ReportForm()
    form.policies.choices = [SelectChoice(p.code, p.name) for p in _readable_policies()]
    form.territories.choices = [SelectChoice(t.key, t.name) for t in _readable_territories()]
    if request.method == "GET":
        form.policies.data = request.args.getlist("politique") or None
        form.territories.data = request.args.getlist("territoire") or None
    if form.validate_on_submit():
        selection = Selection(tuple(form.policies.data or ()), tuple(form.territories.data or ()),
                              form.period_start.data, form.period_end.data,
                              form.kind.data == "brief")
        try:
            report = build_report(db_session(), selection, current_user)
        except SelectionError as exc:
            form.kind.errors.append(str(exc))
        else:
            chapters = 1 if report.brief else len(report.chapters)
            made = create_request(current_user._get_current_object(), selection, report.title, chapters)
            return redirect(url_for("reports.status", code=made.code))
    fail_interrupted(user_id=current_user.id, channel="page")  # productions whose worker died
    mine = db_session().scalars(select(ReportRequest).where(ReportRequest.user_id == current_user.id)
                                .order_by(ReportRequest.id.desc()).limit(20)).all()
    return render_template("reports/index.html", form=form, requests=mine, available=_available,
                           retryable=_retryable), (400 if form.errors else 200)


@bp.route("/demandes/<code>")
@signed_in
def status(code: str):
    item = _mine(code)
    return render_template("reports/status.html", item=item, available=_available(item),
                           retryable=_retryable(item), message=_status_message(item))


@bp.route("/demandes/<code>/etat")
@signed_in
def state(code: str):
    item = _mine(code)
    done = _available(item)
    return jsonify(status=item.status.value, progress=item.progress,
                   message=_status_message(item), expired=item.status is ReportStatus.DONE and not done,
                   download=url_for("reports.download", code=item.code) if done else None)


def _status_message(item: ReportRequest) -> str:
    if item.status is ReportStatus.FAILED and item.failure == "interrupted":
        return _("La production du document s'est interrompue avant la fin (le traitement a été "
                 "arrêté ou a dépassé le délai prévu). Vous pouvez la relancer.")
    if item.status is ReportStatus.DONE and not _available(item):
        return _("Ce document a expiré : il n'est plus conservé. Vous pouvez le produire à nouveau.")
    return {
        ReportStatus.QUEUED: _("En attente de traitement…"),
        ReportStatus.RUNNING: _("Production en cours : %(progress)s %%", progress=item.progress),
        ReportStatus.DONE: _("Le document est prêt (%(pages)s pages).", pages=item.pages),
        ReportStatus.FAILED: _("La production du document a échoué."),
    }[item.status]


@bp.route("/demandes/<code>/relancer", methods=["POST"])
@signed_in
def retry(code: str):
    """Produce a failed or expired request again, as a new request of the same requester
    (an administrator may retry anyone's: the PDF still holds what its requester may read)."""
    item = _mine(code)
    if not _retryable(item):
        abort(409)  # still in production, or ready: nothing to retry
    requester = db_session().get(User, item.user_id)
    if requester is None or not requester.is_active:
        abort(409)
    made = create_request(requester, Selection.from_json(item.selection), item.title, item.sections,
                          locale=item.selection.get("locale", ""))
    return redirect(url_for("reports.status", code=made.code))


@bp.route("/demandes/<code>.pdf")
@signed_in
def download(code: str):
    item = _mine(code)
    path = file_of(item)
    if not _available(item) or path is None:
        abort(404)
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"{'fiche' if item.kind == 'brief' else 'rapport'}-{item.code[:8]}.pdf")


def _pdf(selection: Selection, name: str) -> Response:
    try:
        pdf = make_pdf(selection, current_user._get_current_object())
    except SelectionError:
        abort(404)
    return Response(pdf.data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


def _policy_or_404(code: str) -> Policy:
    policy = db_session().scalar(select(Policy).where(Policy.code == code))
    if policy is None or not can("policy.read", policy):
        abort(404)  # unreadable policies are not revealed
    return policy


def _territory_arg() -> tuple[str, ...]:
    key = request.args.get("territoire", "").strip()
    if key:
        level, _sep, code = key.partition("-")
        territory = db_session().scalar(select(Territory).where(
            Territory.level == level, Territory.code == code, Territory.valid_to.is_(None)))
        if territory is None or not can("territory.read", territory):
            abort(404)
    return (key,) if key else ()


@bp.route("/politique/<code>.pdf")
@signed_in
def policy_pdf(code: str):
    """The detailed report of one policy in one territory (``?territoire=<level>-<code>``)."""
    policy = _policy_or_404(code)
    return _pdf(Selection((policy.code,), _territory_arg()), f"rapport-{policy.code}")


@bp.route("/fiche/politique/<code>.pdf")
@signed_in
def policy_brief(code: str):
    """The one-page brief of one policy in one territory (``?territoire=``, default: top)."""
    policy = _policy_or_404(code)
    return _pdf(Selection((policy.code,), _territory_arg(), brief=True), f"fiche-{policy.code}")


@bp.route("/fiche/territoire.pdf")
@signed_in
def territory_brief():
    """The one-page brief of a territory (``?territoire=``, default: top): its policies."""
    territories = _territory_arg()
    if not territories:
        from core.reports.model import top_territory

        top = top_territory(db_session())
        territories = (top.key,) if top else ()
    return _pdf(Selection((), territories, brief=True), f"fiche-{territories[0] if territories else 'territoire'}")


@bp.route("/statut.js")
@signed_in
def status_script():
    """The progress poller of the status page (a file: the CSP forbids inline scripts)."""
    response = send_file(STATIC / "status.js", mimetype="text/javascript", max_age=300)
    return response
