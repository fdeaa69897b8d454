"""OpenID Connect sign-in, end to end against a real provider process (``oidc-provider-mock``
started here on a free port), behind a small HTTP relay that can answer userinfo as a signed JWT
(as ProConnect does) or corrupt a signature. Refusals change nothing but the audit log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import tomli_w
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from core.db import session as db_session
from core.models import AuditEntry, Grant, Role, User
from core.testing.pytest_plugin import seed_reference
from core.testing.support import free_port

CLAIMS = {"email": "Agent.Test@Interieur.gouv.fr", "given_name": "Agnès", "usual_name": "Martin",
          "siret": "11000201100044", "idp_id": "fia1"}


@pytest.fixture(scope="module")
def provider_process():
    """The OIDC provider, a separate server process (nonce required, as ProConnect)."""
    port = free_port()
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(port),
                             "--require-nonce", "true"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("the OIDC provider process did not start")
        time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


class Relay:
    """Forwards to the provider; ``mode`` changes what it answers:
    ``plain``, ``jwt`` (userinfo as a signed JWT), ``jwt_bad_signature`` (signed with a key the
    JWKS does not hold), ``id_token_bad_signature`` (the ID token's payload altered)."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.http = httpx.Client()
        self.mode = "plain"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "relay", "use": "sig", "alg": "RS256"})
        self.rogue = RSAKey.generate_key(2048, parameters={"kid": "relay", "use": "sig", "alg": "RS256"})
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __call__(self, environ, start_response):
        request = Request(environ)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-length",)}
        upstream = self.http.request(request.method, self.upstream + request.full_path.rstrip("?"),
                                 headers=headers, content=request.get_data(), follow_redirects=False)
        body, content_type = upstream.content, upstream.headers.get("content-type", "")
        if request.path == "/jwks":
            keys = upstream.json()
            keys["keys"].append(self.key.as_dict(private=False))
            body, content_type = json.dumps(keys).encode(), "application/json"
        elif request.path == "/userinfo" and self.mode.startswith("jwt") and upstream.status_code == 200:
            claims = {**upstream.json(), "iss": self.url, "aud": "pilote-test"}
            key = self.rogue if self.mode == "jwt_bad_signature" else self.key
            body = jwt.encode({"alg": "RS256", "kid": "relay"}, claims, key).encode()
            content_type = "application/jwt"
        elif request.path == "/oauth2/token" and self.mode == "id_token_bad_signature" \
                and upstream.status_code == 200:
            token = upstream.json()
            head, payload, signature = token["id_token"].split(".")
            forged = json.loads(_b64decode(payload))
            forged["email"] = "intruder@example.org"
            token["id_token"] = ".".join([head, _b64encode(json.dumps(forged).encode()), signature])
            body, content_type = json.dumps(token).encode(), "application/json"
        response = Response(body, status=upstream.status_code, content_type=content_type)
        if "location" in upstream.headers:
            response.headers["Location"] = upstream.headers["location"]
        return response(environ, start_response)

    def close(self):
        self.server.shutdown()


def _b64decode(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def relay(provider_process):
    relay = Relay(provider_process)
    yield relay
    relay.close()


def instance_with_provider(tmp_path: Path, relay_url: str, **auth) -> Path:
    source = Path(__file__).resolve().parents[1] / "instances" / "ditp"
    target = tmp_path / "inst" / "ditp"
    shutil.copytree(source, target)
    data = tomllib.loads((target / "instance.toml").read_text(encoding="utf-8"))
    data["plugins"] = {"enabled": []}
    data.setdefault("auth", {}).update(auth)
    data["auth"]["providers"] = {"mock": {
        "label": "ProConnect (test)", "style": "proconnect",
        "server_metadata_url": f"{relay_url}/.well-known/openid-configuration",
        "client_id": "pilote-test", "client_secret": {"env": "PILOTE_TEST_OIDC_SECRET"},
        "scopes": ["openid", "email", "profile", "given_name", "usual_name", "siret", "idp_id"],
    }}
    (target / "instance.toml").write_text(tomli_w.dumps(data), encoding="utf-8")
    return target / "instance.toml"


@pytest.fixture
def oidc_app(make_app, tmp_path, relay, monkeypatch):
    monkeypatch.setenv("PILOTE_TEST_OIDC_SECRET", "s3cret-of-the-test-client")
    relay.mode = "plain"
    from core.identity import oidc

    oidc._metadata_cache.clear()
    app = make_app(instance_with_provider(tmp_path, relay.url))
    with app.app_context():
        seed_reference(app)
    return app


def start(client) -> tuple[str, dict]:
    response = client.get("/connexion/oidc/mock?next=/mon-compte/")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.location).query)
    return response.location, {k: v[0] for k, v in query.items()}


