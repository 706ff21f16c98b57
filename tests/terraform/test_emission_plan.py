"""Plan of the topic, its subscriptions and the dead-letter queue (emission.tf)."""

import json

from tests.terraform.conftest import PlanFn
from tests.terraform.plan_values import (
    of_type,
    one,
)


def test_customer_managed_key_encrypts_topic_and_dead_letters(plan: PlanFn) -> None:
    kms = plan(case="kms")
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert one(kms, "aws_sns_topic")["kms_master_key_id"] == key
    queue = one(kms, "aws_sqs_queue")
    assert queue["kms_master_key_id"] == key
    assert queue.get("sqs_managed_sse_enabled") in (None, False)


def test_subscriptions_from_the_typed_map(plan: PlanFn) -> None:
    subscriptions = {
        s["protocol"]: s for s in of_type(plan(case="custom"), "aws_sns_topic_subscription")
    }
    assert subscriptions["sqs"]["endpoint"] == "arn:aws:sqs:eu-west-1:111122223333:worker"
    assert subscriptions["sqs"]["raw_message_delivery"] is True
    assert subscriptions["sqs"]["filter_policy"] is None
    assert subscriptions["https"]["raw_message_delivery"] is False
    assert json.loads(subscriptions["https"]["filter_policy"]) == {"message_encoding": ["json"]}
    assert subscriptions["https"]["filter_policy_scope"] == "MessageAttributes"
