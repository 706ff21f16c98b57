"""Each alarm, rendered by a real plan, against what the module's own operations produce.

An alarm with a threshold of 0 must watch a metric that the module's own operations (schedule,
list, read, reschedule, cancel, emit) never move while all is well: otherwise every ordinary
request would page someone. The table below says, per alarm, what AWS counts in its metric and
which of the module's operations add to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.terraform.conftest import PlanFn
from tests.terraform.plan_values import of_type
from tests.terraform.test_iam_policies import policy_documents_in_configuration


@dataclass(frozen=True)
class Expected:
    namespace: str
    metric: str
    statistic: str
    # In tests/terraform/cases/alarms.tfvars.
    threshold: float
    # What AWS counts in the metric (the metric list pages cited in alarms.tf).
    counts: str
    # The module's own operations that add to the metric while all is well: none, for an
    # alarm that fires on the first data point.
    produced_by_the_module: tuple[str, ...] = ()
    comparison: str = "GreaterThanThreshold"


ALARMS = {
    "dead-letter": Expected(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "Maximum",
        0,
        "messages waiting in the dead-letter queue: only tasks whose emission failed",
    ),
    "executions-failed": Expected(
        "AWS/States",
        "ExecutionsFailed",
        "Sum",
        0,
        "executions that ended FAILED: only tasks that went to the dead-letter queue",
    ),
    "executions-timed-out": Expected(
        "AWS/States",
        "ExecutionsTimedOut",
        "Sum",
        0,
        "executions past the one-year limit: none, a segment ends well within it",
    ),
    "executions-aborted": Expected(
        "AWS/States",
        "ExecutionsAborted",
        "Sum",
        0,
        # Cancel and reschedule only write the registry; nothing in the module calls
        # StopExecution (test_no_runtime_role_may_stop_executions_while_the_alarm_exists).
        "executions stopped with StopExecution: never by the module",
    ),
    "api-5xx": Expected(
        "AWS/ApiGateway",
        "5xx",
        "Sum",
        5,
        "5xx responses on every route of the stage",
        # A throttled or failed Step Functions call answers 502/503 on an ordinary request:
        # the threshold (alarms.api_5xx_threshold) tolerates a few.
        ("POST /schedule", "GET /schedule", "GET, PATCH and DELETE /schedule/{id}"),
    ),
    "emit-errors": Expected(
        "AWS/Lambda",
        "Errors",
        "Sum",
        2,
        "emit invocations ending in a function error or timeout",
        ("emit (retried by the state machine)",),
    ),
    "emit-throttles": Expected(
        "AWS/Lambda",
        "Throttles",
        "Sum",
        2,
        "emit invocation requests throttled",
        ("emit (retried by the state machine)",),
    ),
}

# The account-wide quota alarm: metric math over two dimensionless AWS/States metrics.
OPEN_EXECUTIONS = {
    "threshold": 80,
    "expression": "100 * open / limit",
    "metrics": {"open": "OpenExecutionCount", "limit": "OpenExecutionLimit"},
    "statistic": "Maximum",
}

RUNTIME_ROLE_DOCUMENTS = ("api", "emit", "state_machine")


def planned_alarms(plan: PlanFn) -> dict[str, dict[str, Any]]:
    return {
        a["alarm_name"].removeprefix("reminders-"): a
        for a in of_type(plan(case="alarms"), "aws_cloudwatch_metric_alarm")
    }


def test_every_alarm_is_in_the_table(plan: PlanFn) -> None:
    assert set(planned_alarms(plan)) == {*ALARMS, "open-executions"}


def test_each_alarm_watches_what_the_table_says(plan: PlanFn) -> None:
    alarms = planned_alarms(plan)
    for kind, expected in ALARMS.items():
        alarm = alarms[kind]
        rendered = (
            alarm["namespace"],
            alarm["metric_name"],
            alarm["statistic"],
            alarm["threshold"],
            alarm["comparison_operator"],
        )
        assert rendered == (
            expected.namespace,
            expected.metric,
            expected.statistic,
            expected.threshold,
            expected.comparison,
        ), kind
        assert alarm["treat_missing_data"] == "notBreaching", kind
        # The description names the metric it counts, and its namespace.
        assert expected.metric in alarm["alarm_description"], kind
        assert expected.namespace in alarm["alarm_description"], kind


def test_an_alarm_at_zero_watches_nothing_the_module_produces(plan: PlanFn) -> None:
    alarms = planned_alarms(plan)
    for kind, expected in ALARMS.items():
        if alarms[kind]["threshold"] == 0:
            assert expected.produced_by_the_module == (), kind
        else:
            # What ordinary operations may produce is what the threshold tolerates.
            assert expected.produced_by_the_module, kind


def test_descriptions_say_exactly_what_is_counted(plan: PlanFn) -> None:
    alarms = planned_alarms(plan)
    aborted = alarms["executions-aborted"]["alarm_description"]
    assert "executions stopped by something outside the module" in aborted
    assert "the module itself never stops executions" in aborted
    five_xx = alarms["api-5xx"]["alarm_description"]
    assert "five routes" in five_xx
    for route in ("POST and GET /schedule", "GET, PATCH and DELETE /schedule/{id}"):
        assert route in five_xx
    for alarm in alarms.values():
        assert "60 s period" in alarm["alarm_description"]
        assert len(alarm["alarm_description"]) <= 1024  # PutMetricAlarm's limit


def test_open_executions_alarm_compares_the_account_s_count_with_its_quota(
    plan: PlanFn,
) -> None:
    alarm = planned_alarms(plan)["open-executions"]
    assert (alarm["threshold"], alarm["comparison_operator"]) == (
        OPEN_EXECUTIONS["threshold"],
        "GreaterThanThreshold",
    )
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert queries["percent"]["expression"] == OPEN_EXECUTIONS["expression"]
    for query_id, metric in OPEN_EXECUTIONS["metrics"].items():
        (stat,) = queries[query_id]["metric"]
        assert (stat["namespace"], stat["metric_name"], stat["stat"]) == (
            "AWS/States",
            metric,
            OPEN_EXECUTIONS["statistic"],
        )
    description = alarm["alarm_description"]
    assert "OpenExecutionCount" in description
    assert "OpenExecutionLimit" in description


def runtime_role_actions(plan: PlanFn) -> dict[str, set[str]]:
    """Actions each runtime role's policy grants: its own statements and its source documents'."""
    documents = policy_documents_in_configuration(plan(case="alarms"))

    def actions(address: str) -> set[str]:
        expressions = documents[address]
        granted = {
            action
            for statement in expressions.get("statement", [])
            for action in statement.get("actions", {}).get("constant_value", [])
        }
        sources = expressions.get("source_policy_documents", {}).get("references", [])
        for source in sources:
            # "data.aws_iam_policy_document.<name>.json" or "...<name>[...]" forms.
            name = source.removesuffix(".json")
            if name in documents and name != address:
                granted |= actions(name)
        return granted

    return {
        role: actions(f"data.aws_iam_policy_document.{role}") for role in RUNTIME_ROLE_DOCUMENTS
    }


def grants(actions: set[str], wanted: str) -> bool:
    service = wanted.partition(":")[0]
    return any(
        a == wanted or a in (f"{service}:*", "*") or (a.endswith("*") and wanted.startswith(a[:-1]))
        for a in actions
    )


def test_runtime_role_actions_are_read_from_the_plan(plan: PlanFn) -> None:
    roles = runtime_role_actions(plan)
    # The reading works: each role's known grants are there.
    assert "states:StartExecution" in roles["api"]
    assert "sns:Publish" in roles["emit"]
    assert "sqs:SendMessage" in roles["state_machine"]


# Guards the executions-aborted alarm: it fires on the first ExecutionsAborted data point, which
# is right only while nothing in the module can stop an execution. If a runtime role (api, emit,
# state machine) may call states:StopExecution, the module's own cancels and reschedules can
# abort executions and page the alarm topic on every one. Fails on code where cancel or
# reschedule still stop executions; passes once no runtime role is granted StopExecution.
def test_no_runtime_role_may_stop_executions_while_the_alarm_exists(plan: PlanFn) -> None:
    assert "executions-aborted" in planned_alarms(plan)
    stopping = sorted(
        role
        for role, actions in runtime_role_actions(plan).items()
        if grants(actions, "states:StopExecution")
    )
    assert stopping == [], (
        f"runtime roles {stopping} may call states:StopExecution while the executions-aborted "
        "alarm exists: the module's own stops would set it off"
    )
