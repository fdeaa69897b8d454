"""OpenID Connect sign-in (authorisation code flow) through authlib, ProConnect-ready.

* ``state`` and ``nonce`` are 43 random characters each (ProConnect requires ≥ 32), kept in the
  signed session and compared in constant time;
* the ID token's signature is checked against the provider's JWKS, then its issuer, audience,
  expiry and nonce;
* userinfo may come back as JSON or as a signed JWT (``application/jwt``, ProConnect): the JWT
  is verified against the same JWKS; its ``sub`` must be the ID token's;
* the ID token is kept in the session for RP-initiated logout (``id_token_hint``).

Any failure raises :class:`OidcRefused` with a reason code; the view logs, audits and shows it.
"""

from __future__ import annotations

import functools
import json
import secrets
import ssl
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OctKey

import authlib.deprecate  # noqa: F401,E402  (installs its own filter first)

with warnings.catch_warnings():  # authlib announces a future rename of its httpx module
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client
from authlib.common.errors import AuthlibBaseError

from core.specs import AuthProvider

TIMEOUT = 10.0
METADATA_TTL = 3600
STATE_BYTES = 32  # token_urlsafe(32) → 43 characters
ALGORITHMS = ["RS256", "ES256", "PS256", "HS256"]
_metadata_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_http: httpx.Client | None = None


def http() -> httpx.Client:
    """One shared HTTP client (building TLS contexts per request is slow)."""
    global _http
    if _http is None:
        _http = httpx.Client(timeout=TIMEOUT)
    return _http


class OidcRefused(Exception):
    """A refused sign-in: ``reason`` is a short code (``state``, ``nonce``, ``signature``…)."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass
class Identity:
    """What a provider told us about the person who signed in."""

    subject: str
    email: str
    name: str
    id_token: str
    claims: dict[str, Any]


def new_secret() -> str:
    return secrets.token_urlsafe(STATE_BYTES)


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = http().get(url)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcRefused("provider", f"{url}: {exc}") from None


def metadata(provider: AuthProvider, *, refresh: bool = False) -> dict[str, Any]:
    """The provider's discovery document (cached an hour)."""
    cached = _metadata_cache.get(provider.server_metadata_url)
    if cached and not refresh and cached[0] > time.monotonic():
        return cached[1]
    data = _get_json(provider.server_metadata_url)
    missing = [k for k in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri") if not data.get(k)]
    if missing:
        raise OidcRefused("provider", f"discovery document lacks {', '.join(missing)}")
    _metadata_cache[provider.server_metadata_url] = (time.monotonic() + METADATA_TTL, data)
    return data


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _client(provider: AuthProvider, redirect_uri: str) -> OAuth2Client:
    return OAuth2Client(client_id=provider.client_id, client_secret=provider.client_secret,
                        scope=" ".join(provider.scopes), redirect_uri=redirect_uri,
                        token_endpoint_auth_method=provider.token_auth_method, timeout=TIMEOUT,
                        verify=_tls_context())


def authorization_url(provider: AuthProvider, redirect_uri: str, state: str, nonce: str) -> str:
    meta = metadata(provider)
    with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state, nonce=nonce)
    return url


def _keys(meta: dict[str, Any], provider: AuthProvider) -> KeySet:
    keys = _get_json(meta["jwks_uri"])
    try:
        key_set = KeySet.import_key_set(keys)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcRefused("provider", f"unreadable JWKS: {exc}") from None
    return key_set


def _decode(token: str, key_set: KeySet, provider: AuthProvider, what: str) -> dict[str, Any]:
    """Verify a JWT's signature; HS256 tokens are signed with the client secret."""
    try:
        header = json.loads(_b64(token.split(".")[0]))
        if header.get("alg") == "HS256":
            candidates = [OctKey.import_key(provider.client_secret)]
        elif header.get("kid"):
            candidates = [key_set]
        else:  # no key id: any key of the set may have signed it
            candidates = [k for k in key_set.keys if k.get("use") in (None, "sig")]
    except (ValueError, IndexError, TypeError) as exc:
        raise OidcRefused("signature", f"{what}: unreadable JWT ({exc})") from None
    problem: Exception | None = None
    for key in candidates:
        try:
            return dict(jwt.decode(token, key, algorithms=ALGORITHMS).claims)
        except (JoseError, ValueError, TypeError) as exc:
            problem = exc
    raise OidcRefused("signature", f"{what}: {problem.__class__.__name__} {problem}")


