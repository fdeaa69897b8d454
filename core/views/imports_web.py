"""Bulk import through the web: upload a CSV/XLSX file, see the dry run (what would change,
or every problem located by file, row, column), confirm to apply it all or nothing, list
one's imports and revert them. Rows outside the user's grants are problems of their own.

Big files run as the job ``entry.import`` (RQ when Redis is configured, inline otherwise);
the upload and its report are kept under the instance's ``var/…/uploads`` (or the
``PILOTE_UPLOAD_DIR`` setting).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from core.db import session as db_session
from core.imports.report import ImportReport
from core.imports.service import ParsedImport, revert_import, run_import
from core.imports.zones import ZoneResolver
from core.jobs import enqueue, get_queue
from core.models import ImportBatch, Indicator, Policy, Role, Territory, User
from core.permissions import effective_grants, requires
from core.views.entry import post_requires
from core.plugins import hookimpl
from core.specs import JobSpec

bp = Blueprint("imports_web", __name__, url_prefix="/imports")
FORMATS = {"pilote": "PILOTE (identifiant_indic, zone_id, date_valeur, type_valeur, valeur)",
           "native": "Pilote (indicator, territory_level, territory_code, kind, date, value)"}
EXTENSIONS = {".csv", ".xlsx"}
BIG_FILE = 1_000_000  # bytes: above this, the work goes to the queue when there is one
JOB = "entry.import"


def upload_dir() -> Path:
    folder = Path(current_app.config.get("PILOTE_UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _meta_path(token: str) -> Path:
    if not token or not all(c in "0123456789abcdef" for c in token) or len(token) != 32:
        abort(404)
    return upload_dir() / f"{token}.json"


def load_upload(token: str, user_id: int) -> dict:
    """The upload's metadata; 404 unless it exists and belongs to ``user_id``."""
    path = _meta_path(token)
    if not path.exists():
        abort(404)
    meta = json.loads(path.read_text(encoding="utf-8"))
    if meta["user_id"] != user_id:
        abort(404)
    return meta


def save_meta(meta: dict) -> None:
    _meta_path(meta["token"]).write_text(json.dumps(meta, default=str), encoding="utf-8")


# --------------------------------------------------------------------------- scope
def out_of_scope_rows(parsed: ParsedImport, user: User) -> None:
    """Add a problem for every row the user may not write (indicator's policy or territory
    outside their grants) and drop that row, so that nothing of it can be written."""
    from core.views.entry import may

    session = db_session()
    if any(g.role is Role.ADMIN for g in effective_grants(user)):
        return
    resolver = ZoneResolver(session)
    codes = {code.upper(): (iid, pid) for iid, code, pid in
             session.execute(select(Indicator.id, Indicator.code, Indicator.policy_id))}
    verdicts: dict[tuple, bool] = {}
    for row in parsed.rows:
        found = codes.get((row.indicator or "").strip().upper())
        tid, _reason = resolver.try_resolve(row.zone, row.level)
        if found is None or tid is None:
            continue  # the import engine reports unknown indicators and zones
        key = (found[1], tid)
        if key not in verdicts:
            verdicts[key] = may("value.write", session.get(Policy, found[1]),
                                session.get(Territory, tid), user=user)
        if not verdicts[key]:
            parsed.report.problem(row.file, row.row, row.columns.get("zone"), row.zone,
                                  _("hors de vos habilitations : vous ne pouvez pas saisir %(indicator)s sur ce territoire",
                                    indicator=row.indicator))
            row.valid = False
            row.reported = row.reported | {"zone", "indicator"}


def parse_upload(fmt: str, path: Path, name: str) -> ParsedImport:
    """Read the stored file, problems located under the name the user uploaded."""
    if fmt == "native":
        from core.imports.native import parse_native

        return parse_native(path, display_name=name)
    from core.imports.pilote_format import parse_pilote

    return parse_pilote(path, display_name=name)


def process(token: str, user_id: int, apply: bool) -> dict:
    """Parse, check the scope, then dry-run or apply; store and return the report."""
    from core.audit import acting_as

    session = db_session()
    user = session.get(User, user_id)
    meta = load_upload(token, user_id)
    path = upload_dir() / meta["stored"]
    parsed = parse_upload(meta["format"], path, meta["filename"])
    out_of_scope_rows(parsed, user)
    with acting_as(user.id, user.email, "import"):
        report = run_import(session, parsed, dry_run=not apply, erase_empty=meta["erase_empty"],
                            author_id=user.id, author_label=user.email)
    result = report.as_dict()
    meta["applied" if apply else "checked"] = result
    meta.pop("running", None)
    save_meta(meta)
    return result


def _job(token: str, user_id: int, apply: bool) -> dict:
    return process(token, user_id, apply)


@hookimpl(trylast=True, specname="register_jobs")
def import_jobs():
    return [JobSpec(JOB, _job, "Vérifie ou applique un fichier importé par le web", owner="core")]


