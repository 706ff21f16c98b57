"""SigV4 for AWS_IAM routes: botocore's signer, verified the way API Gateway does it.

Each check recomputes the signature with botocore from the request as it arrived on the wire
(method, path and query, the signed headers, the body) and compares it with the one sent.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from task_scheduler_client import ConfigurationError, NotFoundError, TaskSchedulerClient
from task_scheduler_client.aws import region_from_arn, region_from_url

from .conftest import ACCESS_KEY, REGION, SECRET_KEY
from .fake_api import FakeApi, Recorded

AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,]+), "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


def _wire_request(recorded: Recorded, base_url: str, body: bytes | None = None) -> AWSRequest:
    """The request as the server saw it, with only the headers the client signed."""
    match = AUTHORIZATION.match(recorded.headers["authorization"])
    assert match, recorded.headers["authorization"]
    headers = {name: recorded.headers[name] for name in match["signed"].split(";")}
    request = AWSRequest(
        method=recorded.method,
        url=base_url + recorded.path,
        data=recorded.body if body is None else body,
        headers=headers,
    )
    request.context["timestamp"] = recorded.headers["x-amz-date"]
    return request


def expected_signature(
    recorded: Recorded,
    base_url: str,
    *,
    secret: str = SECRET_KEY,
    token: str | None = None,
    region: str = REGION,
    body: bytes | None = None,
) -> str:
    request = _wire_request(recorded, base_url, body)
    signer = SigV4Auth(Credentials(ACCESS_KEY, secret, token), "execute-api", region)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    return str(signer.signature(string_to_sign, request))


def sent_signature(recorded: Recorded) -> str:
    match = AUTHORIZATION.match(recorded.headers["authorization"])
    assert match
    return match["signature"]


@pytest.mark.usefixtures("credentials")
def test_schedule_is_signed_for_execute_api_and_verifies(api: FakeApi) -> None:
    client = TaskSchedulerClient(api.url, auth="iam", region=REGION)
    client.schedule("2030-08-21T04:29:00.951Z", {"name": "Luke"}, id="signed-1")
    recorded = api.last
    match = AUTHORIZATION.match(recorded.headers["authorization"])
    assert match
    date = recorded.headers["x-amz-date"]
    sent_at = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=1)
    assert match["credential"] == f"{ACCESS_KEY}/{date[:8]}/{REGION}/execute-api/aws4_request"
    assert {"host", "x-amz-date", "content-type"} <= set(match["signed"].split(";"))
    assert recorded.headers["host"] == api.url.removeprefix("http://")
    assert "x-amz-security-token" not in recorded.headers
    assert match["signature"] == expected_signature(recorded, api.url)


@pytest.mark.usefixtures("credentials")
def test_the_signed_payload_hash_covers_the_body(api: FakeApi) -> None:
    client = TaskSchedulerClient(api.url, auth="iam", region=REGION)
    client.schedule("2030-08-21T04:29:00.951Z", {"amount": 100})
    recorded = api.last
    request = _wire_request(recorded, api.url)
    canonical = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", REGION)
    assert canonical.canonical_request(request).splitlines()[-1] == (
        hashlib.sha256(recorded.body).hexdigest()
    )
    tampered = recorded.body.replace(b"100", b"999")
    assert tampered != recorded.body
    assert sent_signature(recorded) == expected_signature(recorded, api.url)
    assert sent_signature(recorded) != expected_signature(recorded, api.url, body=tampered)


@pytest.mark.usefixtures("credentials")
def test_a_wrong_secret_or_region_does_not_verify(api: FakeApi) -> None:
    client = TaskSchedulerClient(api.url, auth="iam", region=REGION)
    with pytest.raises(NotFoundError):
        client.status("t1")
    recorded = api.last
    assert sent_signature(recorded) == expected_signature(recorded, api.url)
    assert sent_signature(recorded) != expected_signature(recorded, api.url, secret="other")
    assert sent_signature(recorded) != expected_signature(recorded, api.url, region="us-east-1")


@pytest.mark.usefixtures("credentials")
def test_every_route_verifies_query_strings_included(api: FakeApi) -> None:
    client = TaskSchedulerClient(api.url, auth="iam", region=REGION)
    for i in range(3):
        client.schedule(f"2030-01-0{i + 1}T00:00:00Z", i, id=f"t{i}")
    token = client.list(status="scheduled", limit=1)["next"]
    assert token is not None
    assert "=" in token  # base64 padding, percent-encoded in the URL
    client.list(status="scheduled", limit=1, next=token)
    client.status("t0")
    client.reschedule("t0", message="new")
    client.cancel("t1")
    assert len(api.requests) == 8
    for recorded in api.requests:
        assert sent_signature(recorded) == expected_signature(recorded, api.url), recorded.path


def test_temporary_credentials_sign_their_session_token(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token-value")
    TaskSchedulerClient(api.url, auth="iam", region=REGION).list()
    recorded = api.last
    assert recorded.headers["x-amz-security-token"] == "session-token-value"
    match = AUTHORIZATION.match(recorded.headers["authorization"])
    assert match
    assert "x-amz-security-token" in match["signed"].split(";")
    assert sent_signature(recorded) == expected_signature(
        recorded, api.url, token="session-token-value"
    )


def test_credentials_come_from_a_named_profile(api: FakeApi, tmp_path: Path) -> None:
    (tmp_path / "aws-credentials").write_text(
        f"[scheduler]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    (tmp_path / "aws-config").write_text(f"[profile scheduler]\nregion = {REGION}\n")
    client = TaskSchedulerClient(api.url, auth="iam", profile="scheduler")
    assert client.region == REGION
    client.list()
    assert sent_signature(api.last) == expected_signature(api.last, api.url)


def test_a_boto3_or_botocore_session_is_used_as_given(api: FakeApi) -> None:
    boto3_session = boto3.Session(
        aws_access_key_id=ACCESS_KEY, aws_secret_access_key="boto3", region_name="ca-central-1"
    )
    client = TaskSchedulerClient(api.url, auth="iam", session=boto3_session)
    assert client.region == "ca-central-1"
    client.list()
    assert sent_signature(api.last) == expected_signature(
        api.last, api.url, secret="boto3", region="ca-central-1"
    )

    botocore_session = botocore.session.Session()
    botocore_session.set_credentials(ACCESS_KEY, "botocore")
    botocore_session.set_config_variable("region", "ap-south-1")
    client = TaskSchedulerClient(api.url, auth="iam", session=botocore_session)
    assert client.region == "ap-south-1"
    client.list()
    assert sent_signature(api.last) == expected_signature(
        api.last, api.url, secret="botocore", region="ap-south-1"
    )
    with pytest.raises(ConfigurationError, match="session or profile"):
        TaskSchedulerClient(api.url, auth="iam", session=boto3_session, profile="p")


def test_no_credentials_is_a_configuration_error_at_the_first_request(api: FakeApi) -> None:
    client = TaskSchedulerClient(api.url, auth="iam", region=REGION)
    with pytest.raises(ConfigurationError, match="no AWS credentials"):
        client.list()
    assert api.requests == []


def test_without_iam_auth_nothing_is_signed(api: FakeApi, credentials: None) -> None:
    TaskSchedulerClient(api.url).list()
    assert "authorization" not in api.last.headers
    assert "x-amz-date" not in api.last.headers


@pytest.mark.usefixtures("credentials")
def test_the_signing_region_comes_from_the_url_else_the_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    aws_url = "https://a1b2c3d4e5.execute-api.ap-southeast-2.amazonaws.com"
    assert TaskSchedulerClient(aws_url, auth="iam").region == "ap-southeast-2"
    assert TaskSchedulerClient(aws_url, auth="iam", region="us-west-2").region == "us-west-2"
    with pytest.raises(ConfigurationError, match="no region"):
        TaskSchedulerClient("http://127.0.0.1:8080", auth="iam")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    assert TaskSchedulerClient("http://127.0.0.1:8080", auth="iam").region == "sa-east-1"
    assert TaskSchedulerClient("http://127.0.0.1:8080").region is None


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://abc.execute-api.eu-west-1.amazonaws.com", "eu-west-1"),
        ("https://abc.execute-api.us-gov-west-1.amazonaws.com/schedule", "us-gov-west-1"),
        ("https://abc.execute-api.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("https://abc-vpce-0123.execute-api.eu-central-1.vpce.amazonaws.com", "eu-central-1"),
        ("https://scheduler.example.com", None),
        ("http://127.0.0.1:8080", None),
    ],
)
def test_region_from_url(url: str, region: str | None) -> None:
    assert region_from_url(url) == region


def test_region_from_arn() -> None:
    assert region_from_arn("arn:aws:sns:eu-west-1:123456789012:tasks") == "eu-west-1"
    assert region_from_arn("arn:aws-cn:sns:cn-north-1:123456789012:tasks") == "cn-north-1"
    assert region_from_arn("not an arn") is None
