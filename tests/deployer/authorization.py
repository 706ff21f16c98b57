"""AWS API calls to the IAM requests AWS authorises them as: action, resource ARN, context.

The action and the resource types each action is authorised against come from the Service
Authorization Reference, through the offline copy ``policy_sentry`` ships
(https://docs.aws.amazon.com/service-authorization/latest/reference/reference.html). An action
the reference lists with no resource type is authorised against ``"*"``; otherwise the call's
resource must match one of the action's ARN formats, or the mapping is wrong and says so.

What the reference does not say is modelled from the service guides, each cited below:
- CloudWatch Logs authorises log-group operations named by ``logGroupName`` against
  ``arn:...:log-group:NAME:log-stream:`` (what its AccessDenied messages quote), which only a
  ``log-group:NAME:*`` grant matches; operations named by the log group's ARN (tagging) use
  the bare ARN.
- API Gateway authorises HTTP verbs on resource paths: ``apigateway:<METHOD>`` on
  ``arn:aws:apigateway:<region>::<path without /v2>``
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/security_iam_service-with-iam.html).
- Further authorisations one call needs: ``iam:PassRole`` (with ``iam:PassedToService``) for
  a role handed to Lambda or Step Functions
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html),
  ``lambda:GetLayerVersion`` for each layer a function uses
  (https://docs.aws.amazon.com/lambda/latest/dg/permissions-layer-usage.html), and the logs
  permissions the caller needs to turn on HTTP API access logging
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html), and
  ``cloudwatch:TagResource`` for an alarm created with tags
  (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html),
  and, for a DynamoDB table created or updated with a customer managed key, the permissions
  DynamoDB uses that key with on behalf of the principal who selects it, only through DynamoDB
  ("Key policy for a customer managed key",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import quote

from policy_sentry.querying.actions import get_action_data

from tests.deployer.aws_calls import ApiCall

# What the HTTP API logging guide lists for the user who turns access logging on.
HTTP_API_LOGGING_ACTIONS_ON_STAR = (
    "logs:CreateLogDelivery",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:CreateLogGroup",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
)
HTTP_API_LOGGING_ACTIONS_ON_LOG_GROUP = (
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
)


# "At a minimum, DynamoDB requires the following permissions on a customer managed key"
# (kms:ReEncrypt* and kms:GenerateDataKey* spelled out as the actions they stand for).
DYNAMODB_TABLE_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
    "kms:CreateGrant",
)


@dataclass(frozen=True)
class Authorization:
    """One request AWS authorises: ``action`` on ``resource`` with ``context`` keys."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    because: str = ""

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}" + (f" ({self.because})" if self.because else "")


@dataclass
class Inventory:
    """What earlier calls revealed about resources, for ``apigateway:Resource/*`` keys."""

    api_names: dict[str, str] = field(default_factory=dict)
    stage_log_destinations: dict[tuple[str, str], str] = field(default_factory=dict)


# policy_sentry's copy lacks API Gateway's Tags resource type, which tagging calls act on:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-iam-policy.html
TAGS_FORMAT = "arn:${Partition}:apigateway:${Region}::/tags/${UrlEncodedResourceARN}"
MISSING_FORMATS = {f"apigateway:{verb}": {TAGS_FORMAT} for verb in ("GET", "POST", "DELETE")}


@cache
def resource_formats(action: str) -> tuple[str, ...]:
    """ARN formats the reference lists for ``action`` ('*' alone: no resource type)."""
    prefix, name = action.split(":")
    data = get_action_data(prefix, name)
    if not data or not data.get(prefix):
        raise KeyError(f"{action} is not an action in the Service Authorization Reference")
    formats = {entry["resource_arn_format"] for entry in data[prefix]}
    formats |= MISSING_FORMATS.get(action, set())
    typed = tuple(sorted(f for f in formats if f != "*"))
    return typed or ("*",)


def _format_regex(arn_format: str) -> re.Pattern[str]:
    pieces = re.split(r"(\$\{[^}]+\})", arn_format)
    pattern = "".join(".+" if p.startswith("${") else re.escape(p) for p in pieces)
    return re.compile(f"^{pattern}$")


