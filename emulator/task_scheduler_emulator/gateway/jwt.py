"""JWT authorizers (``JWT`` routes) for the local gateway, as API Gateway HTTP APIs run them.

The workflow of "Control access to HTTP APIs with JWT authorizers in API Gateway"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):

1. **Token.** Read from the authorizer's ``identitySource`` (``$request.header.<name>``, the
   default ``$request.header.Authorization``, or ``$request.querystring.<name>``). "The
   identitySource can include only the token, or the token prefixed with Bearer": a leading
   ``"Bearer "`` (exactly that spelling) is removed. A missing or empty identity source is
   refused (401) without any further work (as for Lambda authorizers,
   https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-lambda-authorizer.html).
   Repeated headers are joined with commas first, as API Gateway does, so two tokens never pass.
2. **Decode** the compact JWS (RFC 7515: three unpadded base64url parts, a JSON object header
   and claims set); anything else, and any ``crit`` header extension, is refused.
3. **Signature.** The key comes from the issuer's key set: its discovery document
   ``{issuer}/.well-known/openid-configuration`` names the ``jwks_uri``
   (https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-jwt-authorizer-keys.html).
   "Currently, only RSA-based algorithms are supported": RS256, RS384 and RS512 (``none``, HMAC,
   EC and PSS tokens are refused). ``kid`` - "The token must have a header claim that matches
   the key in the jwks_uri that signed the token"; a JWK whose ``use`` is not ``sig`` or whose
   ``alg`` differs from the token's is not used.
4. **Claims** (each failure is a 401): ``iss`` equal to the authorizer's issuer, exactly (the
   REST page: "must match the token's iss claim exactly"); ``aud`` - or ``client_id`` only if
   there is no ``aud`` - one of the authorizer's audience entries ("API Gateway validates
   client_id only if aud is not present. When both aud and client_id are present, API Gateway
   evaluates aud", https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html);
   ``exp`` after the current time (required), ``nbf`` and ``iat`` not after it (checked when
   present). Times are NumericDates (JSON numbers). No clock skew is allowed: AWS documents
   none, and the emulator is never kinder.
5. **Scopes.** "If you configure scopes for a route, the token must include at least one of the
   route's scopes", read from ``scope`` (space-separated) or ``scp`` (a list, or
   space-separated); when the token has ``scope``, ``scp`` is not read. A valid token without
   one of them is answered 403 ``{"message":"Forbidden"}`` (as the REST page on scopes says, "A
   valid token that carries none of the method's scopes receives a 403 Forbidden response",
   https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-jwt-authorizer-methods.html).

Every other refusal is 401 ``{"message":"Unauthorized"}`` with a ``www-authenticate: Bearer
scope="..." error="invalid_token" error_description="..."`` header, the shape of the
troubleshooting page's example. Only "the token does not have a valid audience" is AWS's
documented wording; the other descriptions are the emulator's own, to help debugging.

**Lambda event.** On success the integration gets ``requestContext.authorizer.jwt`` = ``{"claims":
{...}, "scopes": [...]}``
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
As recorded against real API Gateway (floci-io/floci#2011, and the event in
DefinitelyTyped/DefinitelyTyped#75458): claim values are strings (numbers and booleans
stringified, lists as ``[a b]``, objects as JSON, null claims left out), and ``scopes`` is
``null`` on routes without authorization scopes, else the token's full scope list.

**Key cache.** "API Gateway can cache the public key for two hours": each issuer's discovery
document and key set are fetched once, on the first request that needs them (concurrent first
requests share one fetch), and reused for :data:`JWKS_CACHE_SECONDS`. Within that time a token
whose ``kid`` is not in the cached set is refused without fetching again (AWS may re-fetch on an
unknown key; the emulator stays on the strict side). A failed fetch is not cached. Both
documents are read over HTTPS only (redirects too), verified against the system's CAs plus the
files given as ``trusted_ca_files`` (for the local test issuer, see :mod:`.oidc_issuer`): the
trust is added to this authorizer's own TLS context, never to the process.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

TRUSTED_CA_ENV = "TASK_SCHEDULER_EMULATOR_TRUSTED_CA"
"""CA certificate file(s), ``os.pathsep``-separated, that a :class:`~.gateway.Gateway` built
without ``trusted_ca_files`` trusts (besides the system's) to fetch issuers' keys."""
JWKS_CACHE_SECONDS = 2 * 60 * 60
FETCH_TIMEOUT_SECONDS = 5.0
MAX_DOCUMENT_BYTES = 1 << 20
ALGORITHMS: dict[str, type[hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}
DISCOVERY_PATH = "/.well-known/openid-configuration"
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class JwtDenied:
    """API Gateway's answer to a request a JWT authorizer refuses."""

    status: int
    description: str
    scopes: tuple[str, ...] = ()

    def response(self) -> _Response:
        error = "insufficient_scope" if self.status == 403 else "invalid_token"
        message = "Forbidden" if self.status == 403 else "Unauthorized"
        challenge = (
            f'Bearer scope="{_quotable(" ".join(self.scopes))}" error="{error}" '
            f'error_description="{_quotable(self.description)}"'
        )
        headers = {"content-type": "application/json", "www-authenticate": challenge}
        return self.status, headers, json.dumps({"message": message}).encode()


def _quotable(text: str) -> str:
    """``text`` fit for a quoted header parameter: no quotes, backslashes or control
    characters."""
    return "".join("'" if c in '"\\' else " " if ord(c) < 32 or ord(c) == 127 else c for c in text)


class FetchFailed(Exception):
    """The issuer's discovery document or key set could not be read."""


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:  # fmt: skip
        if urlsplit(newurl).scheme != "https":
            raise FetchFailed(f"redirect to a non-https URL: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def trust_context(ca_files: Iterable[str | Path] = ()) -> ssl.SSLContext:
    """The system's trusted CAs plus ``ca_files``, for this authorizer's fetches only."""
    context = ssl.create_default_context()
    for ca_file in ca_files:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def claim_value(value: Any) -> str:
    """A claim as payload format 2.0 renders it: strings as is, numbers and booleans as text,
    lists as ``[a b]``, objects as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(claim_value(item) for item in value if item is not None) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: ``scope`` if present, else ``scp``; a string is space-separated."""
    raw = claims["scope"] if "scope" in claims else claims.get("scp")
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, str)]
    return []


