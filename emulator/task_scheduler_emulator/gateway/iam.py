"""IAM authorization (``AWS_IAM`` routes) for the local gateway, as API Gateway HTTP APIs do it.

"When IAM authorization is enabled, clients must use Signature Version 4 (SigV4) to sign their
requests with AWS credentials. API Gateway invokes your API route only if the client has
execute-api permission for the route"
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-access-control-iam.html).

**Authentication.** The ``Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
Signature=...`` header is checked against the secret of the access key in the emulator's moto
IAM backend (``iam:CreateUser`` + ``iam:CreateAccessKey``; only Active keys of IAM users). The
signature is recomputed with botocore's ``SigV4Auth`` (service ``execute-api``, the gateway's
Region) over the request as received: method, raw path, query string (each name and value
decoded and re-encoded, as SigV4 canonicalises it), exactly the headers named in
``SignedHeaders``, and the SHA-256 of the body. "A request must reach AWS within five minutes
of the time stamp in the request" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_aws-signing.html),
in either direction.

**Authorization.** The caller's identity-based policies (inline and managed, of the user and of
its groups; a managed policy's default version) are evaluated for ``execute-api:Invoke`` on
``arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/{METHOD}/{path}`` (the request's
method and path without the stage segment): an explicit Deny wins, else an Allow is needed, else
the request is denied implicitly (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html),
by :mod:`task_scheduler_emulator.iam_policy`: actions match case-insensitively, resources
case-sensitively, ``*`` and ``?`` as wildcards; ``NotAction``/``NotResource`` as documented.
moto's ``access_control`` evaluator is not reused: it reads ``*`` as a regular expression
without escaping the rest (``$default`` never matches), lets any statement with ``NotResource``
through (kinder than AWS), and denies on any condition. The gateway does not build the request
context AWS would (``aws:SourceIp``, ``aws:PrincipalTag/*``, ...), so conditions are not
decided: a statement with a ``Condition`` never allows, and a Deny with one always applies (fail
closed, never kinder). Temporary credentials (session tokens),
presigned query-string signatures, permissions boundaries and SCPs are not supported: such
requests are refused.

**Answers** (403, JSON, with ``x-amzn-errortype``; the messages of "How do I troubleshoot HTTP
403 errors from API Gateway?", https://repost.aws/knowledge-center/api-gateway-troubleshoot-403-forbidden,
and https://repost.aws/knowledge-center/api-gateway-iam-sigv4-mismatch):

* no signature: HTTP APIs answer ``{"message":"Forbidden"}`` (REST APIs say "Missing
  Authentication Token"; the HTTP API body is the one recorded against real API Gateway by
  https://github.com/smoketurner/amazon-apigateway-self-hosted, docs/parity matrix);
* unknown or inactive access key, or a session token: "The security token included in the
  request is invalid.";
* wrong secret or altered request: "The request signature we calculated does not match the
  signature you provided. Check your AWS Secret Access Key and signing method. Consult the
  service documentation for details.";
* clock skew: "Signature expired: {date} is now earlier than {now - 5 min} ({now} - 5 min.)" or
  "Signature not yet current: {date} is still later than {now + 5 min} ({now} + 5 min.)";
* not allowed: "User: {user ARN} is not authorized to perform: execute-api:Invoke on resource:
  {route ARN} because no identity-based policy allows the execute-api:Invoke action" (or "with
  an explicit deny in an identity-based policy"), the account in the route ARN masked to its
  last four digits as API Gateway prints it.

An allowed caller reaches the integration as ``requestContext.authorizer.iam`` (accessKey,
accountId, callerId, cognitoIdentity, principalOrgId, userArn, userId) in the payload 2.0 event
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).

**Cost.** A caller's key, secret and parsed policies are read from the IAM backend at most once
per :data:`IDENTITY_REFRESH_SECONDS` (IAM changes are eventually consistent on AWS too,
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency),
and its decision per route ARN is kept with it; the signature is verified on every request.
"""

from __future__ import annotations

import datetime
import hmac
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from task_scheduler_emulator.iam_policy import evaluate