def _matches_reference(action: str, resource: str) -> bool:
    formats = resource_formats(action)
    if formats == ("*",):
        return resource == "*"
    return any(_format_regex(f).match(resource) for f in formats)


def _tags_context(tags: dict[str, str]) -> dict[str, Any]:
    if not tags:
        return {}
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = sorted(tags)
    return context


def _query_tags(params: dict[str, Any]) -> dict[str, str]:
    """Tags.member.N.Key/Value (IAM, SNS query protocol) as a dict."""
    keys = {m[1]: v for k, v in params.items() if (m := re.match(r"Tags\.member\.(\d+)\.Key$", k))}
    return {key: params.get(f"Tags.member.{n}.Value", "") for n, key in keys.items()}


class Mapper:
    """Maps calls in order (an inventory of APIs and stages builds up as calls create them)."""

    def __init__(self, region: str, account: str) -> None:
        self.region, self.account = region, account
        self.inventory = Inventory()

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def authorizations(self, call: ApiCall) -> list[Authorization]:
        handler = getattr(self, f"_{call.service}")
        primary, context, extra = handler(call)
        authorizations = [Authorization(primary[0], primary[1], context), *extra]
        for authorization in authorizations:
            if not _matches_reference(authorization.action, authorization.resource):
                raise ValueError(
                    f"{call}: {authorization.resource} is none of the resource types of "
                    f"{authorization.action}: {resource_formats(authorization.action)}"
                )
        return authorizations

    def _resource(self, action: str, *candidates: str | None) -> str:
        """The first candidate ARN the reference accepts for ``action`` ('*' if it has none)."""
        if resource_formats(action) == ("*",):
            return "*"
        for candidate in candidates:
            if candidate and _matches_reference(action, candidate):
                return candidate
        raise ValueError(f"no resource of {action} among {candidates}")

    # One handler per service: ((action, resource), context, further authorizations).

    def _iam(self, call: ApiCall) -> Any:
        p = call.params
        action = f"iam:{call.operation}"
        role = self._iam_role_arn(p.get("RoleName"))
        context = _tags_context(_query_tags(p))
        if "PermissionsBoundary" in p:
            context["iam:PermissionsBoundary"] = p["PermissionsBoundary"]
        if call.operation == "UntagRole":
            keys = [v for k, v in p.items() if k.startswith("TagKeys.member.")]
            context["aws:TagKeys"] = sorted(keys)
        return (action, self._resource(action, role)), context, []

    def _iam_role_arn(self, name: str | None) -> str | None:
        return f"arn:aws:iam::{self.account}:role/{name}" if name else None

    def _pass_role(self, role_arn: str, service: str) -> Authorization:
        return Authorization(
            "iam:PassRole",
            role_arn,
            {"iam:PassedToService": service},
            because="role passed to " + service,
        )

    def _sns(self, call: ApiCall) -> Any:
        p = call.params
        action = f"sns:{call.operation}"
        topic = p.get("TopicArn") or p.get("ResourceArn")
        if call.operation == "CreateTopic":
            topic = self.arn("sns", p["Name"])
        context = _tags_context(_query_tags(p))
        if call.operation == "Subscribe":
            context.update({"sns:Protocol": p.get("Protocol"), "sns:Endpoint": p.get("Endpoint")})
        resource = self._resource(action, topic, p.get("SubscriptionArn"))
        return (action, resource), context, []

    def _sqs(self, call: ApiCall) -> Any:
        p = call.params
        action = f"sqs:{call.operation}"
        name = p.get("QueueName") or (p.get("QueueUrl") or "").rstrip("/").rsplit("/", 1)[-1]
        context = _tags_context(p.get("tags") or p.get("Tags") or {})
        return (action, self._resource(action, self.arn("sqs", name))), context, []

    def _states(self, call: ApiCall) -> Any:
        p = call.params
        action = f"states:{call.operation}"
        machine = p.get("stateMachineArn") or p.get("resourceArn")
        if call.operation == "CreateStateMachine":
            machine = self.arn("states", f"stateMachine:{p['name']}")
        tags = {t["key"]: t["value"] for t in p.get("tags", [])}
        extra = []
        if p.get("roleArn"):
            extra.append(self._pass_role(p["roleArn"], "states.amazonaws.com"))
        return (action, self._resource(action, machine)), _tags_context(tags), extra

    def _lambda(self, call: ApiCall) -> Any:
        p = call.params
        action = f"lambda:{call.operation}"
        name = p.get("FunctionName") or ""
        function = name if name.startswith("arn:") else self.arn("lambda", f"function:{name}")
        function = re.sub(r"^(arn:[^:]+:lambda:[^:]+:[^:]+:function:[^:]+):.*$", r"\1", function)
        extra = []
        if call.operation in {"CreateFunction", "UpdateFunctionConfiguration"}:
            if p.get("Role"):
                extra.append(self._pass_role(p["Role"], "lambda.amazonaws.com"))
            extra += [
                Authorization("lambda:GetLayerVersion", layer, because="layer of the function")
                for layer in p.get("Layers", [])
            ]
        context = _tags_context(p.get("Tags") or {})
        resource = self._resource(action, p.get("Resource"), function)
        return (action, resource), context, extra

    def _logs(self, call: ApiCall) -> Any:
        p = call.params
        action = f"logs:{call.operation}"
        name = p.get("logGroupName")
        # Named by logGroupName: authorised against log-group:NAME:log-stream: (see above).
        by_name = self.arn("logs", f"log-group:{name}:log-stream:") if name else None
        by_arn = p.get("resourceArn") or p.get("logGroupArn")
        context = _tags_context(p.get("tags") or {})
        if call.operation == "UntagResource":
            context["aws:TagKeys"] = sorted(p.get("tagKeys", []))
        return (action, self._resource(action, by_arn, by_name)), context, []

    def _monitoring(self, call: ApiCall) -> Any:
        """CloudWatch signs as "monitoring"; its IAM prefix is "cloudwatch"."""
        p = call.params
        action = f"cloudwatch:{call.operation}"
        names = [v for k, v in sorted(p.items()) if re.fullmatch(r"AlarmNames\.member\.\d+", k)]
        if p.get("AlarmName"):
            names.insert(0, p["AlarmName"])
        alarms = [self.arn("cloudwatch", f"alarm:{name}") for name in names]
        # Dashboards: DashboardName (Put, Get) or DashboardNames.member.N (Delete); their ARNs
        # carry no region.
        dashboards = [
            v for k, v in sorted(p.items()) if re.fullmatch(r"DashboardNames\.member\.\d+", k)
        ]
        if p.get("DashboardName"):
            dashboards.insert(0, p["DashboardName"])
        alarms += [f"arn:aws:cloudwatch::{self.account}:dashboard/{name}" for name in dashboards]
        tags = _query_tags(p)
        context = _tags_context(tags)
        if call.operation == "PutMetricAlarm":
            # The actions of every state: "These actions can be initiated when the alarm
            # changes to any state" (iam-cw-condition-keys-alarm-actions.html), so OK and
            # INSUFFICIENT_DATA actions are held to the condition as well as ALARM ones.
            kinds = r"(AlarmActions|OKActions|InsufficientDataActions)\.member\.\d+"
            actions = {v for k, v in p.items() if re.fullmatch(kinds, k)}
            context["cloudwatch:AlarmActions"] = sorted(actions)
        if call.operation == "UntagResource":
            context["aws:TagKeys"] = sorted(v for k, v in p.items() if k.startswith("TagKeys."))
        primary = self._resource(action, p.get("ResourceARN"), *alarms)
        # Each further alarm a call names is authorised too.
        extra = [Authorization(action, alarm, context) for alarm in alarms[1:]]
        if call.operation == "PutMetricAlarm" and tags:
            # "To be able to associate tags with the alarm when you create the alarm, you must
            # have the cloudwatch:TagResource permission" (PutMetricAlarm API reference).
            extra.append(
                Authorization(
                    "cloudwatch:TagResource", primary, _tags_context(tags), because="tags on create"
                )
            )
        return (action, primary), context, extra

    def _kms(self, call: ApiCall) -> Any:
        """KMS authorises a request naming a key by its alias against the key the alias points
        to, with the alias as ``kms:RequestAlias``
        (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-request-alias)."""
        p = call.params
        action = f"kms:{call.operation}"
        named = p.get("KeyId") or ""
        resolved = (call.response.get("KeyMetadata") or {}).get("Arn")
        key = named if named.startswith("arn:") and ":key/" in named else resolved
        if not key and named and not named.startswith(("alias/", "arn:")):
            key = self.arn("kms", f"key/{named}")
        context = {"kms:RequestAlias": named} if named.startswith("alias/") else {}
        return (action, self._resource(action, key)), context, []

    def _dynamodb(self, call: ApiCall) -> Any:
        p = call.params
        action = f"dynamodb:{call.operation}"
        name = p.get("TableName") or ""
        table = name if name.startswith("arn:") else self.arn("dynamodb", f"table/{name}")
        context = _tags_context({t["Key"]: t["Value"] for t in p.get("Tags", [])})
        if call.operation == "UntagResource":
            context["aws:TagKeys"] = sorted(p.get("TagKeys", []))
        extra: list[Authorization] = []
        key = (p.get("SSESpecification") or {}).get("KMSMasterKeyId")
        if key and call.operation in {"CreateTable", "UpdateTable"}:
            key_arn = key if key.startswith("arn:") else self.arn("kms", f"key/{key}")
            via = {"kms:ViaService": f"dynamodb.{self.region}.amazonaws.com"}
            extra += [
                Authorization(kms, key_arn, via, because="table key selected by the caller")
                for kms in DYNAMODB_TABLE_KEY_ACTIONS
            ]
        return (action, self._resource(action, p.get("ResourceArn"), table)), context, extra

    def _apigateway(self, call: ApiCall) -> Any:
        p = call.params
        action = f"apigateway:{call.method}"
        path = call.path.removeprefix("/v2")
        if path.startswith("/tags/"):
            path = "/tags/" + quote(path.removeprefix("/tags/"), safe="")
        resource = f"arn:aws:apigateway:{self.region}::{path}"
        context = _tags_context(p.get("tags") or {})
        api_id = p.get("ApiId")
        if call.operation == "CreateApi":
            context["apigateway:Request/ApiName"] = p.get("name")
            if call.response.get("apiId"):
                self.inventory.api_names[call.response["apiId"]] = p.get("name", "")
        elif call.operation == "UpdateApi" and "name" in p:
            context["apigateway:Request/ApiName"] = p["name"]
        if api_id in self.inventory.api_names and path.rstrip("/") == f"/apis/{api_id}":
            context["apigateway:Resource/ApiName"] = self.inventory.api_names[api_id]
        extra: list[Authorization] = []
        stage = (api_id, p.get("StageName") or p.get("stageName"))
        if stage in self.inventory.stage_log_destinations:
            context["apigateway:Resource/AccessLoggingDestination"] = (
                self.inventory.stage_log_destinations[stage]
            )
        destination = (p.get("accessLogSettings") or {}).get("destinationArn")
        if destination and call.operation in {"CreateStage", "UpdateStage"}:
            context["apigateway:Request/AccessLoggingDestination"] = destination
            self.inventory.stage_log_destinations[stage] = destination
            extra += self._access_logging(destination)
        if call.operation == "DeleteApi":
            self.inventory.api_names.pop(api_id, None)
        return (action, resource), context, extra

    def _access_logging(self, destination: str) -> list[Authorization]:
        because = "HTTP API access logging"
        authorizations = []
        for action in HTTP_API_LOGGING_ACTIONS_ON_STAR + HTTP_API_LOGGING_ACTIONS_ON_LOG_GROUP:
            group = destination.removesuffix(":*")
            streams = (f"{group}:log-stream:", f"{group}:log-stream:access-log")
            resource = self._resource(action, *streams)
            authorizations.append(Authorization(action, resource, because=because))
        return authorizations
