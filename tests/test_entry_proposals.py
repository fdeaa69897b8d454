"""Value proposals: proposed by a local user, validated (written with both names in its
provenance) or refused with a reason by the policy's referent; the proposer is notified."""

from __future__ import annotations

import datetime as dt
import decimal
import re

import pytest
from sqlalchemy import func, select

from core.testing.support import client_as, email, seeded_app


@pytest.fixture(scope="module")
def app(database_factory):
    application = seeded_app(database_factory)
    yield application
    application.extensions["pilote"].db.dispose()


def ids(app, indicator, code="69"):
    from core.db import session
    from core.models import Indicator, Territory

    with app.app_context():
        return (session().scalar(select(Indicator.id).where(Indicator.code == indicator)),
                session().scalar(select(Territory.id).where(Territory.level == "department",
                                                            Territory.code == code)))


def first_indicator(app, policy):
    from core.db import session
    from core.models import Indicator, Policy

    with app.app_context():
        return session().scalar(select(Indicator.code).join(Policy).where(Policy.code == policy)
                                .order_by(Indicator.code).limit(1))


def run(app, statement):
    from core.db import session

    with app.app_context():
        return session().execute(statement).all()


def propose(client, iid, tid, value, reason="Erreur de saisie du mois"):
    return client.post("/propositions/", data={"indicator_id": iid, "territory_id": tid,
                                               "date": "2026-10-01", "value": value, "reason": reason})


def test_a_reader_sees_the_proposal_form_but_not_the_value_form(app):
    html = client_as(app, "reader").get("/politiques/CH-201?territoire=department-69").get_data(as_text=True)
    assert 'action="/propositions/"' in html and 'action="/saisie/valeur"' not in html


def test_proposal_validated_by_the_referent_is_written_with_its_provenance(app):
    from core.models import IndicatorValue, IndicatorValueRevision, Notification, ValueProposal

    code = first_indicator(app, "CH-201")
    iid, tid = ids(app, code)
    reader = client_as(app, "reader")
    assert propose(reader, iid, tid, "42,5").status_code == 302
    (pid, status), = run(app, select(ValueProposal.id, ValueProposal.status).order_by(ValueProposal.id.desc()).limit(1))
    assert status.value == "pending"
    referent = client_as(app, "ministry_referent")
    pending = referent.get("/propositions/").get_data(as_text=True)
    assert f'id="proposition-{pid}"' in pending and "Erreur de saisie du mois" in pending
    # the referent was notified
    assert run(app, select(func.count(Notification.id)).where(Notification.proposal_id == pid))[0][0] == 1
    # a local contributor cannot decide; nothing changes
    assert client_as(app, "local_contributor").post(f"/propositions/{pid}/decision",
                                                    data={"decision": "accept"}).status_code == 403
    assert referent.post(f"/propositions/{pid}/decision", data={"decision": "accept"}).status_code == 302
    (value, channel), = run(app, select(IndicatorValue.value, IndicatorValue.channel).where(
        IndicatorValue.indicator_id == iid, IndicatorValue.territory_id == tid,
        IndicatorValue.date == dt.date(2026, 10, 1), IndicatorValue.kind == "actual"))
    assert value == decimal.Decimal("42.5") and channel.value == "form"
    (note,), = run(app, select(IndicatorValueRevision.note).order_by(IndicatorValueRevision.id.desc()).limit(1))
    assert "Proposé par Élise Morel, validé par Sophie Garnier" in note
    assert run(app, select(ValueProposal.status).where(ValueProposal.id == pid))[0][0].value == "accepted"
    mine = reader.get("/propositions/").get_data(as_text=True)
    assert "validée" in mine and "Sophie Garnier" in mine
    notes = reader.get("/notifications/").get_data(as_text=True)
    assert "a été validée par Sophie Garnier" in notes
    # deciding twice does nothing more
    assert referent.post(f"/propositions/{pid}/decision", data={"decision": "refuse", "note": "x"}).status_code == 302
    assert run(app, select(ValueProposal.status).where(ValueProposal.id == pid))[0][0].value == "accepted"


def test_refusal_needs_a_reason_and_tells_the_proposer(app):
    from core.models import IndicatorValue, MailMessage, ValueProposal

    code = first_indicator(app, "CH-201")
    iid, tid = ids(app, code)
    contributor = client_as(app, "local_contributor")
    before = run(app, select(func.count(IndicatorValue.id)))
    assert propose(contributor, iid, tid, "9999").status_code == 302
    (pid,), = run(app, select(func.max(ValueProposal.id)))
    referent = client_as(app, "ministry_referent")
    referent.post(f"/propositions/{pid}/decision", data={"decision": "refuse"})
    assert run(app, select(ValueProposal.status).where(ValueProposal.id == pid))[0][0].value == "pending"
    assert referent.post(f"/propositions/{pid}/decision",
                         data={"decision": "refuse", "note": "Valeur hors <b>tendance</b>"}).status_code == 302
    assert run(app, select(ValueProposal.status, ValueProposal.review_note).where(ValueProposal.id == pid))[0] \
        [1] == "Valeur hors <b>tendance</b>"
    assert run(app, select(func.count(IndicatorValue.id))) == before
    mails = run(app, select(MailMessage.recipients).where(MailMessage.dedupe_key.like(f"proposal-{pid}-decided:%")))
    assert mails == [([email("local_contributor")],)]
    html = contributor.get("/propositions/").get_data(as_text=True)
    assert "refusée" in html and "Valeur hors &lt;b&gt;tendance&lt;/b&gt;" in html


def test_proposals_outside_the_grants_are_refused(app):
    from core.models import ValueProposal

    code = first_indicator(app, "CH-201")
    iid, paris = ids(app, code, "75")
    before = run(app, select(func.count(ValueProposal.id)))
    assert propose(client_as(app, "local_contributor"), iid, paris, "1").status_code == 403
    other = first_indicator(app, "CH-102")
    oid, lyon = ids(app, other)
    assert propose(client_as(app, "local_contributor"), oid, lyon, "1").status_code == 403
    bad = propose(client_as(app, "local_contributor"), *ids(app, code), "beaucoup")
    assert bad.status_code == 422 and re.search(r"nombre valide", bad.get_data(as_text=True))
    assert run(app, select(func.count(ValueProposal.id))) == before
