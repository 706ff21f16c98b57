"""Apply, refresh, update and destroy the module in the emulator, recording every AWS call.

The update phase also upgrades the module snapshot in place (UPGRADE: the API's description,
the integration's timeout, a runtime policy statement, a new package), as a new module version
would.

The module runs with every optional feature on: a customer managed KMS key, subscriptions
(with a filter policy), tracing, a permissions boundary on its roles, reserved concurrency (the
api function's own, then none), CloudWatch alarms, JWT authorization with scopes (the update
changes the audience and the scopes), route throttling (unchanged by the update), the emit
function's publication log, a shard size of its own (the update changes it) and the dashboard.
The key, the subscriber queue, the boundary policy and the alarm topic are created beforehand
with boto3, so every recorded request is one that Terraform makes for the module itself (the
recording also keeps only requests whose User-Agent is the Terraform AWS provider's).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from task_scheduler_emulator import start_emulator
from task_scheduler_emulator.local_stack import run_terraform
from task_scheduler_emulator.patches.request_log import RecordedRequest, recording, requests_from
from task_scheduler_emulator.terraform import provider_block
from tests.conftest import REPO_ROOT

REGION = "us-east-1"
NAME = "deployer-check"
PROVIDER_USER_AGENT = "terraform-provider-aws/"
PHASES = ("apply", "refresh", "update", "destroy")
# The emulator stores the authorizer; nothing fetches the issuer's keys while deploying.
JWT_ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_deployer"


@dataclass
class Lifecycle:
    """What one recorded run produced."""

    requests: dict[str, list[RecordedRequest]] = field(default_factory=dict)
    deployer_policy: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def _tfvars(fixtures: dict[str, str], *, updated: bool) -> dict[str, Any]:
    """Every optional feature on; the update changes tags and settings of every resource kind."""
    variables: dict[str, Any] = {
        "name": NAME,
        "tags": {"team": "platform", "cost-centre": "42"},
        "kms_key_arn": fixtures["kms_key_arn"],
        "role_permissions_boundary": fixtures["boundary_arn"],
        "lambda_reserved_concurrent_executions": 5,
        "api_reserved_concurrent_executions": 3,
        "tracing_enabled": True,
        "authorization_type": "JWT",
        "jwt_issuer": JWT_ISSUER,
        "jwt_audience": ["deployer-check"],
        "jwt_scopes": {"write": ["tasks/write"]},
        "api_route_throttling": {"list": {"rate_limit": 10, "burst_limit": 20}},
        "emit_idempotency_enabled": True,
        "slot_shard_size": 100,
        "dashboard_enabled": True,
        "alarm_topic_arn": fixtures["alarm_topic_arn"],
        "subscriptions": {
            "worker": {
                "protocol": "sqs",
                "endpoint": fixtures["queue_arn"],
                "raw_message_delivery": True,
                "filter_policy": json.dumps({"message_encoding": ["json"]}),
            }
        },
    }
    if updated:
        variables.update(
            tags={"team": "payments", "owner": "ci"},
            lambda_reserved_concurrent_executions=7,
            log_retention_in_days=14,
            api_memory_size=512,
            api_throttling_rate_limit=20,
            # The api function's reservation removed (DeleteFunctionConcurrency).
            api_reserved_concurrent_executions=-1,
            # UpdateAuthorizer, and the routes' scopes.
            jwt_audience=["deployer-check", "deployer-check-cli"],
            jwt_scopes={"read": ["tasks/read"], "write": ["tasks/write"]},
            # api_route_throttling unchanged: changing a route's limits deletes its route
            # settings first (DeleteRouteSettings), which the emulator does not implement.
            dead_letter_retention_seconds=86400,
            state_machine_log_level="ALL",
            emit_retry={"max_attempts": 2, "interval_seconds": 3, "backoff_rate": 2},
            alarms={"period_seconds": 60, "api_5xx_threshold": 3},
            # Both functions' environment (UpdateFunctionConfiguration); no table changes.
            slot_shard_size=250,
        )
        variables["subscriptions"]["worker"]["raw_message_delivery"] = False
    return variables


def _create_fixtures(endpoint_url: str) -> dict[str, str]:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    key = client("kms").create_key(Description="deployer-check")["KeyMetadata"]["Arn"]
    queue_url = client("sqs").create_queue(QueueName=f"{NAME}-worker")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    boundary = client("iam").create_policy(
        PolicyName=f"{NAME}-boundary",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    alarm_topic = client("sns").create_topic(Name=f"{NAME}-alarms")["TopicArn"]
    return {
        "kms_key_arn": key,
        "queue_arn": queue_arn,
        "boundary_arn": boundary,
        "alarm_topic_arn": alarm_topic,
    }


def _terraform(workdir: Path, command: str, *args: str) -> str:
    options = [] if command == "output" else ["-input=false"]
    result = run_terraform(
        ["terraform", f"-chdir={workdir}", command, *options, "-no-color", *args],
        env={**os.environ, "TF_DATA_DIR": str(workdir / ".terraform")},
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"terraform {command} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


# A module upgrade, applied to the snapshot before the update phase: what no variable changes
# but a new version of the module may, in place. Each (file, before, after) must match once.
UPGRADE = (
    # UpdateApi (PATCH /apis/{id}).
    (
        "api.tf",
        'description   = "Schedules one-time tasks',
        'description   = "Upgraded: schedules one-time tasks',
    ),
    # PutRolePolicy on every role: the X-Ray statement every runtime policy holds, renamed.
    ("iam.tf", 'sid = "WriteTraces"', 'sid = "WriteTracesUpgraded"'),
    # UpdateIntegration.
    (
        "api.tf",
        "timeout_milliseconds   = (local.functions.api.timeout + 1) * 1000",
        "timeout_milliseconds   = (local.functions.api.timeout + 2) * 1000",
    ),
)


def upgrade_module(module: Path) -> None:
    """Apply UPGRADE to the module snapshot, and give both functions a new package (a new
    module version ships a new zip: UpdateFunctionCode)."""
    for name, before, after in UPGRADE:
        path = module / name
        text = path.read_text()
        assert text.count(before) == 1, f"{name}: {before!r} must occur once"
        path.write_text(text.replace(before, after))
    package = module / "dist" / "task_scheduler.zip"
    with zipfile.ZipFile(package, "a") as archive:
        archive.writestr("task_scheduler/UPGRADED", "a new module version\n")


def record_lifecycle(workdir: Path) -> Lifecycle:
    """Run the four phases against a fresh in-process emulator; stops it afterwards."""
    lifecycle = Lifecycle()
    # A snapshot of the module: the working tree may change (a rebuilt zip) while this runs.
    module = workdir / "module"
    module.mkdir()
    for source in REPO_ROOT.glob("*.tf"):
        shutil.copy2(source, module / source.name)
    shutil.copytree(REPO_ROOT / "dist", module / "dist")
    with start_emulator() as emulator:
        fixtures = _create_fixtures(emulator.endpoint_url)
        (workdir / "main.tf").write_text(
            f"""
