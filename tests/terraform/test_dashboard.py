"""The optional operations dashboard: planned only when asked for, and every widget's metric
one that exists.

A metric exists when the module's functions emit it (an ``add_metric`` name in lambda_src, in
the namespace main.tf gives Powertools) or when AWS publishes it in its namespace (the metric
lists cited below). The body embeds ARNs and the API id, known only after apply, so the
widgets are read from the mocked apply's "alarms" run (hcl/mocked_apply.tftest.hcl), which
turns the dashboard on; the plan shows that it is created only on request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import REPO_ROOT
from tests.terraform.conftest import MockedApply, PlanFn
from tests.terraform.plan_values import of_type
from tests.terraform.test_alarms import ALARMS

# Metrics AWS publishes, by namespace, as their metric list pages name them (only those a
# dashboard of this module could show).
AWS_METRICS = {
    # https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
    "AWS/States": {
        "ExecutionsStarted",
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsAborted",
        "ExecutionsTimedOut",
        "ExecutionThrottled",
        "ExecutionTime",
        "OpenExecutionCount",
        "OpenExecutionLimit",
    },
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
    "AWS/Lambda": {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"},
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
    "AWS/SQS": {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "NumberOfMessagesSent",
    },
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html
    "AWS/ApiGateway": {"4xx", "5xx", "Count", "IntegrationLatency", "Latency", "DataProcessed"},
}

MACHINE = "arn:aws:states:eu-west-1:111122223333:stateMachine:task-scheduler"


def module_namespace() -> str:
    (namespace,) = re.findall(
        r'POWERTOOLS_METRICS_NAMESPACE\s*=\s*"([^"]+)"', (REPO_ROOT / "main.tf").read_text()
    )
    return namespace


def module_metrics() -> set[str]:
    """Every metric name the functions add (Powertools' add_metric, or the emit publisher's
    _measure, which calls it under a lock)."""
    names = set()
    for source in (REPO_ROOT / "lambda_src").rglob("*.py"):
        text = source.read_text()
        names |= set(re.findall(r'add_metric\(\s*name="([A-Za-z0-9]+)"', text))
        names |= set(re.findall(r'_measure\(\s*"([A-Za-z0-9]+)"', text))
        # A name chosen by a conditional expression: each quoted alternative.
        for call in re.findall(r"add_metric\(\s*name=([^,]+if[^,]+),", text):
            names |= set(re.findall(r'"([A-Za-z0-9]+)"', call))
    return names


def published_metrics() -> dict[str, set[str]]:
    return {**AWS_METRICS, module_namespace(): module_metrics()}


def widgets(mocked_apply: MockedApply) -> list[dict[str, Any]]:
    dashboard = mocked_apply.resources("alarms")["aws_cloudwatch_dashboard.this[0]"]
    return list(json.loads(dashboard["dashboard_body"])["widgets"])


def metric_lines(widget: dict[str, Any]) -> list[tuple[str, str, dict[str, str], dict[str, Any]]]:
    """Each metric of a widget: namespace, name, dimensions, options."""
    lines = []
    for line in widget["properties"]["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        fields = [f for f in line if not isinstance(f, dict)]
        namespace, name, *pairs = fields
        lines.append((namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True)), options))
    return lines


def test_no_dashboard_unless_enabled(plan: PlanFn) -> None:
    planned = plan()
    assert of_type(planned, "aws_cloudwatch_dashboard") == []
    assert planned.outputs["cloudwatch_dashboard_arn"] is None
    enabled = of_type(plan(name="reminders", dashboard_enabled="true"), "aws_cloudwatch_dashboard")
    assert [d["dashboard_name"] for d in enabled] == ["reminders"]


def test_the_module_s_metrics_are_read_from_its_code() -> None:
    assert module_namespace() == "TaskScheduler"
    assert {"TasksEmitted", "EmissionLateness", "UpstreamFailures"} <= module_metrics()


def test_every_widget_metric_exists_in_its_namespace(mocked_apply: MockedApply) -> None:
    known = published_metrics()
    seen = set()
    for widget in widgets(mocked_apply):
        for namespace, name, _, _ in metric_lines(widget):
            assert name in known.get(namespace, set()), (widget["properties"]["title"], namespace)
            seen.add((namespace, name))
    # One screen: emission, lateness, throttles, dead letters, executions, quota and the API.
    assert {
        ("TaskScheduler", "TasksEmitted"),
        ("TaskScheduler", "EmissionLateness"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/States", "ExecutionsFailed"),
        ("AWS/States", "ExecutionsAborted"),
        ("AWS/States", "OpenExecutionCount"),
        ("AWS/States", "OpenExecutionLimit"),
        ("AWS/ApiGateway", "4xx"),
        ("AWS/ApiGateway", "5xx"),
    } <= seen
    # The same metrics as the alarms, by the same names and namespaces.
    assert {(a.namespace, a.metric) for a in ALARMS.values()} - {("AWS/Lambda", "Errors")} <= seen


def test_widgets_name_the_module_s_resources(mocked_apply: MockedApply) -> None:
    dimensions = {
        (namespace, name): dims
        for widget in widgets(mocked_apply)
        for namespace, name, dims, _ in metric_lines(widget)
    }
    assert dimensions[("TaskScheduler", "TasksEmitted")] == {"service": "task-scheduler"}
    assert dimensions[("AWS/SQS", "ApproximateNumberOfMessagesVisible")] == {
        "QueueName": "task-scheduler-dead-letter"
    }
    for metric in ("ExecutionsFailed", "ExecutionsAborted", "ExecutionsTimedOut"):
        assert dimensions[("AWS/States", metric)] == {"StateMachineArn": MACHINE}
    for metric in ("4xx", "5xx"):
        api = {"ApiId": "a1b2c3d4e5", "Stage": "$default"}
        assert dimensions[("AWS/ApiGateway", metric)] == api
    # The account's count and quota carry no dimensions.
    assert dimensions[("AWS/States", "OpenExecutionCount")] == {}


def test_one_screen_with_lateness_percentiles_and_the_quota_marked(
    mocked_apply: MockedApply,
) -> None:
    shown = widgets(mocked_apply)
    # 24 columns wide, three rows of six: one screen.
    assert all(w["x"] + w["width"] <= 24 and w["y"] + w["height"] <= 18 for w in shown)
    assert all(w["properties"]["region"] == "eu-west-1" for w in shown)
    assert {w["properties"]["period"] for w in shown} == {300}
    by_title = {w["properties"]["title"]: w for w in shown}
    (lateness,) = [w for t, w in by_title.items() if t.startswith("Emission lateness")]
    assert [o.get("stat") for *_, o in metric_lines(lateness)] == ["p50", "p99"]
    (quota,) = [w for t, w in by_title.items() if t.startswith("Open executions")]
    (line,) = quota["properties"]["annotations"]["horizontal"]
    assert line["value"] == 1_000_000
