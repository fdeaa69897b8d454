"""The datapass plugin: the signed webhook receiver, in-app access requests and their
instruction, grants merged through ``user_grants``, and the app without the plugin.

One seeded DITP app (with a webhook secret) is shared by the tests of this module; each test
uses its own applicants and habilitation ids, so that they do not depend on each other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import re
import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from sqlalchemy import func, select

from core.testing.pytest_plugin import DEMO_TODAY, login, seed_demo

SECRET = "s3cret-for-tests-only"
MODEL_TYPE = "authorization_request/pilote"
UNTIL = "2027-06-30"
_ids = itertools.count(1000)


def instance_with_datapass(tmp_path, table: str):
    """A copy of the DITP instance whose ``[plugins.datapass]`` table is ``table``."""
    from core.config import resolve_instance_path

    source = resolve_instance_path("ditp").parent
    target = tmp_path / "ditp"
    shutil.copytree(source, target)
    toml = target / "instance.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "\n[plugins.datapass]\n" + table, encoding="utf-8")
    return toml


@pytest.fixture(scope="module")
def dp_app(database_factory, tmp_path_factory):
    """A seeded app with a webhook secret and CSRF on (forms post their token)."""
    from core.app import create_app

    path = instance_with_datapass(tmp_path_factory.mktemp("dp"), f'webhook_secret = "{SECRET}"\n')
    app = create_app(path, settings={
        "DATABASE_URL": database_factory.new(), "SECRET_KEY": uuid.uuid4().hex, "TESTING": True,
        "PILOTE_TODAY": DEMO_TODAY.isoformat(),
    })
    with app.app_context():
        seed_demo(app)
    yield app
    app.extensions["pilote"].db.dispose()


# -- helpers -----------------------------------------------------------------------------------


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def habilitation(event="approve", hab_id=None, email=None, fired_at=None, scopes=("pilote_saisie",),
                 territories=("department-69",), policies=("CH-101",), until=UNTIL, model_type=MODEL_TYPE):
    """A DataPass v2 webhook payload (docs/webhooks.md of etalab/data_pass)."""
    hab_id = hab_id if hab_id is not None else next(_ids)
    return {
        "event": event,
        "fired_at": fired_at if fired_at is not None else int(time.time()),
        "model_type": model_type,
        "data": {
            "id": hab_id, "public_id": str(uuid.uuid4()), "state": "validated", "form_uid": "pilote",
            "organization": {"id": 7, "name": "Préfecture du Rhône", "siret": "17690001300013"},
            "applicant": {"id": 3, "email": email or f"agent{hab_id}@rhone.gouv.fr", "given_name": "Agathe",
                          "family_name": "Durand", "job_title": "Cheffe de bureau"},
            "service_provider": None,
            "authorizations": [{"id": hab_id * 10, "slug": "pilote", "revoked": False, "state": "active"}],
            "data": {"intitule": "Saisie des indicateurs du Rhône", "scopes": list(scopes),
                     "territoires": list(territories), "politiques": list(policies), "date_fin": until},
        },
    }


def post(client, payload=None, *, body: bytes | None = None, signature: str | None = "auto", headers=None):
    body = body if body is not None else json.dumps(payload).encode()
    sent = {"Content-Type": "application/json", "X-App-Environment": "production", **(headers or {})}
    if signature == "auto":
        sent["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        sent["X-Hub-Signature-256"] = signature
    return client.post("/datapass/webhook", data=body, headers=sent)


def counts(app) -> dict[str, int]:
    from core.api import User, db_session
    from plugins.datapass.models import AccessRequest, DatapassGrant, Message

    with app.app_context():
        s = db_session()
        return {model.__name__: s.scalar(select(func.count()).select_from(model))
                for model in (User, DatapassGrant, AccessRequest, Message)}


def user_can(app, email: str, action: str, policy_code: str) -> bool:
    from core.api import Policy, User, can, db_session

    with app.test_request_context():
        s = db_session()
        user = s.scalar(select(User).where(User.email == email))
        policy = s.scalar(select(Policy).where(Policy.code == policy_code))
        return user is not None and can(action, policy, user=user)


def deliveries(app, **where):
    from core.api import db_session
    from plugins.datapass.models import Delivery

    with app.app_context():
        query = select(Delivery).order_by(Delivery.id)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        return [(d.event, d.outcome, d.status_code, d.signature_ok, d.grant_id)
                for d in db_session().scalars(query)]


def csrf(client, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


# -- the webhook -------------------------------------------------------------------------------


def test_approve_gives_the_grant_and_answers_a_token_id_then_revoke_removes_it(dp_app):
    client = dp_app.test_client()
    payload = habilitation(email="agathe.durand@rhone.gouv.fr")
    assert not user_can(dp_app, "agathe.durand@rhone.gouv.fr", "value.write", "CH-101")
    response = post(client, payload)
    assert response.status_code == 200, response.get_json()
    token_id = response.get_json()["token_id"]
    assert token_id.startswith("pilote-")
    # the applicant's account was created, and the grant merges with local ones
    assert user_can(dp_app, "agathe.durand@rhone.gouv.fr", "value.write", "CH-101")
    assert not user_can(dp_app, "agathe.durand@rhone.gouv.fr", "value.write", "CH-201")  # not in perimeter
    from core.api import User, db_session, effective_grants

    with dp_app.test_request_context():
        user = db_session().scalar(select(User).where(User.email == "agathe.durand@rhone.gouv.fr"))
        specs = [g for g in effective_grants(user) if g.source == "datapass"]
        assert [(g.role, g.expires_at.date()) for g in specs] == [("local_contributor", dt.date(2027, 7, 1))]
    revoke = habilitation(event="revoke", hab_id=payload["data"]["id"], email="agathe.durand@rhone.gouv.fr")
    response = post(client, revoke)
    assert response.status_code == 200 and response.get_json()["revoked"] == [token_id]
    assert not user_can(dp_app, "agathe.durand@rhone.gouv.fr", "value.write", "CH-101")  # at once
    outcomes = deliveries(dp_app, habilitation_id=str(payload["data"]["id"]))
    assert [(e, o, s) for e, o, s, _, _ in outcomes] == [("approve", "granted", 200), ("revoke", "revoked", 200)]


def test_archive_also_removes_the_grant(dp_app):
    client = dp_app.test_client()
    payload = habilitation(scopes=["pilote_lecture"], territories=[], policies=[])
    assert post(client, payload).status_code == 200
    email = payload["data"]["applicant"]["email"]
    assert user_can(dp_app, email, "policy.read", "CH-101")
    assert post(client, habilitation(event="archive", hab_id=payload["data"]["id"])).status_code == 200
    assert not user_can(dp_app, email, "policy.read", "CH-101")


def test_a_redelivered_event_changes_nothing_twice_and_answers_the_same(dp_app):
    client = dp_app.test_client()
    payload = habilitation()
    body = json.dumps(payload).encode()
    first = post(client, body=body)
    before = counts(dp_app)
    second = post(client, body=body)
    assert second.status_code == first.status_code == 200
    assert second.get_json() == first.get_json()
    assert counts(dp_app) == before
    rows = deliveries(dp_app, habilitation_id=str(payload["data"]["id"]))
    assert [r[1] for r in rows] == ["granted", "duplicate"] and rows[0][4] == rows[1][4] is not None


@pytest.mark.parametrize("case,status,outcome", [
    ("unsigned", 401, "unsigned"),
    ("wrong_secret", 403, "bad_signature"),
    ("tampered", 403, "bad_signature"),
    ("garbage_signature", 403, "bad_signature"),
    ("not_json", 400, "malformed"),
    ("not_an_object", 400, "malformed"),
    ("missing_fields", 400, "malformed"),
    ("bad_fired_at", 400, "malformed"),
    ("stale", 400, "stale"),
    ("future", 400, "stale"),
])
def test_bad_deliveries_are_refused_logged_and_change_nothing(dp_app, caplog, case, status, outcome):
    client = dp_app.test_client()
    payload = habilitation()
    body = json.dumps(payload).encode()
    signature = "auto"
    if case == "unsigned":
        signature = None
    elif case == "wrong_secret":
        signature = sign(body, "not-the-secret")
    elif case == "tampered":
        signature = sign(body)
        body = body.replace(b"pilote_saisie", b"pilote_prefet")
    elif case == "garbage_signature":
        signature = "sha256=zz\u00e9"
    elif case == "not_json":
        body = b"event=approve&id=1"
    elif case == "not_an_object":
        body = b'["approve"]'
    elif case == "missing_fields":
        body = json.dumps({"event": "approve", "data": {"id": 1}}).encode()
    elif case == "bad_fired_at":
        body = json.dumps({**payload, "fired_at": "yesterday"}).encode()
    elif case == "stale":
        body = json.dumps({**payload, "fired_at": int(time.time()) - 2 * 86400}).encode()
    elif case == "future":
        body = json.dumps({**payload, "fired_at": int(time.time()) + 3600}).encode()
    before = counts(dp_app)
    with caplog.at_level("WARNING", logger="pilote.datapass"):
        response = post(client, body=body, signature=signature if signature != "auto" else "auto")
    assert response.status_code == status
    assert response.get_json()["error"] == outcome
    assert counts(dp_app) == before
    assert f"datapass webhook refused ({status}, {outcome})" in caplog.text
    last = deliveries(dp_app)[-1]
    assert last[1:4] == (outcome, status, case not in ("unsigned", "wrong_secret", "tampered", "garbage_signature"))
    assert last[4] is None


def test_unknown_and_other_events_are_accepted_and_logged(dp_app, caplog):
    client = dp_app.test_client()
    before = counts(dp_app)
    with caplog.at_level("WARNING", logger="pilote.datapass"):
        response = post(client, habilitation(event="self_destruct"))
    assert response.status_code == 200 and response.get_json() == {"ok": True}
    assert "unknown event 'self_destruct'" in caplog.text
    assert post(client, habilitation(event="submit")).status_code == 200
    assert counts(dp_app) == before
    assert [d[1] for d in deliveries(dp_app)[-2:]] == ["unknown_event", "ignored"]


def test_other_habilitation_types_and_the_test_ping_give_nothing(dp_app):
    client = dp_app.test_client()
    before = counts(dp_app)
    other = post(client, habilitation(model_type="authorization_request/api_entreprise"))
    assert other.status_code == 200 and "token_id" not in other.get_json()
    ping = {"test": True, "timestamp": dt.datetime.now(dt.timezone.utc).isoformat()}
    assert post(client, ping).status_code == 200
    assert counts(dp_app) == before


def test_an_unmappable_habilitation_is_refused_then_accepted_when_redelivered_fixed(dp_app):
    client = dp_app.test_client()
    before = counts(dp_app)
    bad = habilitation(territories=["department-999"])
    response = post(client, bad)
    assert response.status_code == 422 and "department-999" in response.get_json()["detail"]
    assert post(client, habilitation(scopes=["unknown_scope"])).status_code == 422
    assert post(client, habilitation(territories=[])).status_code == 422  # a territorial role
    assert counts(dp_app) == before
    # a failure is not remembered as processed: DataPass's retry goes through once fixed
    fixed = {**bad, "data": {**bad["data"], "data": {**bad["data"]["data"], "territoires": ["department-69"]}}}
    assert post(client, fixed).status_code == 200


def test_a_new_validation_replaces_the_previous_grant(dp_app):
    client = dp_app.test_client()
    first = habilitation(scopes=["pilote_lecture"], territories=["region-84"], policies=[])
    token1 = post(client, first).get_json()["token_id"]
    again = habilitation(hab_id=first["data"]["id"], email=first["data"]["applicant"]["email"],
                         fired_at=int(time.time()) + 1)
    token2 = post(client, again).get_json()["token_id"]
    assert token1 != token2
    from core.api import db_session
    from plugins.datapass.models import DatapassGrant

    with dp_app.app_context():
        rows = db_session().scalars(select(DatapassGrant).where(
            DatapassGrant.habilitation_id == str(first["data"]["id"])).order_by(DatapassGrant.id)).all()
        assert [(r.token_id, r.revoked_at is None) for r in rows] == [(token1, False), (token2, True)]


def test_webhook_without_secret_is_unavailable(make_app):
    app = make_app()  # the DITP instance ships no secret
    response = post(app.test_client(), habilitation())
    assert response.status_code == 503 and response.get_json()["error"] == "not_configured"


def test_a_real_http_delivery_is_answered_over_a_socket(dp_app):
    """Through a real HTTP server and socket, as DataPass sends it (within its 10 s timeout)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, dp_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = json.dumps(habilitation()).encode()
        url = f"http://127.0.0.1:{server.server_port}/datapass/webhook"
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})
        with urllib.request.urlopen(req, timeout=10) as response:
            answer = json.loads(response.read())
            assert response.status == 200
        assert answer["token_id"].startswith("pilote-")
        forged = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(body, "guess")})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=10)
        assert refused.value.code == 403
    finally:
        server.shutdown()


