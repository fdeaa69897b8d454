"""Bulk import through the web: dry run, located errors, scope per row, apply, revert."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select

from core.testing.support import client_as, email, seeded_app

HEADER = "identifiant_indic;zone_id;zone_nom;date_valeur;type_valeur;valeur\n"


@pytest.fixture(scope="module")
def app(database_factory, tmp_path_factory):
    application = seeded_app(database_factory, PILOTE_UPLOAD_DIR=str(tmp_path_factory.mktemp("uploads")))
    yield application
    application.extensions["pilote"].db.dispose()


def upload(client, text, name="valeurs.csv", fmt="pilote"):
    return client.post("/imports/", data={"format": fmt, "file": (io.BytesIO(text.encode()), name)},
                       content_type="multipart/form-data", follow_redirects=True)


def values(app):
    from core.db import session
    from core.models import IndicatorValue

    with app.app_context():
        return session().scalar(select(func.count(IndicatorValue.id)))


def test_errors_are_reported_with_file_row_column_and_nothing_is_written(app):
    before = values(app)
    page = upload(client_as(app, "local_contributor"),
                  HEADER + "IND-1011;D69;;2026-10-01;va;12\nIND-1011;D69;;2026-10-02;va;abc\n"
                           "IND-1011;D99;;2026-10-03;va;3\n")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r"rien n(&#39;|')a été écrit", html)
    rows = re.findall(r"<tr><td>valeurs\.csv</td><th scope=\"row\">(\d+)</th><td>([^<]*)</td>", html)
    assert ("3", "valeur") in rows and ("4", "zone_id") in rows
    assert 'action="/imports/appliquer"' not in html
    assert values(app) == before


def test_rows_outside_the_grants_are_errors_of_their_own(app):
    before = values(app)
    html = upload(client_as(app, "local_contributor"),
                  HEADER + "IND-1011;D69;;2026-10-01;va;12\nIND-1011;D75;;2026-10-01;va;13\n"
                           "IND-1021;D69;;2026-10-01;va;14\n").get_data(as_text=True)
    problems = re.findall(r"<th scope=\"row\">(\d+)</th><td>[^<]*</td><td>[^<]*</td><td>hors de vos habilitations", html)
    assert problems == ["3", "4"]
    assert values(app) == before


def test_dry_run_then_apply_then_revert(app):
    from core.db import session
    from core.models import ImportBatch, IndicatorValue

    client = client_as(app, "local_contributor")
    page = upload(client, HEADER + "IND-1011;D69;;2026-10-01;va;1500\nIND-1011;D69;;2026-11-01;va;1510\n")
    html = page.get_data(as_text=True)
    assert "aucune erreur" in html and 'action="/imports/appliquer"' in html
    assert re.search(r"<th scope=\"row\">IND-1011</th><td>2</td>", html)  # two created
    before = values(app)
    assert values(app) == before  # the dry run wrote nothing
    token = re.search(r'name="jeton" value="([0-9a-f]{32})"', html).group(1)
    # another user cannot apply this upload
    assert client_as(app, "prefect").post("/imports/appliquer", data={"jeton": token}).status_code == 404
    applied = client.post("/imports/appliquer", data={"jeton": token}, follow_redirects=True)
    assert "appliqué" in applied.get_data(as_text=True)
    assert values(app) == before + 2
    with app.app_context():
        batch = session().scalar(select(ImportBatch).order_by(ImportBatch.id.desc()).limit(1))
        assert batch.filename == "valeurs.csv" and batch.author_label == email("local_contributor")
        batch_id = batch.id
    listing = client.get("/imports/").get_data(as_text=True)
    assert f"/imports/{batch_id}/annuler" in listing
    assert client_as(app, "prefect").post(f"/imports/{batch_id}/annuler").status_code == 403
    reverted = client.post(f"/imports/{batch_id}/annuler", follow_redirects=True)
    assert "annulé" in reverted.get_data(as_text=True)
    with app.app_context():
        row = session().scalar(select(IndicatorValue).where(IndicatorValue.date == dt.date(2026, 11, 1),
                                                            IndicatorValue.kind == "actual",
                                                            IndicatorValue.value.is_not(None),
                                                            IndicatorValue.channel == "import"))
        assert row is None


def test_upload_form_errors_and_permissions(app):
    bad = client_as(app, "local_contributor").post(
        "/imports/", data={"format": "pilote", "file": (io.BytesIO(b"x"), "notes.txt")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "CSV ou XLSX" in bad.get_data(as_text=True)
    reader = client_as(app, "reader")
    assert reader.get("/imports/").status_code == 403
    assert upload(reader, HEADER).status_code == 403
    assert client_as(app, "local_contributor").get("/imports/suivi?jeton=" + "0" * 32).status_code == 404


def test_a_native_xlsx_file_is_checked_too(app, tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["indicator", "territory_level", "territory_code", "kind", "date", "value"])
    sheet.append(["IND-1011", "department", "69", "actual", "2026-10-01", "oops"])
    buffer = io.BytesIO()
    book.save(buffer)
    client = client_as(app, "local_contributor")
    page = client.post("/imports/", data={"format": "native", "file": (io.BytesIO(buffer.getvalue()), "n.xlsx")},
                       content_type="multipart/form-data", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert re.search(r"<td>n\.xlsx</td><th scope=\"row\">2</th><td>value</td>", html)
