"""Plan of the optional CloudWatch alarms (alarms.tf)."""

import pytest
import tftest

from tests.terraform.conftest import PlanFn, TerraformFn
from tests.terraform.plan_values import (
    ALARMS,
    TOPIC,
    alarms,
)


@pytest.mark.parametrize("case", ["defaults", "authorization_none", "kms", "custom", "jwt"])
def test_no_alarms_without_a_topic(plan: PlanFn, case: str) -> None:
    planned = plan(case=case)
    assert alarms(planned) == {}
    assert planned.outputs["cloudwatch_metric_alarm_arns"] == {}


def test_one_alarm_per_kind_notifies_the_topic(plan: PlanFn) -> None:
    planned = alarms(plan(case="alarms"))
    assert set(planned) == {f"reminders-{kind}" for kind in [*ALARMS, "open-executions"]}
    for alarm in planned.values():
        assert alarm["alarm_actions"] == [TOPIC]
        assert alarm["ok_actions"] == [TOPIC]
        assert alarm["insufficient_data_actions"] in (None, [])
        assert alarm["actions_enabled"] is True
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["evaluation_periods"] == 3
        assert alarm["tags"] == {"team": "billing", "env": "test"}
        assert alarm["alarm_description"]
    for kind, (namespace, metric, statistic, threshold) in ALARMS.items():
        alarm = planned[f"reminders-{kind}"]
        assert (alarm["namespace"], alarm["metric_name"]) == (namespace, metric), kind
        assert (alarm["statistic"], alarm["period"], alarm["threshold"]) == (
            statistic,
            60,
            threshold,
        )
        assert alarm["metric_query"] == []


def test_alarm_dimensions_name_the_module_s_resources(plan: PlanFn) -> None:
    planned = plan(case="alarms")
    values = alarms(planned)
    assert values["reminders-dead-letter"]["dimensions"] == {"QueueName": "reminders-dead-letter"}
    for kind in ("emit-errors", "emit-throttles"):
        assert values[f"reminders-{kind}"]["dimensions"] == {"FunctionName": "reminders-emit"}
    # ARNs and the API id are known after apply: tests/terraform/hcl (mocked apply) and
    # tests/deployer (the requests sent) check their values; here, that they are set.
    for kind in ("executions-failed", "executions-timed-out", "executions-aborted", "api-5xx"):
        change = planned.resource_changes[f'aws_cloudwatch_metric_alarm.this["{kind}"]']["change"]
        assert change["after_unknown"]["dimensions"] is True, kind


def test_open_executions_alarm_divides_the_account_s_count_by_its_quota(plan: PlanFn) -> None:
    alarm = alarms(plan(case="alarms"))["reminders-open-executions"]
    assert alarm["threshold"] == 80
    assert (alarm["namespace"], alarm["metric_name"], alarm["dimensions"]) == (None, None, None)
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert set(queries) == {"open", "limit", "percent"}
    assert queries["percent"]["expression"] == "100 * open / limit"
    assert [q["id"] for q in queries.values() if q["return_data"]] == ["percent"]
    for query_id, metric in (("open", "OpenExecutionCount"), ("limit", "OpenExecutionLimit")):
        (stat,) = queries[query_id]["metric"]
        # Dimensionless: the quota and the count are the account's, in this region.
        assert (stat["namespace"], stat["metric_name"]) == ("AWS/States", metric)
        assert (stat["stat"], stat["period"], stat["dimensions"]) == ("Maximum", 60, None)


def test_open_executions_alarm_can_be_left_to_another_stack(plan: PlanFn) -> None:
    planned = alarms(
        plan(name="reminders", alarm_topic_arn=TOPIC, alarms={"open_executions_alarm": False})
    )
    assert set(planned) == {f"reminders-{kind}" for kind in ALARMS}
    assert {a["period"] for a in planned.values()} == {300}


def test_alarms_enabled_decides_over_the_topic(plan: PlanFn) -> None:
    # With a topic created alongside, its ARN is unknown at plan: alarms.enabled decides
    # (examples/complete plans that case with enabled = true).
    assert alarms(plan(alarm_topic_arn=TOPIC, alarms={"enabled": False})) == {}


def test_alarms_enabled_without_a_topic_is_refused(terraform: TerraformFn) -> None:
    with pytest.raises(tftest.TerraformTestError) as refused:
        terraform(".").plan(tf_vars={"alarms": {"enabled": True}})
    assert "alarms.enabled = true needs alarm_topic_arn" in str(refused.value)
