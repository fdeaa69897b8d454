"""The contributor directory: people from grants and the policies' named contacts, e-mail
addresses only with ``contributor.email``, entry territories without any contributor flagged
(the completeness engine's pairs), filters and scope, and the CSV export following them."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from core.testing.support import client_as, email, seeded_app


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff")), delimiter=";"))


def test_directory_lists_grants_and_policy_contacts_with_mail_links(app):
    html = client_as(app, "central_steering").get("/annuaire").get_data(as_text=True)
    assert f'<a href="mailto:{email("local_contributor")}">Thomas Girard</a>' in html
    assert f'<a href="mailto:{email("territorial_coordinator")}">Nadia Benali</a>' in html
    assert '<a href="mailto:helene.marchand@travail.example.org">Hélène Marchand</a>' in html  # policy owner
    rows = [r for r in html.split('<tr class="directory-row"')[1:] if "Thomas Girard" in r]
    grant = next(r for r in rows if 'data-source="grant"' in r)
    grant = grant[:grant.index("</tr>")]
    assert "Contributeur local" in grant or "contributeur local" in grant.lower()
    assert "Rhône" in grant and "CH-201" in grant and "CH-102" not in grant
    contact = next(r for r in rows if 'data-source="contact"' in r)  # a named local contact too
    assert "Rhône" in contact[:contact.index("</tr>")]


def test_emails_are_hidden_without_contributor_email(app):
    for role in ("reader", "local_contributor"):
        client = client_as(app, role)
        html = client.get("/annuaire").get_data(as_text=True)
        table = html[html.index("directory-table"):html.index("uncovered-title")]
        assert "Thomas Girard" in table and "mailto:" not in table, role
        assert email("local_contributor") not in html
        rows = csv_rows(client.get("/annuaire.csv"))
        assert rows and "Courriel" not in rows[0]
        assert all("@" not in value for r in rows for value in r.values()), role
    rows = csv_rows(client_as(app, "central_steering").get("/annuaire.csv"))
    assert email("local_contributor") in {r["Courriel"] for r in rows}


def test_uncovered_territories_are_those_of_the_completeness_engine(app):
    from core.db import session
    from core.engine.completeness import completeness
    from core.models import Policy, Territory

    with app.test_request_context():
        s = session()
        policy = s.scalar(select(Policy).where(Policy.code == "CH-201"))
        report = completeness(s, policy_ids=[policy.id])
        expected = {s.get(Territory, tid).key for pid, tid in report.uncovered}
    assert expected and "department-69" not in expected and "department-75" in expected
    html = client_as(app, "central_steering").get("/annuaire?politique=CH-201").get_data(as_text=True)
    section = html[html.index('id="uncovered-title"'):]
    assert "aucun contributeur désigné" in section
    shown = set(__import__("re").findall(r'data-territory="([^"]+)"', section))
    assert shown == expected


def test_a_local_contributor_sees_only_their_scope(app):
    client = client_as(app, "local_contributor")
    html = client.get("/annuaire").get_data(as_text=True)
    assert "Paris" not in html and "department-75" not in html
    assert client.get("/annuaire?territoire=department-75").status_code == 404
    assert client.get("/annuaire?politique=CH-102").status_code == 404  # not among their policies
    assert client.get("/annuaire.csv?territoire=department-75").status_code == 404
    assert app.test_client().get("/annuaire").status_code in (302, 401)


def test_filters_and_the_csv_follow_them(app):
    client = client_as(app, "central_steering")
    rows = csv_rows(client.get("/annuaire.csv?role=local_contributor"))
    assert {r["Nom"] for r in rows} == {"Thomas Girard"}
    assert rows[0]["Territoire"] == "Rhône" and "CH-201" in rows[0]["Politiques"].split()
    html = client.get("/annuaire?role=local_contributor").get_data(as_text=True)
    assert "Thomas Girard" in html and "Nadia Benali" not in html
    # territory: people above and below Paris, never Rhône's
    paris = csv_rows(client.get("/annuaire.csv?territoire=department-75"))
    names = {r["Nom"] for r in paris}
    assert "Julien Lefèvre" in names and "Thomas Girard" not in names and "Nadia Benali" not in names
    # policy: the ministry referent of the policy's ministry, and its owner
    policy = csv_rows(client.get("/annuaire.csv?politique=CH-201"))
    assert "Sophie Garnier" in {r["Nom"] for r in policy}
    assert all(r["Politiques"] in ("CH-201", "toutes les politiques") for r in policy)
    other = csv_rows(client.get("/annuaire.csv?politique=CH-101"))
    assert "Sophie Garnier" not in {r["Nom"] for r in other}  # not her ministry's policy