def authorize(relay: Relay, authorize_url: str, sub: str, claims: dict) -> str:
    """What the user does at the provider: pick an identity; returns our callback path."""
    assert relay.http.put(f"{relay.url}/users/{sub}", json=claims).status_code == 204
    answer = relay.http.post(authorize_url, data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["location"])
    return f"{callback.path}?{callback.query}"


def audit_actions(app) -> list[tuple[str, dict]]:
    with app.app_context():
        return [(e.action, e.changes) for e in db_session().scalars(select(AuditEntry).order_by(AuditEntry.id))]


def user_count(app) -> int:
    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(User))


def test_the_sign_in_page_offers_the_provider(oidc_app):
    page = oidc_app.test_client().get("/connexion").get_data(as_text=True)
    assert "/connexion/oidc/mock" in page and "ProConnect" in page


def test_sign_in_end_to_end_provisions_a_user_without_grants(oidc_app, relay):
    client = oidc_app.test_client()
    url, params = start(client)
    assert url.startswith(relay.url + "/oauth2/authorize")
    assert len(params["state"]) >= 32 and len(params["nonce"]) >= 32
    assert params["response_type"] == "code" and "siret" in params["scope"].split()
    response = client.get(authorize(relay, url, "agent-sub-1", CLAIMS))
    assert response.status_code == 302 and response.location == "/mon-compte/"
    with oidc_app.app_context():
        user = db_session().scalar(select(User).where(User.email == "agent.test@interieur.gouv.fr"))
        assert user is not None and user.name == "Agnès Martin"
        assert (user.external_provider, user.external_subject) == ("mock", "agent-sub-1")
        assert user.grants == [] and user.password_hash is None
    with client.session_transaction() as session:
        assert session["oidc_provider"] == "mock" and session["oidc_id_token"].count(".") == 2
        assert "oidc" not in session  # state and nonce are single-use
    page = client.get("/mon-compte/")
    assert page.status_code == 200 and "Agnès Martin" in page.get_data(as_text=True)
    logins = [c for a, c in audit_actions(oidc_app) if a == "login"]
    assert logins == [{"via": "oidc"}]


def test_a_returning_user_is_matched_by_subject_then_email(oidc_app, relay):
    with oidc_app.app_context():
        user = User(email="agent.test@interieur.gouv.fr", name="Agnès M.")
        user.grants.append(Grant(role=Role.READER))
        db_session().add(user)
        db_session().commit()
    for _ in range(2):
        client = oidc_app.test_client()
        url, _params = start(client)
        assert client.get(authorize(relay, url, "agent-sub-2", CLAIMS)).status_code == 302
    with oidc_app.app_context():
        users = db_session().scalars(select(User).where(User.email.like("agent.test%"))).all()
        assert len(users) == 1 and users[0].external_subject == "agent-sub-2"
        assert [g.role for g in users[0].grants] == [Role.READER]


def test_userinfo_as_a_signed_jwt_is_verified_and_read(oidc_app, relay):
    relay.mode = "jwt"
    client = oidc_app.test_client()
    url, _ = start(client)
    response = client.get(authorize(relay, url, "agent-sub-3", {**CLAIMS, "email": "jwt@culture.gouv.fr"}))
    assert response.status_code == 302
    with oidc_app.app_context():
        assert db_session().scalar(select(User).where(User.email == "jwt@culture.gouv.fr")) is not None


def _refused(app, client, path, reason, status=400):
    before = user_count(app)
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert f"Code de l’erreur : {reason}" in response.get_data(as_text=True).replace("&#39;", "’")
    assert user_count(app) == before
    with client.session_transaction() as session:
        assert "_user_id" not in session
    refused = [c for a, c in audit_actions(app) if a == "oidc_refused"]
    assert refused and refused[-1]["reason"] == reason
    return response