SERVICE = "execute-api"
ACTION = "execute-api:Invoke"
MAX_SKEW = datetime.timedelta(minutes=5)
IDENTITY_REFRESH_SECONDS = 1.0
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AUTHORIZATION = re.compile(r"^AWS4-HMAC-SHA256\s+(?P<fields>.+)$", re.DOTALL)

SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Denied:
    """API Gateway's answer to a request it does not authorize."""

    message: str
    error_type: str
    status: int = 403

    def response(self) -> tuple[int, dict[str, str], bytes]:
        headers = {"content-type": "application/json", "x-amzn-errortype": self.error_type}
        return self.status, headers, json.dumps({"message": self.message}).encode()


FORBIDDEN = Denied("Forbidden", "MissingAuthenticationTokenException")


@dataclass
class _Identity:
    """An IAM user's access key as the gateway sees it, with its parsed policies."""

    access_key: str
    secret: str
    account_id: str
    user_arn: str
    user_id: str
    policies: list[dict[str, Any]]
    decisions: dict[str, str] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        """``requestContext.authorizer.iam`` of the payload 2.0 event."""
        return {
            "accessKey": self.access_key,
            "accountId": self.account_id,
            "callerId": self.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": self.user_arn,
            "userId": self.user_id,
        }


def _documents(backend: Any, user: Any) -> list[dict[str, Any]]:
    """The user's identity-based policy documents: inline and managed, user and groups."""

    def managed(policy: Any) -> str:
        version = next(v for v in policy.versions if v.is_default)
        return str(version.document)

    raw: list[str] = list(user.policies.values())
    raw += [managed(policy) for policy in user.managed_policies.values()]
    for group in backend.get_groups_for_user(user.name):
        raw += list(group.policies.values())
        raw += [managed(policy) for policy in group.managed_policies.values()]
    documents = []
    for document in raw:
        try:
            parsed = json.loads(document)
        except ValueError:  # IAM hands documents out URL-encoded; moto may keep them so
            try:
                parsed = json.loads(unquote(document))
            except ValueError:
                continue
        if isinstance(parsed, dict):
            documents.append(parsed)
    return documents


def _lookup(account_id: str, access_key: str) -> tuple[Any, Any, Any] | None:
    """(backend, user, key) of an Active access key of an IAM user, from moto's IAM backend."""
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id]["aws"]
    for _ in range(3):  # the dicts may change under us while another thread creates users
        try:
            for user in list(backend.users.values()):
                for key in list(user.access_keys):
                    if key.access_key_id == access_key:
                        return (backend, user, key) if key.status == "Active" else None
            return None
        except RuntimeError:
            continue
    return None