def _segment(text: str) -> bytes:
    """One base64url segment of a compact JWS: unpadded and canonical, else ValueError."""
    if not _SEGMENT.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=") != text.encode():
        raise ValueError("not canonical base64url")
    return raw


def parse_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, claims, signing input, signature) of a compact JWS with JSON object parts;
    ValueError for anything else (a JWE, a token with ``crit`` extensions, ...)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    try:
        header, claims = (json.loads(_segment(part)) for part in parts[:2])
        signature = _segment(parts[2])
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from error
    if not isinstance(header, dict) or not isinstance(claims, dict) or "crit" in header:
        raise ValueError("not a JWT")
    return header, claims, f"{parts[0]}.{parts[1]}".encode(), signature


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(name)
    return float(value)


@dataclass
class _KeySet:
    fetched_at: float
    keys: dict[str, tuple[rsa.RSAPublicKey, str | None]]  # kid -> (public key, the JWK's alg)


class JwtAuthorizer:
    """Authorizes requests to ``JWT`` routes of one gateway; keeps each issuer's key set."""

    def __init__(
        self,
        *,
        trusted_ca_files: Sequence[str | Path] = (),
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock, self._monotonic = clock, monotonic
        context = trust_context(trusted_ca_files)
        redirects = _HttpsOnlyRedirects()
        https = urllib.request.HTTPSHandler(context=context)
        self._opener = urllib.request.build_opener(https, redirects)
        self._loopback_opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), https, redirects
        )
        self._key_sets: dict[str, _KeySet] = {}
        self._fetch_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    # Key sets ---------------------------------------------------------------------------------

    def _get_json(self, url: str) -> Any:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise FetchFailed(f"not an absolute https URL: {url!r}")
        opener = self._loopback_opener if parts.hostname in _LOOPBACK else self._opener
        try:
            with opener.open(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
                return json.loads(response.read(MAX_DOCUMENT_BYTES + 1)[:MAX_DOCUMENT_BYTES])
        except FetchFailed:
            raise
        except (OSError, ValueError) as error:
            raise FetchFailed(f"{url}: {error}") from error

    def _fetch(self, issuer: str) -> _KeySet:
        discovery = self._get_json(issuer.rstrip("/") + DISCOVERY_PATH)
        jwks_uri = discovery.get("jwks_uri") if isinstance(discovery, dict) else None
        if not isinstance(jwks_uri, str):
            raise FetchFailed(f"the discovery document of {issuer} names no jwks_uri")
        document = self._get_json(jwks_uri)
        keys: dict[str, tuple[rsa.RSAPublicKey, str | None]] = {}
        for jwk in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
                continue
            if jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
                continue
            try:
                public_key = RSAAlgorithm.from_jwk(jwk)
            except (jwt.InvalidKeyError, ValueError, KeyError, TypeError):
                continue
            if isinstance(public_key, rsa.RSAPublicKey):
                keys[jwk["kid"]] = (public_key, jwk.get("alg"))
        with self._lock:
            self.fetches += 1
        return _KeySet(fetched_at=self._monotonic(), keys=keys)

    def key_set(self, issuer: str) -> _KeySet:
        """The issuer's cached key set, fetched when missing or older than the cache time."""
        cached = self._key_sets.get(issuer)
        if cached is not None and self._monotonic() - cached.fetched_at < JWKS_CACHE_SECONDS:
            return cached
        with self._lock:
            lock = self._fetch_locks.setdefault(issuer, threading.Lock())
        with lock:  # concurrent first requests wait for one fetch
            cached = self._key_sets.get(issuer)
            if cached is not None and self._monotonic() - cached.fetched_at < JWKS_CACHE_SECONDS:
                return cached
            self._key_sets[issuer] = fetched = self._fetch(issuer)
            return fetched

    # Requests ---------------------------------------------------------------------------------

    @staticmethod
    def identity(authorizer: Mapping[str, Any], headers: Any, query: str) -> str | None:
        """The token from the authorizer's identity source, ``Bearer `` removed."""
        sources = authorizer.get("IdentitySource") or []
        sources = [sources] if isinstance(sources, str) else list(sources)
        if len(sources) != 1:
            return None  # a JWT authorizer has exactly one identity source (required)
        source = str(sources[0])
        if source.startswith("$request.header."):
            values = headers.get_all(source.removeprefix("$request.header.")) or []
        elif source.startswith("$request.querystring."):
            name = source.removeprefix("$request.querystring.")
            values = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == name]
        else:
            return None
        value = ",".join(values)
        return value.removeprefix("Bearer ") or None

    def authorize(
        self,
        authorizer: Mapping[str, Any] | None,
        route_scopes: Sequence[str],
        headers: Any,
        query: str,
    ) -> JwtDenied | dict[str, Any]:
        """``requestContext.authorizer.jwt`` for the request, or API Gateway's refusal.

        ``authorizer`` is the route's authorizer as ``GetAuthorizer`` returns it (``None`` when
        the route names none: refused); ``headers`` has ``get_all``."""
        scopes = tuple(route_scopes)
        if authorizer is None or authorizer.get("AuthorizerType") != "JWT":
            return JwtDenied(401, "the route has no JWT authorizer", scopes)
        configuration = authorizer.get("JwtConfiguration") or {}
        issuer, audience = configuration.get("Issuer"), configuration.get("Audience") or []
        token = self.identity(authorizer, headers, query)
        if token is None:
            return JwtDenied(401, "the identity source carries no token", scopes)
        try:
            header, claims, signing_input, signature = parse_jws(token)
        except ValueError:
            return JwtDenied(401, "the token is not a valid JWT", scopes)
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            return JwtDenied(401, f"the token's algorithm {algorithm!r} is not supported", scopes)
        if not isinstance(kid, str):
            return JwtDenied(401, "the token has no kid", scopes)
        if not isinstance(issuer, str):
            return JwtDenied(401, "the authorizer has no issuer", scopes)
        try:
            key_set = self.key_set(issuer)
        except FetchFailed as error:
            return JwtDenied(401, f"could not read the issuer's keys ({error})", scopes)
        found = key_set.keys.get(kid)
        if found is None or found[1] not in (None, algorithm):
            return JwtDenied(401, "the token's kid is not in the issuer's key set", scopes)
        try:
            found[0].verify(signature, signing_input, padding.PKCS1v15(), ALGORITHMS[algorithm]())
        except InvalidSignature:
            return JwtDenied(401, "the token's signature is invalid", scopes)
        denied = self._check_claims(claims, issuer, audience, scopes)
        if denied is not None:
            return denied
        granted = token_scopes(claims)
        if scopes and not set(scopes) & set(granted):
            return JwtDenied(403, "the token does not have a required scope", scopes)
        return {
            "claims": {k: claim_value(v) for k, v in claims.items() if v is not None},
            "scopes": granted if scopes else None,
        }

    def _check_claims(
        self,
        claims: Mapping[str, Any],
        issuer: str,
        audience: Sequence[str],
        scopes: tuple[str, ...],
    ) -> JwtDenied | None:
        now = self._clock()
        try:
            expires, not_before, issued = (_numeric_date(claims, n) for n in ("exp", "nbf", "iat"))
        except ValueError as error:
            return JwtDenied(401, f"the token's {error} is not a number", scopes)
        if expires is None or expires <= now:
            return JwtDenied(401, "the token has expired", scopes)
        if not_before is not None and not_before > now:
            return JwtDenied(401, "the token is not valid yet", scopes)
        if issued is not None and issued > now:
            return JwtDenied(401, "the token was issued in the future", scopes)
        if claims.get("iss") != issuer:
            return JwtDenied(401, "the token does not have a valid issuer", scopes)
        if "aud" in claims:
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        else:
            audiences = [claims["client_id"]] if "client_id" in claims else []
        if not any(isinstance(a, str) and a in audience for a in audiences):
            return JwtDenied(401, "the token does not have a valid audience", scopes)
        return None