def test_a_userinfo_jwt_with_a_bad_signature_is_refused(oidc_app, relay):
    relay.mode = "jwt_bad_signature"
    client = oidc_app.test_client()
    url, _ = start(client)
    _refused(oidc_app, client, authorize(relay, url, "agent-sub-4", CLAIMS), "signature")


def test_an_id_token_with_a_bad_signature_is_refused(oidc_app, relay):
    relay.mode = "id_token_bad_signature"
    client = oidc_app.test_client()
    url, _ = start(client)
    _refused(oidc_app, client, authorize(relay, url, "agent-sub-5", CLAIMS), "signature")


def test_a_wrong_state_is_refused(oidc_app, relay):
    client = oidc_app.test_client()
    url, params = start(client)
    callback = authorize(relay, url, "agent-sub-6", CLAIMS).replace(params["state"], "x" * 43)
    _refused(oidc_app, client, callback, "state")


def test_a_callback_without_a_started_sign_in_is_refused(oidc_app, relay):
    client = oidc_app.test_client()
    url, _ = start(client)
    callback = authorize(relay, url, "agent-sub-7", CLAIMS)
    _refused(oidc_app, oidc_app.test_client(), callback, "state")  # another browser


def test_a_wrong_nonce_is_refused(oidc_app, relay):
    client = oidc_app.test_client()
    url, _ = start(client)
    callback = authorize(relay, url, "agent-sub-8", CLAIMS)
    with client.session_transaction() as session:
        pending = dict(session["oidc"])
        pending["nonce"] = "n" * 43
        session["oidc"] = pending
    _refused(oidc_app, client, callback, "nonce")


def test_a_used_authorisation_code_is_refused(oidc_app, relay):
    client = oidc_app.test_client()
    url, _ = start(client)
    callback = authorize(relay, url, "agent-sub-9", CLAIMS)
    with client.session_transaction() as session:
        pending = dict(session["oidc"])
    assert client.get(callback).status_code == 302
    replay = oidc_app.test_client()
    with replay.session_transaction() as session:
        session["oidc"] = pending  # even with the right state and nonce
    _refused(oidc_app, replay, callback, "code")


def test_a_deactivated_account_is_refused(oidc_app, relay):
    with oidc_app.app_context():
        db_session().add(User(email="gone@interieur.gouv.fr", name="Gone", is_active=False))
        db_session().commit()
    client = oidc_app.test_client()
    url, _ = start(client)
    _refused(oidc_app, client, authorize(relay, url, "agent-sub-10", {**CLAIMS, "email": "gone@interieur.gouv.fr"}),
             "inactive", status=403)


def test_logout_goes_through_the_provider_with_the_id_token(oidc_app, relay):
    client = oidc_app.test_client()
    url, _ = start(client)
    client.get(authorize(relay, url, "agent-sub-11", CLAIMS))
    with client.session_transaction() as session:
        id_token = session["oidc_id_token"]
    response = client.post("/deconnexion")
    assert response.status_code == 302
    target = urlsplit(response.location)
    query = parse_qs(target.query)
    assert response.location.startswith(relay.url + "/oauth2/end_session")
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == ["http://localhost/deconnexion/retour"]
    with client.session_transaction() as session:
        assert "_user_id" not in session and session["logout_state"] == query["state"][0]
    back = client.get(f"/deconnexion/retour?state={query['state'][0]}")
    assert back.status_code == 302
    assert client.get("/mon-compte/").status_code in (302, 401)
    assert [a for a, _ in audit_actions(oidc_app)].count("logout") == 1


def test_an_unknown_provider_is_not_found(oidc_app):
    client = oidc_app.test_client()
    assert client.get("/connexion/oidc/nope").status_code == 404
    assert client.get("/connexion/oidc/nope/retour?code=x&state=y").status_code == 404


def test_the_session_has_an_absolute_lifetime(oidc_app, relay):
    client = oidc_app.test_client()
    url, _ = start(client)
    client.get(authorize(relay, url, "agent-sub-12", CLAIMS))
    assert client.get("/mon-compte/").status_code == 200
    with client.session_transaction() as session:
        session["auth_at"] = time.time() - 12 * 3600 - 5  # signed in 12 h ago, active since
    assert client.get("/mon-compte/").status_code in (302, 401)
    with client.session_transaction() as session:
        assert "_user_id" not in session
