"""A local OpenID Connect issuer for testing JWT authorizers offline.

It plays the part Cognito (or any OIDC provider) plays on AWS for an HTTP API's JWT authorizer:
it serves the discovery document at ``{issuer}/.well-known/openid-configuration`` and the key
set it names as ``jwks_uri``, over HTTPS on 127.0.0.1, and mints RS256 access tokens with the
claims a test asks for. API Gateway reads both documents over TLS from an absolute ``https``
issuer whose certificate chains to a CA it trusts
(https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-jwt-authorizer-create.html),
so the issuer makes its own certificate authority (``cryptography``) and hands out the CA's
certificate as :attr:`OidcIssuer.ca_file`. Nothing trusts that CA unless told to: the emulator's
gateway adds it to its own TLS context only (see :data:`TRUSTED_CA_ENV` and
``Gateway(trusted_ca_files=...)``); no process-wide TLS setting is changed.

Use it from a test, in the test's process, while the local stack runs in a subprocess::

    from task_scheduler_emulator.gateway.oidc_issuer import local_oidc_issuer

    with local_oidc_issuer(audience="task-scheduler") as issuer:
        env = {**os.environ, **issuer.env()}            # the stack's gateway trusts the CA
        env |= issuer.terraform_env(scopes={"read": ["tasks/read"], "write": []})
        ...start `python -m task_scheduler_emulator.run` with env...
        token = issuer.mint(sub="alice", scope="tasks/read", expires_in=300)
        request.add_header("Authorization", f"Bearer {token}")

``issuer.issuer_url`` is the value for the authorizer's ``issuer`` (``jwt_issuer``),
``issuer.audience`` one for its ``audience`` (``jwt_audience``); ``issuer.jwks_requests`` counts
how often the key set was fetched. ``python -m task_scheduler_emulator.gateway.oidc_issuer``
serves one until Ctrl-C and prints its URL, its CA file and a token (for ``make run`` by hand).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import ipaddress
import json
import shutil
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socket import socket
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .jwt import TRUSTED_CA_ENV

__all__ = ["DEFAULT_AUDIENCE", "TRUSTED_CA_ENV", "OidcIssuer", "local_oidc_issuer", "new_rsa_key"]

DEFAULT_AUDIENCE = "task-scheduler"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"
_KEEP = object()  # mint(): "the issuer's audience"


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (to sign a token the issuer's key set does not know)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": _b64(numbers.n), "e": _b64(numbers.e)}  # fmt: skip


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    """A CA signs certificates (and CRLs); the server's key signs its TLS handshakes."""
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _certificates(host: str) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key) as PEM: a CA of its own that signs a
    certificate for ``host`` (and localhost), with the extensions strict X.509 checks want."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "task-scheduler local OIDC CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem = serialization.Encoding.PEM
    return ca.public_bytes(pem), server.public_bytes(pem), key_pem


class _TlsServer(ThreadingHTTPServer):
    daemon_threads = True
    context: ssl.SSLContext

    def get_request(self) -> tuple[socket, Any]:
        raw, address = super().get_request()
        # The handshake runs on the request's own thread (first read), not in the accept loop.
        return self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False), (
            address
        )

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            super().handle_error(request, client_address)  # a client that does not trust the CA


