"""The reports page: request form, inline and queued (Redis) production, status, downloads
restricted to the requester, and the stable PDF links of policies and territories."""

from __future__ import annotations

import io
import re
import socket

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, select

from core.api import db_session
from core.models import ReportRequest
from core.testing.pytest_plugin import login, seed_demo

DOMAIN = "demo.pilote.example"


def text_of(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), " ".join(" ".join(p.extract_text().split()) for p in reader.pages)


def csrf(client) -> str:
    page = client.get("/rapports/").get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    return found.group(1) if found else ""


@pytest.fixture
def demo_reports(demo_app, tmp_path, monkeypatch):
    """The shared demo app with its PDFs in tmp_path; the requests made are deleted after."""
    monkeypatch.setitem(demo_app.config, "PILOTE_REPORTS_DIR", str(tmp_path))
    with demo_app.app_context():
        before = set(db_session().scalars(select(ReportRequest.id)))
    yield demo_app
    with demo_app.app_context():
        db_session().execute(delete(ReportRequest).where(ReportRequest.id.not_in(before)))
        db_session().commit()


def signed_in(app, role):
    client = app.test_client()
    assert login(client, f"{role}@{DOMAIN}").status_code == 302
    return client


def test_anonymous_visitors_are_sent_to_sign_in(demo_app):
    client = demo_app.test_client()
    for url in ("/rapports/", "/rapports/politique/CH-101.pdf", "/rapports/fiche/territoire.pdf"):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion" in response.location, url


def test_request_inline_then_download_only_by_the_requester(demo_reports, tmp_path):
    client = signed_in(demo_reports, "local_contributor")
    page = client.get("/rapports/").get_data(as_text=True)
    assert 'value="CH-101"' in page and 'value="department-69"' in page
    assert 'value="department-13"' not in page  # not in the contributor's grant
    response = client.post("/rapports/", data={
        "csrf_token": csrf(client), "kind": "report", "policies": ["CH-101", "CH-201"],
        "territories": ["department-69"], "period_start": "2026-01-01", "period_end": "2026-10-31"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    code = response.location.rstrip("/").rsplit("/", 1)[1]
    # no Redis here: produced inline, ready at once
    state = client.get(f"/rapports/demandes/{code}/etat").get_json()
    assert state["status"] == "done" and state["progress"] == 100 and state["download"]
    status_page = client.get(f"/rapports/demandes/{code}").get_data(as_text=True)
    assert 'role="status"' in status_page and "Télécharger le PDF" in status_page
    download = client.get(state["download"])
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    pages, body = text_of(download.data)
    assert pages >= 4 and "Rhône" in body and "du 1 janvier 2026 au 31 octobre 2026" in body
    assert (tmp_path / f"{code}.pdf").is_file()  # stored in the data folder
    # listed on the page, downloadable by its requester and administrators only
    assert code in client.get("/rapports/").get_data(as_text=True)
    other = signed_in(demo_reports, "reader")
    for url in (f"/rapports/demandes/{code}", f"/rapports/demandes/{code}/etat", state["download"]):
        assert other.get(url).status_code == 404, url  # someone else's: not revealed
    assert signed_in(demo_reports, "admin").get(state["download"]).status_code == 200
    assert client.get("/rapports/demandes/nope.pdf").status_code == 404


def test_bad_requests_are_refused_with_located_errors(demo_reports):
    client = signed_in(demo_reports, "local_contributor")
    token = csrf(client)
    with demo_reports.app_context():
        count = len(db_session().scalars(select(ReportRequest.id)).all())
    outside = client.post("/rapports/", data={"csrf_token": token, "kind": "report",
                                              "territories": ["department-13"]})
    assert outside.status_code == 400
    assert "form-field--error" in outside.get_data(as_text=True)
    brief = client.post("/rapports/", data={"csrf_token": token, "kind": "brief",
                                            "policies": ["CH-101", "CH-201"]})
    assert brief.status_code == 400
    assert "Une fiche conducteur porte sur une politique" in brief.get_data(as_text=True)
    period = client.post("/rapports/", data={"csrf_token": token, "kind": "report",
                                             "period_start": "2026-05-01", "period_end": "2026-01-01"})
    assert period.status_code == 400 and "La fin de la période doit suivre son début." in \
        period.get_data(as_text=True)
    with demo_reports.app_context():
        assert len(db_session().scalars(select(ReportRequest.id)).all()) == count


def test_stable_pdf_links_of_policies_and_territories(demo_app):
    client = signed_in(demo_app, "local_contributor")
    report = client.get("/rapports/politique/CH-101.pdf?territoire=department-69")
    assert report.status_code == 200 and report.mimetype == "application/pdf"
    pages, body = text_of(report.data)
    assert pages >= 3 and "Rhône" in body
    # what the user may not read is not revealed
    assert client.get("/rapports/politique/CH-101.pdf?territoire=department-13").status_code == 404
    assert client.get("/rapports/politique/CH-102.pdf").status_code == 404  # not granted
    assert client.get("/rapports/politique/NOPE-0.pdf").status_code == 404
    brief = client.get("/rapports/fiche/politique/CH-101.pdf?territoire=department-69")
    assert brief.status_code == 200 and text_of(brief.data)[0] == 1
    sheet = client.get("/rapports/fiche/territoire.pdf?territoire=department-69")
    pages, body = text_of(sheet.data)
    assert pages == 1 and "Rhône" in body


def redis_url():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/14"


def test_big_reports_are_queued_on_redis_with_progress(make_app, tmp_path):
    from rq import SimpleWorker

    from core.jobs import get_queue, set_worker_app

    app = make_app(settings={"REDIS_URL": redis_url(), "PILOTE_REPORTS_DIR": str(tmp_path),
                             "PILOTE_REPORTS_QUEUE_ABOVE": 1, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        seed_demo(app)
        queue = get_queue(app)
        queue.empty()
    client = signed_in(app, "central_steering")
    response = client.post("/rapports/", data={"kind": "report", "policies": ["CH-101", "CH-201"],
                                               "territories": ["region-84"]})
    assert response.status_code == 302
    code = response.location.rstrip("/").rsplit("/", 1)[1]
    state = client.get(f"/rapports/demandes/{code}/etat").get_json()
    assert state["status"] == "queued" and state["download"] is None
    page = client.get(f"/rapports/demandes/{code}").get_data(as_text=True)
    assert "En attente de traitement" in page and 'aria-live="polite"' in page and "<progress" in page
    with app.app_context():
        assert db_session().scalar(select(ReportRequest.job_id).where(ReportRequest.code == code))
    set_worker_app(app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        set_worker_app(None)
    state = client.get(f"/rapports/demandes/{code}/etat").get_json()
    assert state["status"] == "done" and state["progress"] == 100, state
    pages, body = text_of(client.get(state["download"]).data)
    assert pages >= 4 and "Auvergne-Rhône-Alpes" in body
    # a one-chapter report stays inline even with Redis
    small = client.post("/rapports/", data={"kind": "brief", "territories": ["region-84"]})
    code = small.location.rstrip("/").rsplit("/", 1)[1]
    assert client.get(f"/rapports/demandes/{code}/etat").get_json()["status"] == "done"