class _Recomputed(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 over exactly the headers the client says it signed."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        header_map = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                header_map[name] = value
        return header_map


def canonical_query(query: str) -> str:
    """The query string as SigV4 canonicalises it: names and values URI-encoded, sorted."""
    pairs = []
    for pair in query.split("&") if query else []:
        name, _, value = pair.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _authorization_fields(header: str) -> dict[str, str] | None:
    found = _AUTHORIZATION.match(header.strip())
    if found is None:
        return None
    fields = {}
    for part in found["fields"].split(","):
        name, _, value = part.strip().partition("=")
        fields[name] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


def _mask(account_id: str) -> str:
    return "*" * max(len(account_id) - 4, 0) + account_id[-4:]


class IamAuthorizer:
    """Authenticates and authorizes requests to ``AWS_IAM`` routes of one gateway."""

    def __init__(self, region: str, clock: Callable[[], float] = time.time) -> None:
        self.region, self._clock = region, clock
        self._identities: dict[tuple[str, str], _Identity | None] = {}
        self._read_at: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def _identity(self, account_id: str, access_key: str) -> _Identity | None:
        cache_key = (account_id, access_key)
        now = time.monotonic()
        with self._lock:
            if now - self._read_at.get(cache_key, -IDENTITY_REFRESH_SECONDS) < (
                IDENTITY_REFRESH_SECONDS
            ):
                return self._identities[cache_key]
        found = _lookup(account_id, access_key)
        identity = None
        if found is not None:
            backend, user, key = found
            identity = _Identity(
                access_key=access_key,
                secret=key.secret_access_key,
                account_id=account_id,
                user_arn=user.arn,
                user_id=user.id,
                policies=_documents(backend, user),
            )
        with self._lock:
            self._identities[cache_key], self._read_at[cache_key] = identity, now
        return identity

    def authorize(
        self,
        *,
        method: str,
        raw_path: str,
        query: str,
        headers: Any,
        body: bytes,
        account_id: str,
        route_arn: str,
    ) -> Denied | dict[str, Any]:
        """The caller's ``requestContext.authorizer.iam``, or API Gateway's refusal.

        ``headers`` is the request's header message (``get``/``get_all``)."""
        header = headers.get("authorization")
        if not header:
            return FORBIDDEN
        fields = _authorization_fields(header)
        if fields is None:
            return FORBIDDEN
        access_key = fields["Credential"].split("/", 1)[0]
        if headers.get("x-amz-security-token"):
            return Denied(INVALID_TOKEN, "AccessDeniedException")
        amz_date = headers.get("x-amz-date") or ""
        try:
            signed_at = datetime.datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=datetime.UTC)
        except ValueError:
            return Denied(SIGNATURE_MISMATCH, "InvalidSignatureException")
        if (skew := self._skew(signed_at)) is not None:
            return skew
        identity = self._identity(account_id, access_key)
        if identity is None:
            return Denied(INVALID_TOKEN, "AccessDeniedException")
        if not self._signature_matches(identity, fields, method, raw_path, query, headers, body):
            return Denied(SIGNATURE_MISMATCH, "InvalidSignatureException")
        decision = identity.decisions.get(route_arn)
        if decision is None:
            decision = identity.decisions[route_arn] = evaluate(
                identity.policies, ACTION, route_arn
            )
        if decision == "allow":
            return identity.context()
        arn_parts = route_arn.split(":", 5)
        arn_parts[4] = _mask(arn_parts[4])
        shown = ":".join(arn_parts)
        reason = (
            "with an explicit deny in an identity-based policy"
            if decision == "explicit_deny"
            else f"because no identity-based policy allows the {ACTION} action"
        )
        message = (
            f"User: {identity.user_arn} is not authorized to perform: {ACTION} on resource: "
            f"{shown} {reason}"
        )
        return Denied(message, "AccessDeniedException")

    def _skew(self, signed_at: datetime.datetime) -> Denied | None:
        now = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC).replace(microsecond=0)
        stamp = signed_at.strftime(_AMZ_DATE)
        if signed_at < now - MAX_SKEW:
            earliest, shown = (now - MAX_SKEW).strftime(_AMZ_DATE), now.strftime(_AMZ_DATE)
            message = (
                f"Signature expired: {stamp} is now earlier than {earliest} ({shown} - 5 min.)"
            )
            return Denied(message, "InvalidSignatureException")
        if signed_at > now + MAX_SKEW:
            latest, shown = (now + MAX_SKEW).strftime(_AMZ_DATE), now.strftime(_AMZ_DATE)
            message = (
                f"Signature not yet current: {stamp} is still later than {latest} "
                f"({shown} + 5 min.)"
            )
            return Denied(message, "InvalidSignatureException")
        return None

    def _signature_matches(
        self,
        identity: _Identity,
        fields: dict[str, str],
        method: str,
        raw_path: str,
        query: str,
        headers: Any,
        body: bytes,
    ) -> bool:
        signed = [name.strip().lower() for name in fields["SignedHeaders"].split(";") if name]
        request_headers = HTTPHeaders()
        for name in signed:
            for value in headers.get_all(name) or []:
                request_headers[name] = value
        canonical = canonical_query(query)
        url = f"http://{headers.get('host', 'localhost')}{raw_path}"
        request = AWSRequest(
            method=method,
            url=f"{url}?{canonical}" if canonical else url,
            data=body,
            headers=request_headers,
        )
        request.context["timestamp"] = headers.get("x-amz-date")
        auth = _Recomputed(Credentials(identity.access_key, identity.secret), self.region, signed)
        string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
        expected: str = auth.signature(string_to_sign, request)
        return hmac.compare_digest(expected, fields["Signature"].strip())