def _b64(part: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def finish(provider: AuthProvider, redirect_uri: str, params: dict[str, str], expected_state: str,
           nonce: str) -> Identity:
    """Check the callback, exchange the code, verify the ID token and read userinfo."""
    if not expected_state or not secrets.compare_digest(params.get("state", ""), expected_state):
        raise OidcRefused("state", "the state does not match this browser's sign-in")
    if params.get("error"):
        raise OidcRefused("provider_error", f"{params['error']}: {params.get('error_description', '')}"[:300])
    code = params.get("code")
    if not code:
        raise OidcRefused("code", "no authorisation code")
    meta = metadata(provider)
    try:
        with _client(provider, redirect_uri) as client:
            token = client.fetch_token(meta["token_endpoint"], grant_type="authorization_code", code=code)
    except (AuthlibBaseError, httpx.HTTPError, ValueError) as exc:
        raise OidcRefused("code", f"token exchange refused: {exc}"[:300]) from None
    id_token, access_token = token.get("id_token"), token.get("access_token")
    if not id_token or not access_token:
        raise OidcRefused("code", "the token answer lacks id_token or access_token")
    key_set = _keys(meta, provider)
    claims = _decode(id_token, key_set, provider, "ID token")
    now = time.time()
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if claims.get("iss") != meta["issuer"]:
        raise OidcRefused("claims", f"issuer {claims.get('iss')!r} is not {meta['issuer']!r}")
    if provider.client_id not in audiences:
        raise OidcRefused("claims", "the ID token is not for this client")
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now - 60:
        raise OidcRefused("claims", "the ID token has expired")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(claims["nonce"], nonce):
        raise OidcRefused("nonce", "the nonce does not match this browser's sign-in")
    if not claims.get("sub"):
        raise OidcRefused("claims", "the ID token has no subject")
    info = dict(claims)
    if meta.get("userinfo_endpoint"):
        info.update(_userinfo(meta, provider, access_token, key_set, claims["sub"]))
    email = str(info.get("email") or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise OidcRefused("claims", "the provider gave no usable e-mail address")
    family = info.get("usual_name") or info.get("family_name") or ""
    name = " ".join(str(p) for p in (info.get("given_name") or "", family) if p).strip() \
        or str(info.get("name") or email)
    return Identity(subject=str(claims["sub"]), email=email, name=name[:200], id_token=id_token,
                    claims=info)


def _userinfo(meta: dict[str, Any], provider: AuthProvider, access_token: str, key_set: KeySet,
              subject: str) -> dict[str, Any]:
    try:
        response = http().get(meta["userinfo_endpoint"],
                              headers={"Authorization": f"Bearer {access_token}"})
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise OidcRefused("userinfo", str(exc)[:300]) from None
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/jwt":
        info = _decode(response.text.strip(), key_set, provider, "userinfo")
        if info.get("iss") not in (None, meta["issuer"]):
            raise OidcRefused("claims", "the userinfo issuer is not the provider")
    else:
        try:
            info = response.json()
        except ValueError:
            raise OidcRefused("userinfo", f"unreadable answer ({content_type})") from None
    if not isinstance(info, dict) or info.get("sub") != subject:
        raise OidcRefused("userinfo", "userinfo is about someone else")
    return info


def logout_url(provider: AuthProvider, id_token: str, post_logout_redirect_uri: str,
               state: str) -> str | None:
    """The provider's ``end_session_endpoint`` URL for RP-initiated logout, if it has one."""
    try:
        endpoint = metadata(provider).get("end_session_endpoint")
    except OidcRefused:
        return None
    if not endpoint:
        return None
    query = httpx.QueryParams({"id_token_hint": id_token, "state": state,
                               "post_logout_redirect_uri": post_logout_redirect_uri})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
