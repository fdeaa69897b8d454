"""Open data of exactly what is published: CSV tables with their Table Schema, and the
barometer open-data format (``ind-<id>.csv`` + ``ind-<id>.schema.json``, one zip for all)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

from flask import Response, abort, render_template
from sqlalchemy import select

from core.api import (
    BAROMETRE_COLUMNS,
    ExportColumn,
    ExportTable,
    Territory,
    barometre_file_stem,
    barometre_table_schema,
    barometre_zone_of,
    csv_bytes,
    db_session,
    export_table_schema,
    public,
)
from plugins.barometre.public import public_policies
from plugins.barometre.snapshot import figures_of, public_levels, series_of
from plugins.barometre.views import bp

TERRITORY = [ExportColumn("territory_level", "Maille"), ExportColumn("territory_code", "Code du territoire"),
             ExportColumn("territory_name", "Territoire")]
POLICY_COLUMNS = [
    ExportColumn("policy_code", "Code de la politique"), ExportColumn("policy_name", "Politique"),
    ExportColumn("group_code", "Code du regroupement"), ExportColumn("group_name", "Regroupement"),
    *TERRITORY,
    ExportColumn("progress", "Taux d'avancement global (%)", "number"),
    ExportColumn("weather", "Météo", description="secured, achievable, support_needed, compromised "
                                                  "or not_set"),
    ExportColumn("last_value_date", "Date de la dernière valeur", "date"),
    ExportColumn("published_at", "Publié le (UTC)", "datetime"),
]
INDICATOR_COLUMNS = [
    ExportColumn("policy_code", "Code de la politique"),
    ExportColumn("indicator_code", "Code de l'indicateur"), ExportColumn("indicator_name", "Indicateur"),
    ExportColumn("unit", "Unité"), *TERRITORY,
    ExportColumn("baseline", "Valeur initiale", "number"),
    ExportColumn("baseline_date", "Date de la valeur initiale", "date"),
    ExportColumn("actual", "Valeur actuelle", "number"),
    ExportColumn("actual_date", "Date de la valeur actuelle", "date"),
    ExportColumn("target", "Cible", "number"), ExportColumn("target_date", "Date de la cible", "date"),
    ExportColumn("progress", "Taux d'avancement (%)", "number"),
    ExportColumn("published_at", "Publié le (UTC)", "datetime"),
]
TABLES = {"politiques": "policies", "indicateurs": "indicators"}


def _names(session) -> dict[tuple[str, str], str]:
    return {(level, code): name for level, code, name in session.execute(
        select(Territory.level, Territory.code, Territory.name)
        .where(Territory.level.in_(public_levels()), Territory.valid_to.is_(None)))}


def published_table(session, name: str) -> ExportTable:
    """The ``policies`` or ``indicators`` table of the current publications."""
    items = public_policies(session)
    levels = public_levels()
    rank = {key: n for n, key in enumerate(levels)}
    names = _names(session)
    by_id = {item.publication.id: item for item in items}
    figures = [f for f in figures_of(session, list(by_id)) if f.level in rank]
    rows = []
    if name == "policies":
        for f in figures:
            item = by_id[f.publication_id]
            if f.indicator_code:
                continue
            group = item.content.get("group") or {}
            rows.append((item.code, [item.code, item.content["name"], group.get("code"), group.get("name"),
                                     f.level, f.code, names.get((f.level, f.code)), f.progress,
                                     f.weather or "not_set", f.actual_date, item.publication.created_at],
                         rank[f.level], f.code, ""))
        table = ExportTable("barometre_policies", "Avancement publié des politiques", POLICY_COLUMNS,
                            primary_key=("policy_code", "territory_level", "territory_code"))
    else:
        for f in figures:
            item = by_id[f.publication_id]
            meta = next((i for i in item.indicators if i["code"] == f.indicator_code), None)
            if meta is None:
                continue
            rows.append((item.code, [item.code, meta["code"], meta["name"], meta["unit"], f.level, f.code,
                                     names.get((f.level, f.code)), f.baseline, f.baseline_date, f.actual,
                                     f.actual_date, f.target, f.target_date, f.progress,
                                     item.publication.created_at],
                         rank[f.level], f.code, meta["code"]))
        table = ExportTable("barometre_indicators", "Valeurs publiées des indicateurs", INDICATOR_COLUMNS,
                            primary_key=("indicator_code", "territory_level", "territory_code"))
    rows.sort(key=lambda r: (r[0], r[4], r[2], r[3]))
    table.rows = [row for _policy, row, *_ in rows]
    return table


def barometre_files(session, stem: str | None = None) -> dict[str, bytes]:
    """``ind-<id>.csv`` and ``ind-<id>.schema.json`` of every published indicator (or of the
    one whose file is named ``stem``)."""
    files = {}
    for item in public_policies(session):
        wanted = [m for m in item.indicators if stem is None or barometre_file_stem(m["code"]) == stem]
        if not wanted:
            continue
        series = series_of(session, item.publication.id)
        for meta in wanted:
            rows = []
            for code, key, day, level, *values in series.get(meta["code"], []):
                zone = barometre_zone_of(level, key[len(level) + 1:]) if level in public_levels() else None
                if zone is not None:
                    rows.append([code, zone[1], day, zone[0], *values])
            rows.sort(key=lambda r: (r[3], r[1], r[2]))
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(BAROMETRE_COLUMNS)
            writer.writerows(rows)
            name = barometre_file_stem(meta["code"])
            files[f"{name}.csv"] = buffer.getvalue().encode("utf-8")
            files[f"{name}.schema.json"] = (json.dumps(
                barometre_table_schema(meta["code"], meta["name"]), ensure_ascii=False, indent=2)
                + "\n").encode("utf-8")
    return files


def _download(body: bytes, filename: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/donnees")
@public
def data():
    policies = public_policies(db_session())
    files = sorted(f"{barometre_file_stem(i['code'])}.csv" for p in policies for i in p.indicators)
    return render_template("barometre/data.html", policies=policies, files=files)


def _table_csv(kind: str) -> Response:
    table = published_table(db_session(), TABLES[kind])
    return _download(csv_bytes(table), f"barometre-{kind}.csv", "text/csv")


def _table_schema(kind: str) -> Response:
    table = published_table(db_session(), TABLES[kind])
    body = json.dumps(export_table_schema(table), ensure_ascii=False, indent=2) + "\n"
    return _download(body.encode("utf-8"), f"barometre-{kind}.schema.json", "application/json")


@bp.route("/donnees/politiques.csv")
@public
def policies_csv():
    return _table_csv("politiques")


@bp.route("/donnees/politiques.schema.json")
@public
def policies_schema():
    return _table_schema("politiques")


@bp.route("/donnees/indicateurs.csv")
@public
def indicators_csv():
    return _table_csv("indicateurs")


@bp.route("/donnees/indicateurs.schema.json")
@public
def indicators_schema():
    return _table_schema("indicateurs")


@bp.route("/donnees/barometre.zip")
@public
def barometre_zip():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in sorted(barometre_files(db_session()).items()):
            archive.writestr(name, body)
    return _download(buffer.getvalue(), "barometre.zip", "application/zip")


@bp.route("/donnees/barometre/<filename>")
@public
def barometre_file(filename: str):
    stem = filename.removesuffix(".csv").removesuffix(".schema.json")
    body = barometre_files(db_session(), stem).get(filename)
    if body is None:
        abort(404)
    mimetype = "text/csv" if filename.endswith(".csv") else "application/json"
    return _download(body, filename, mimetype)