def run(meta: dict, apply: bool):
    """Inline for small files or without Redis; otherwise queued (the page then waits)."""
    if meta["size"] > BIG_FILE and get_queue(current_app) is not None:
        meta["running"] = "apply" if apply else "check"
        save_meta(meta)
        enqueue(JOB, token=meta["token"], user_id=meta["user_id"], apply=apply)
        return None
    return process(meta["token"], meta["user_id"], apply)


# --------------------------------------------------------------------------- pages
@bp.route("/")
@requires("value.write")
def index():
    """The upload form and my imports (every import for administrators and central steering)."""
    session = db_session()
    query = select(ImportBatch).order_by(ImportBatch.id.desc()).limit(100)
    roles = {g.role for g in effective_grants(current_user)}
    if not roles & {Role.ADMIN, Role.CENTRAL_STEERING}:
        query = query.where(ImportBatch.author_id == current_user.id)
    return render_template("imports/index.html", batches=session.scalars(query).all(),
                           formats=FORMATS, errors={})


@bp.route("/", methods=["POST"])
@post_requires("value.write")
def upload():
    """Store the file, then show its dry run."""
    upload_file = request.files.get("file")
    fmt = request.form.get("format", "pilote")
    errors = {}
    if fmt not in FORMATS:
        errors["format"] = _("Format inconnu.")
    if upload_file is None or not upload_file.filename:
        errors["file"] = _("Choisissez un fichier CSV ou XLSX.")
    else:
        suffix = Path(upload_file.filename).suffix.lower()
        if suffix not in EXTENSIONS:
            errors["file"] = _("Le fichier doit être au format CSV ou XLSX.")
    if errors:
        session = db_session()
        batches = session.scalars(select(ImportBatch).where(ImportBatch.author_id == current_user.id)
                                  .order_by(ImportBatch.id.desc()).limit(100)).all()
        return render_template("imports/index.html", batches=batches, formats=FORMATS,
                               errors=errors), 422
    token = uuid.uuid4().hex
    stored = f"{token}{suffix}"
    target = upload_dir() / stored
    upload_file.save(target)
    meta = {"token": token, "user_id": current_user.id, "filename": Path(upload_file.filename).name[:200],
            "stored": stored, "format": fmt, "erase_empty": request.form.get("erase_empty") == "1",
            "size": target.stat().st_size}
    save_meta(meta)
    run(meta, apply=False)
    return redirect(url_for("imports_web.status", jeton=token))


@bp.route("/suivi")
@requires("value.write")
def status():
    """The dry run of an upload (``?jeton=``), or its result once applied."""
    meta = load_upload(request.args.get("jeton", ""), current_user.id)
    return render_template("imports/status.html", meta=meta, formats=FORMATS)


@bp.route("/appliquer", methods=["POST"])
@post_requires("value.write")
def apply():
    """Apply a checked upload, all or nothing (checked again: data may have changed)."""
    meta = load_upload(request.form.get("jeton", ""), current_user.id)
    if "applied" in meta and meta["applied"].get("applied"):
        flash(_("Ce fichier a déjà été importé."), "warning")
        return redirect(url_for("imports_web.status", jeton=meta["token"]))
    result = run(meta, apply=True)
    if result is None:
        flash(_("L'import est en cours ; cette page affichera son résultat."), "info")
    elif result.get("applied"):
        flash(_("Import n° %(id)s appliqué.", id=result.get("batch_id")), "success")
    else:
        flash(_("Import refusé : rien n'a été écrit."), "error")
    return redirect(url_for("imports_web.status", jeton=meta["token"]))


@bp.route("/<int:batch_id>/annuler", methods=["POST"])
@post_requires("value.write")
def revert(batch_id: int):
    """Revert a whole import (its author, administrators and central steering)."""
    from core.audit import acting_as

    session = db_session()
    batch = session.get(ImportBatch, batch_id)
    if batch is None:
        abort(404)
    roles = {g.role for g in effective_grants(current_user)}
    if batch.author_id != current_user.id and not roles & {Role.ADMIN, Role.CENTRAL_STEERING}:
        abort(403)
    with acting_as(current_user.id, current_user.email, "form"):
        report: ImportReport = revert_import(session, batch_id, author_id=current_user.id)
    if report.applied:
        flash(_("Import n° %(id)s annulé : les valeurs précédentes sont rétablies.", id=batch_id), "success")
    else:
        flash(_("Annulation refusée : %(why)s", why="; ".join(p.reason for p in report.problems)), "error")
    return redirect(url_for("imports_web.index"))


@hookimpl(trylast=True, specname="menu_items")
def entry_menu_items(user):
    """Navigation entries of data entry and administration (shown to who may use them)."""
    from flask_babel import lazy_gettext as _l

    from core.specs import MenuItem

    return [MenuItem(_l("Import de fichiers"), "imports_web.index", action="value.write", order=50),
            MenuItem(_l("Propositions"), "proposals.index", action="value.propose", order=51),
            MenuItem(_l("Catalogue"), "admin_catalog.index", action="catalog.edit", order=90)]