terraform {{
  required_providers {{
    aws = {{ source = "hashicorp/aws" }}
  }}
}}

{provider_block(emulator.endpoint_url, REGION)}

variable "module" {{
  type = any
}}

module "task_scheduler" {{
  source = "./module"

  name                                  = var.module.name
  tags                                  = var.module.tags
  kms_key_arn                           = var.module.kms_key_arn
  role_permissions_boundary             = var.module.role_permissions_boundary
  lambda_reserved_concurrent_executions = var.module.lambda_reserved_concurrent_executions
  tracing_enabled                       = var.module.tracing_enabled
  alarm_topic_arn                       = var.module.alarm_topic_arn
  alarms                                = try(var.module.alarms, {{}})
  subscriptions                         = var.module.subscriptions
  log_retention_in_days                 = try(var.module.log_retention_in_days, 30)
  api_memory_size                       = try(var.module.api_memory_size, 256)
  api_throttling_rate_limit             = try(var.module.api_throttling_rate_limit, 50)
  state_machine_log_level               = try(var.module.state_machine_log_level, "ERROR")
  emit_retry                            = try(var.module.emit_retry, {{}})
  authorization_type                    = try(var.module.authorization_type, "AWS_IAM")
  jwt_issuer                            = try(var.module.jwt_issuer, null)
  jwt_audience                          = try(var.module.jwt_audience, [])
  jwt_scopes                            = try(var.module.jwt_scopes, {{}})
  api_reserved_concurrent_executions    = try(var.module.api_reserved_concurrent_executions, null)
  api_route_throttling                  = var.module.api_route_throttling
  emit_idempotency_enabled              = var.module.emit_idempotency_enabled
  slot_shard_size                       = try(var.module.slot_shard_size, 500)
  dead_letter_retention_seconds         = try(var.module.dead_letter_retention_seconds, 1209600)
  dashboard_enabled                     = var.module.dashboard_enabled
}}

output "deployer_policy_json" {{
  value = module.task_scheduler.deployer_policy_json
}}
"""
        )
        _terraform(workdir, "init")
        phases = {
            "apply": ("apply", "-auto-approve", False),
            "refresh": ("apply", "-refresh-only", "-auto-approve", False),
            "update": ("apply", "-auto-approve", True),
            "destroy": ("destroy", "-auto-approve", True),
        }
        for phase, (*args, updated) in phases.items():
            if phase == "update":
                upgrade_module(module)
            variables = _tfvars(fixtures, updated=bool(updated))
            (workdir / "terraform.tfvars.json").write_text(json.dumps({"module": variables}))
            started = time.monotonic()
            with recording() as log:
                _terraform(workdir, *map(str, args))
            lifecycle.seconds[phase] = round(time.monotonic() - started, 1)
            lifecycle.requests[phase] = list(requests_from(log, PROVIDER_USER_AGENT))
            if phase == "update":
                output = _terraform(workdir, "output", "-raw", "deployer_policy_json")
                lifecycle.deployer_policy = json.loads(output)
                lifecycle.variables = variables
    return lifecycle