class OidcIssuer:
    """An OIDC issuer on ``https://127.0.0.1:<port><path>``; :meth:`start` it, or use
    :func:`local_oidc_issuer`."""

    def __init__(
        self,
        *,
        audience: str = DEFAULT_AUDIENCE,
        path: str = "",
        directory: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """``path`` is the issuer URL's path (Cognito's is ``/<user pool id>``); ``directory``
        receives ``ca.pem`` (a temporary directory, removed on :meth:`stop`, if not given)."""
        self.audience = audience
        self._path = "/" + path.strip("/") if path.strip("/") else ""
        self._host = host
        self._own_directory = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="oidc-")) if directory is None else directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = self.directory / "ca.pem"
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self.kid = self.rotate()
        self._lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None
        self.issuer_url = ""

    # Keys -------------------------------------------------------------------------------------

    def rotate(self) -> str:
        """Publish a new signing key (the old ones stay published) and sign with it from now on;
        returns its ``kid``."""
        kid = uuid.uuid4().hex[:16]
        self._keys[kid] = new_rsa_key()
        self.kid = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        """The key set as served at ``jwks_uri``."""
        return {"keys": [_jwk(key, kid) for kid, key in self._keys.items()]}

    @property
    def jwks_requests(self) -> int:
        """How many times the key set has been fetched."""
        with self._lock:
            return self.requests.get(self._path + JWKS_PATH, 0)

    # Tokens -----------------------------------------------------------------------------------

    def mint(
        self,
        sub: str | None = "tester",
        *,
        aud: Any = _KEEP,
        scope: str | None = None,
        expires_in: float | None = 300,
        not_before_in: float | None = None,
        issued_in: float | None = 0,
        kid: str | None = None,
        key: Any = None,
        algorithm: str = "RS256",
        **claims: Any,
    ) -> str:
        """A signed JWT from this issuer.

        ``aud`` defaults to the issuer's audience (a string or a list; ``None`` leaves it out,
        e.g. to rely on ``client_id=...``); ``scope`` is the space-separated ``scope`` claim
        (pass ``scp=[...]`` for a list). Times are offsets in seconds from now: ``expires_in``
        (``exp``; negative: already expired), ``not_before_in`` (``nbf``), ``issued_in``
        (``iat``); ``None`` leaves the claim out. Any other claim is a keyword argument
        (``None`` removes it, e.g. ``iss="https://elsewhere"`` or ``client_id="app"``).
        ``kid`` replaces the header's key id and ``key`` the signing key (a private key, or bytes
        for HS256), to forge tokens the issuer's key set does not vouch for."""
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.issuer_url,
            "sub": sub,
            "aud": self.audience if aud is _KEEP else aud,
            "scope": scope,
            "iat": None if issued_in is None else int(now + issued_in),
            "nbf": None if not_before_in is None else int(now + not_before_in),
            "exp": None if expires_in is None else int(now + expires_in),
            "jti": uuid.uuid4().hex,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        signing_key = self._keys[self.kid] if key is None else key
        if algorithm == "none":  # an unsigned token
            signing_key = None
        header = {"kid": self.kid if kid is None else kid}
        return jwt.encode(payload, signing_key, algorithm=algorithm, headers=header)

    # Settings for a local stack -----------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment for the emulator's process: its gateway trusts this issuer's CA."""
        return {TRUSTED_CA_ENV: str(self.ca_file)}

    def terraform_env(self, scopes: Mapping[str, list[str]] | None = None) -> dict[str, str]:
        """``TF_VAR_*`` for examples/local: ``authorization_type = "JWT"`` with this issuer,
        its audience and the optional ``jwt_scopes`` (``{"read": [...], "write": [...]}``)."""
        env = {
            "TF_VAR_authorization_type": "JWT",
            "TF_VAR_jwt_issuer": self.issuer_url,
            "TF_VAR_jwt_audience": json.dumps([self.audience]),
        }
        if scopes is not None:
            env["TF_VAR_jwt_scopes"] = json.dumps(
                {"read": list(scopes.get("read", [])), "write": list(scopes.get("write", []))}
            )
        return env

    # Serving ----------------------------------------------------------------------------------

    def _documents(self) -> dict[str, bytes]:
        discovery = {
            "issuer": self.issuer_url,
            "jwks_uri": self.issuer_url + JWKS_PATH,
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        return {
            self._path + DISCOVERY_PATH: json.dumps(discovery).encode(),
            self._path + JWKS_PATH: json.dumps(self.jwks()).encode(),
        }

    def start(self) -> OidcIssuer:
        ca_pem, cert_pem, key_pem = _certificates(self._host)
        self.ca_file.write_bytes(ca_pem)
        chain = self.directory / "server.pem"
        chain.write_bytes(cert_pem + key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(chain)
        chain.unlink()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with issuer._lock:
                    issuer.requests[path] = issuer.requests.get(path, 0) + 1
                body = issuer._documents().get(path)
                status = 200 if body is not None else 404
                body = body if body is not None else b'{"message":"Not Found"}'
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _TlsServer((self._host, 0), Handler)
        self._server.context = context
        port = self._server.server_address[1]
        self.issuer_url = f"https://{self._host}:{port}{self._path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> OidcIssuer:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def local_oidc_issuer(
    *, audience: str = DEFAULT_AUDIENCE, path: str = "", directory: Path | None = None
) -> Iterator[OidcIssuer]:
    """A started :class:`OidcIssuer`, stopped (and its CA file removed) on exit."""
    with OidcIssuer(audience=audience, path=path, directory=directory) as issuer:
        yield issuer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a local OIDC issuer until Ctrl-C.")
    parser.add_argument("--audience", default=DEFAULT_AUDIENCE)
    parser.add_argument("--directory", type=Path, help="where to write ca.pem")
    parser.add_argument("--scope", default=None, help="the printed token's scope claim")
    parser.add_argument("--expires-in", type=int, default=3600)
    args = parser.parse_args(argv)
    with OidcIssuer(audience=args.audience, directory=args.directory) as issuer:
        token = issuer.mint(scope=args.scope, expires_in=args.expires_in)
        print(f"issuer:   {issuer.issuer_url}", flush=True)
        print(f"audience: {issuer.audience}")
        print(f"CA file:  {issuer.ca_file}   (export {TRUSTED_CA_ENV}={issuer.ca_file})")
        print(f"token:    {token}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
