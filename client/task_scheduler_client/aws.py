"""botocore plumbing: sessions, regions, SigV4 signing (botocore's signer, no crypto here)."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from .errors import AwsError, ConfigurationError, TaskSchedulerError, TransportError

SERVICE = "execute-api"

# https://{api-id}.execute-api.{region}.amazonaws.com, also .amazonaws.com.cn and the
# {api-id}-{vpce-id}.execute-api.{region}.vpce.amazonaws.com form of private APIs.
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.")
_ARN_REGION = re.compile(r"^arn:[^:]+:[^:]+:([a-z]{2}(?:-[a-z]+)+-\d+):")
# https://sqs.{region}.amazonaws.com/{account}/{name} (also sqs-fips., .amazonaws.com.cn) and
# the legacy https://{region}.queue.amazonaws.com/... and https://queue.amazonaws.com/...
_SQS_HOST = re.compile(
    r"^(?:sqs(?:-fips)?\.([a-z]{2}(?:-[a-z]+)+-\d+)|([a-z]{2}(?:-[a-z]+)+-\d+)\.queue)\."
)


def region_from_url(url: str) -> str | None:
    """The region in an execute-api URL, None for any other host (custom domains, localhost)."""
    match = _EXECUTE_API_HOST.search(f"{urlsplit(url).hostname or ''}.")
    return match.group(1) if match else None


def region_from_arn(arn: str) -> str | None:
    match = _ARN_REGION.match(arn)
    return match.group(1) if match else None


def region_from_queue_url(url: str) -> str | None:
    """The region in an SQS queue URL, None for any other host (an emulator's)."""
    host = urlsplit(url).hostname or ""
    if host == "queue.amazonaws.com":
        return "us-east-1"
    match = _SQS_HOST.match(host)
    return (match.group(1) or match.group(2)) if match else None


def default_session(session: Any = None, profile: str | None = None) -> Any:
    """`session` (a botocore or boto3 Session) as given, else a botocore session: the default
    credential chain (environment, shared files, SSO, container and instance roles) and, with
    `profile`, that profile."""
    if session is not None:
        if profile is not None:
            raise ConfigurationError("pass either session or profile, not both")
        return session
    return botocore.session.Session(profile=profile)


def session_region(session: Any) -> str | None:
    """The region a botocore or boto3 session is configured with (AWS_DEFAULT_REGION, the
    profile's region), else AWS_REGION (which other SDKs and Lambda use)."""
    region = getattr(session, "region_name", None)  # boto3.Session
    if region is None and hasattr(session, "get_config_variable"):  # botocore Session
        region = session.get_config_variable("region")
    return str(region) if region else os.environ.get("AWS_REGION") or None


def create_client(
    session: Any, service: str, *, region: str | None, endpoint_url: str | None = None
) -> Any:
    """A botocore client from a botocore or boto3 session (endpoint_url None: AWS, or
    AWS_ENDPOINT_URL when set, as botocore resolves it)."""
    if hasattr(session, "create_client"):  # botocore Session
        return session.create_client(service, region_name=region, endpoint_url=endpoint_url)
    return session.client(service, region_name=region, endpoint_url=endpoint_url)


@contextlib.contextmanager
def configuration_errors(doing: str) -> Iterator[None]:
    """botocore's configuration failures (no such profile, unreadable config files, failed
    credential providers) as ConfigurationError."""
    try:
        yield
    except BotoCoreError as error:
        raise ConfigurationError(f"{doing}: {error}") from error


def aws_error(error: BotoCoreError | ClientError, doing: str) -> TaskSchedulerError:
    """A botocore failure as the client's error: no answer, no credentials, or refused."""
    if isinstance(error, BotocoreConnectionError | HTTPClientError):
        return TransportError(f"{doing}: {error}")
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return ConfigurationError(f"{doing}: {error}")
    return AwsError(f"{doing}: {error}")


class SigV4Signer:
    """Signs API requests for `execute-api` with the session's current credentials."""

    def __init__(self, session: Any, region: str) -> None:
        self.session = session
        self.region = region
        self._credentials: Any = None

    def _frozen_credentials(self) -> Any:
        if self._credentials is None:
            with configuration_errors("auth iam: loading AWS credentials"):
                self._credentials = self.session.get_credentials()
            if self._credentials is None:
                raise ConfigurationError(
                    "auth iam: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID "
                    "and AWS_SECRET_ACCESS_KEY, or run where a role is available)"
                )
        # Refreshable credentials (SSO, assumed roles) renew themselves here when near expiry.
        with configuration_errors("auth iam: refreshing AWS credentials"):
            return self._credentials.get_frozen_credentials()

    def sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        """The headers to send: `headers` plus X-Amz-Date, X-Amz-Security-Token (temporary
        credentials) and Authorization. `headers` must hold the Host header that will be sent;
        the payload hash covers `body`."""
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        SigV4Auth(self._frozen_credentials(), SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())