def test_the_live_server_refuses_deliveries_without_a_configured_secret(live_server, demo_app):
    from core.api import db_session
    from plugins.datapass.models import Delivery

    body = json.dumps(habilitation()).encode()
    req = urllib.request.Request(live_server + "/datapass/webhook", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(req, timeout=10)
        assert refused.value.code == 503  # the demo instance has no webhook secret: nothing accepted
        assert json.loads(refused.value.read())["error"] == "not_configured"
    finally:  # the demo app is shared: remove the delivery it logged
        with demo_app.app_context():
            db_session().query(Delivery).delete()
            db_session().commit()


# -- in-app requests ---------------------------------------------------------------------------


def demo(role: str) -> str:
    return f"{role}@demo.pilote.example"


def signed_in(app, email: str):
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def ask(client, *, role="local_contributor", territories=("department-69",), policies=("CH-101",),
        until=UNTIL, justification="Je saisis les indicateurs du Rhône pour la préfecture."):
    data = {"csrf_token": csrf(client, "/datapass/demandes/nouvelle"), "role": role,
            "territories": list(territories), "policies": list(policies), "organisation": "",
            "until": until, "justification": justification}
    return client.post("/datapass/demandes/nouvelle", data=data)


def act(client, code: str, action: str, body: str = "", **extra):
    from plugins.datapass.models import AccessRequest

    token = csrf(client, "/datapass/demandes/nouvelle")  # the session's token, valid on every form
    with client.application.app_context():
        from core.api import db_session

        version = db_session().scalar(select(AccessRequest.version).where(AccessRequest.code == code))
    data = {"csrf_token": token, "action": action, "body": body,
            "version": str(version), **extra}
    return client.post(f"/datapass/demandes/{code}", data=data)


def request_state(app, code: str):
    from core.api import db_session
    from plugins.datapass.models import AccessRequest

    with app.app_context():
        req = db_session().scalar(select(AccessRequest).where(AccessRequest.code == code))
        return req.state.value, [(m.kind, m.body) for m in req.messages], len(req.grants)


def mails_to(app, email: str) -> list[str]:
    from core.api import db_session
    from core.models import MailMessage

    with app.app_context():
        return [m.subject for m in db_session().scalars(select(MailMessage).order_by(MailMessage.id))
                if email in m.recipients]


def test_full_request_cycle_with_messages_approval_and_revocation(dp_app):
    requester = signed_in(dp_app, demo("reader"))
    coordinator = signed_in(dp_app, demo("territorial_coordinator"))
    assert not user_can(dp_app, demo("reader"), "value.write", "CH-101")

    response = ask(requester)
    assert response.status_code == 302
    code = response.location.rsplit("/", 1)[1]
    assert "Soumise" in requester.get("/datapass/demandes").get_data(as_text=True)
    assert any("à instruire" in s for s in mails_to(dp_app, demo("territorial_coordinator")))

    queue = coordinator.get("/datapass/instruction").get_data(as_text=True)
    assert f"/datapass/demandes/{code}" in queue
    assert act(coordinator, code, "request_changes", "Précisez les politiques suivies.").status_code == 302
    assert request_state(dp_app, code)[0] == "changes_requested"
    assert any("à compléter" in s for s in mails_to(dp_app, demo("reader")))
    page = requester.get(f"/datapass/demandes/{code}").get_data(as_text=True)
    assert "Précisez les politiques suivies." in page and "Modifications demandées" in page

    edit_url = f"/datapass/demandes/{code}/modifier"
    version = re.search(r'id="version" name="version" type="hidden" value="(\d+)"',
                        requester.get(edit_url).get_data(as_text=True)).group(1)
    resubmitted = requester.post(edit_url, data={
        "csrf_token": csrf(requester, edit_url), "role": "local_contributor", "territories": ["department-69"],
        "policies": ["CH-101", "CH-201"], "organisation": "", "until": UNTIL, "version": version,
        "justification": "Je saisis les indicateurs CH-101 et CH-201 du Rhône pour la préfecture."})
    assert resubmitted.status_code == 302
    assert act(requester, code, "message", "Merci, c'est complété.").status_code == 302
    assert act(coordinator, code, "approve", "Accordé.").status_code == 302

    state, messages, grants = request_state(dp_app, code)
    assert state == "validated" and grants == 1
    assert [k for k, _ in messages] == ["submit", "request_changes", "resubmit", "message", "approve"]
    assert user_can(dp_app, demo("reader"), "value.write", "CH-201")
    assert any("acceptée" in s for s in mails_to(dp_app, demo("reader")))
    mine = requester.get("/datapass/demandes").get_data(as_text=True)
    assert "Validée" in mine
    held = mine.split('class="table datapass-held"')[1].split("</table>")[0]
    assert "Contributeur local" in held and "Rhône" in held and "DataPass" in held

    assert act(coordinator, code, "revoke", "Mission terminée.").status_code == 302
    assert not user_can(dp_app, demo("reader"), "value.write", "CH-201")  # refused at once
    assert request_state(dp_app, code)[0] == "revoked"

    from core.api import AuditEntry, db_session

    with dp_app.app_context():
        audited = {(a.entity, a.action, a.actor_label) for a in db_session().scalars(
            select(AuditEntry).where(AuditEntry.entity.like("datapass_%")))}
    assert ("datapass_access_request", "insert", demo("reader")) in audited
    assert ("datapass_grant", "insert", demo("territorial_coordinator")) in audited
    assert ("datapass_grant", "update", demo("territorial_coordinator")) in audited  # the revocation


@pytest.mark.parametrize("asked", [
    {"territories": ["department-13"]},  # Bouches-du-Rhône: outside region 84
    {"role": "prefect"},  # wider than a coordinator may give
    {"territories": ["nation-FR"]},  # above the coordinator's region
])
def test_an_instructor_cannot_grant_beyond_their_own_perimeter(dp_app, asked):
    requester = signed_in(dp_app, demo("local_contributor"))
    coordinator = signed_in(dp_app, demo("territorial_coordinator"))
    code = ask(requester, **asked).location.rsplit("/", 1)[1]
    assert f"/datapass/demandes/{code}" not in coordinator.get("/datapass/instruction?etat=all").get_data(as_text=True)
    assert coordinator.get(f"/datapass/demandes/{code}").status_code == 403
    before = request_state(dp_app, code), counts(dp_app)
    for action in ("approve", "refuse", "request_changes", "message"):
        assert act(coordinator, code, action, "Essai hors périmètre.").status_code == 403, action
    assert (request_state(dp_app, code), counts(dp_app)) == before
    # the central steering may: the request is instructed by someone whose perimeter covers it
    central = signed_in(dp_app, demo("central_steering"))
    assert act(central, code, "refuse", "Non.").status_code == 302
    assert request_state(dp_app, code)[0] == "refused"


def test_nobody_instructs_their_own_request_and_others_cannot_read_it(dp_app):
    admin = signed_in(dp_app, demo("admin"))
    code = ask(admin, role="reader", territories=(), policies=()).location.rsplit("/", 1)[1]
    before = request_state(dp_app, code), counts(dp_app)
    assert act(admin, code, "approve").status_code == 403
    assert request_state(dp_app, code) == before[0]
    stranger = signed_in(dp_app, demo("prefect"))
    assert stranger.get(f"/datapass/demandes/{code}").status_code == 403
    assert act(stranger, code, "message", "Bonjour").status_code == 403
    assert counts(dp_app) == before[1]
    assert act(admin, code, "cancel").status_code == 302
    assert request_state(dp_app, code)[0] == "cancelled"


def test_bad_input_and_stale_versions_are_refused_with_a_located_error(dp_app):
    requester = signed_in(dp_app, demo("prefect"))
    before = counts(dp_app)
    response = ask(requester, territories=(), justification="court")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "au moins un territoire" in page and "Entre 20 et 5 000 caractères." in page
    assert "court" in page  # nothing typed is lost
    assert ask(requester, until="2026-10-01").status_code == 400
    assert counts(dp_app) == before
    code = ask(requester).location.rsplit("/", 1)[1]
    central = signed_in(dp_app, demo("central_steering"))
    stale = act(central, code, "refuse", "Non.", version="0")
    assert stale.status_code == 409
    assert request_state(dp_app, code)[0] == "submitted"
    assert act(central, code, "refuse", "").status_code == 400  # a refusal says why


def test_pages_need_a_sign_in_and_the_right_action(dp_app):
    anonymous = dp_app.test_client()
    for url in ("/datapass/demandes", "/datapass/demandes/nouvelle", "/datapass/instruction", "/datapass/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and "/connexion" in response.location, url
    reader = signed_in(dp_app, demo("reader"))
    assert reader.get("/datapass/instruction").status_code == 403
    assert reader.get("/datapass/").status_code == 403
    assert reader.get("/datapass/demandes/nope").status_code == 404


def test_the_admin_page_lists_deliveries_and_requests_with_filters(dp_app):
    client = dp_app.test_client()
    post(client, habilitation(event="refuse"))
    post(client, habilitation(), signature="sha256=00")
    admin = signed_in(dp_app, demo("admin"))
    page = admin.get("/datapass/").get_data(as_text=True)
    assert "<td>bad_signature<br>" in page and "<td>absente ou invalide</td>" in page
    assert "Demandes dans Pilote" in page
    filtered = admin.get("/datapass/?signature=ok&evenement=refuse").get_data(as_text=True)
    assert "<td>bad_signature<br>" not in filtered and "<td>ignored<br>" in filtered
    assert "Aucune livraison ne correspond." in admin.get("/datapass/?resultat=nope").get_data(as_text=True)


# -- without the plugin ------------------------------------------------------------------------


def test_the_app_works_without_the_plugin_and_its_grants_stop(dp_app, make_app):
    client = dp_app.test_client()
    payload = habilitation(email="sans.plugin@rhone.gouv.fr")
    assert post(client, payload).status_code == 200
    assert user_can(dp_app, "sans.plugin@rhone.gouv.fr", "value.write", "CH-101")
    bare = make_app(plugins=[], settings={"DATABASE_URL": dp_app.extensions["pilote"].config.database_url})
    assert "datapass.instruct" not in bare.extensions["pilote"].actions
    assert not user_can(bare, "sans.plugin@rhone.gouv.fr", "value.write", "CH-101")
    bare_client = bare.test_client()
    assert bare_client.get("/").status_code == 200
    assert post(bare_client, habilitation()).status_code == 404
    assert "Mes habilitations" not in signed_in(bare, demo("reader")).get("/").get_data(as_text=True)


def test_with_redis_the_answer_does_not_wait_for_the_queued_notice(make_app, tmp_path):
    """The grant is given before answering; the e-mail is left to an RQ worker."""
    import socket

    from rq import SimpleWorker

    from core.api import db_session
    from core.jobs import get_queue, set_worker_app
    from core.models import MailMessage
    from core.testing.pytest_plugin import seed_reference

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    app = make_app(instance_with_datapass(tmp_path, f'webhook_secret = "{SECRET}"\n'),
                   settings={"REDIS_URL": "redis://127.0.0.1:6379/13"})
    with app.app_context():
        seed_reference(app)
        queue = get_queue(app)
        queue.empty()
    payload = habilitation(scopes=["pilote_lecture"], territories=["region-84"], policies=[])
    response = post(app.test_client(), payload)
    assert response.status_code == 200 and response.get_json()["token_id"]
    email = payload["data"]["applicant"]["email"]
    with app.app_context():
        assert [j.description for j in queue.get_jobs()] == ["datapass.notify"]
        assert db_session().scalar(select(func.count()).select_from(MailMessage)) == 0
    set_worker_app(app)
    try:
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    finally:
        set_worker_app(None)
    with app.app_context():
        mails = db_session().scalars(select(MailMessage)).all()
        assert [(m.recipients, "active" in m.subject) for m in mails] == [([email], True)]


def test_pages_render_with_another_theme(make_app):
    """The anct instance (neutral theme based on ``base``) with the plugin enabled."""
    from werkzeug.security import generate_password_hash

    from core.api import Grant, Role, User, db_session
    from core.testing.pytest_plugin import seed_reference

    app = make_app("anct", plugins=["datapass"])
    with app.app_context():
        seed_reference(app)
        user = User(email="admin@anct.example", name="Admin ANCT", password_hash=generate_password_hash("pilote-demo"))
        db_session().add_all([user, Grant(user=user, role=Role.ADMIN)])
        db_session().commit()
    client = app.test_client()
    assert login(client, "admin@anct.example").status_code == 302
    for url in ("/datapass/", "/datapass/demandes", "/datapass/demandes/nouvelle", "/datapass/instruction"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'data-theme="anct"' in response.get_data(as_text=True)
