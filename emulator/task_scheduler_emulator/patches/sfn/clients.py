"""Step Functions' service integrations reuse one AWS client per service.

moto's interpreter builds a new boto3 client (``boto_client_for``) for every Task that calls
a service: 10 to 30 ms of CPU each, under the emulator's single interpreter lock. When a whole
second's Waits end together (the Wait state truncates to whole seconds), the executions' Lambda
invocations queue behind one another's client construction, and the emit functions of tasks
due at that second publish hundreds of milliseconds late: a cost AWS does not have. This
replaces ``boto_client_for`` in the modules that imported it with one that builds the same
client (moto's settings: no retries, no parameter validation, its timeouts) once per region,
service and endpoint, with a connection pool as large as the emulator's Lambda concurrency.
botocore clients are thread-safe. Behaviour is unchanged; only the overhead goes.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.models import botocore_stubber
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sns,
    state_task_service_sqs,
)
from moto.stepfunctions.parser.asl.utils import boto_client

from task_scheduler_emulator.patches.awslambda.runtime import ACCOUNT_CONCURRENCY

_original = boto_client.boto_client_for


@functools.cache
def _client(region: str, service: str, endpoint_url: str | None) -> BaseClient:
    return boto3.client(
        aws_access_key_id="ak",
        region_name=region,
        service_name=service,
        aws_secret_access_key="sk",
        endpoint_url=endpoint_url,
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            max_pool_connections=ACCOUNT_CONCURRENCY,
        ),
    )


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    """moto's ``boto_client_for``, cached (it ignores ``state_credentials`` too)."""
    endpoint_url = None if botocore_stubber.enabled else f"http://localhost:{moto_server_port()}"
    return _client(region, service, endpoint_url)


def patch() -> None:
    # The Lambda, SNS and SQS integrations, imported above, must hold moto's function.
    for integration in (lambda_eval_utils, state_task_service_sns, state_task_service_sqs):
        assert getattr(integration, "boto_client_for", None) in (_original, boto_client_for), (
            f"moto moved boto_client_for out of {integration.__name__}"
        )
    for module in list(sys.modules.values()):
        if getattr(module, "boto_client_for", None) is _original:
            setattr(module, "boto_client_for", boto_client_for)  # noqa: B010
