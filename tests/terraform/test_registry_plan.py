"""Plan of the task registry and the slot table (registry.tf)."""

from collections import Counter

import pytest

from tests.terraform.conftest import PlanFn
from tests.terraform.plan_values import (
    BASE_COUNTS,
    KEY_ARN,
    managed,
    tables,
)


@pytest.mark.parametrize(("case", "key"), [("defaults", None), ("kms", KEY_ARN)])
def test_task_table(plan: PlanFn, case: str, key: str | None) -> None:
    table = tables(plan(case=case))["task-scheduler-tasks"]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert (table["hash_key"], table["range_key"]) == ("id", None)
    assert sorted((a["name"], a["type"]) for a in table["attribute"]) == [
        ("id", "S"),
        ("status", "S"),
        ("timestamp", "S"),
    ]
    (index,) = table["global_secondary_index"]
    assert (index["name"], index["hash_key"], index["range_key"]) == (
        "status-timestamp",
        "status",
        "timestamp",
    )
    assert index["projection_type"] == "ALL"
    assert table["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
    assert table["point_in_time_recovery"][0]["enabled"] is True
    (encryption,) = table["server_side_encryption"]
    assert encryption["enabled"] is True
    assert encryption.get("kms_key_arn") == key
    assert table["local_secondary_index"] == []
    assert table.get("stream_enabled") in (None, False)
    assert table["tags"] in (None, {})


@pytest.mark.parametrize(("case", "key"), [("defaults", None), ("kms", KEY_ARN)])
def test_slots_table(plan: PlanFn, case: str, key: str | None) -> None:
    planned = plan(case=case)
    table = tables(planned)["task-scheduler-slots"]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    # A slot's counter and a shard's entries: partition "<slot>" or "<slot>#<shard>", sorted by
    # ordinal (lambda_src/task_scheduler/aws/slot_store.py).
    assert (table["hash_key"], table["range_key"]) == ("pk", "sk")
    assert sorted((a["name"], a["type"]) for a in table["attribute"]) == [("pk", "S"), ("sk", "N")]
    # Items expire 91 days after their slot.
    assert table["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
    (encryption,) = table["server_side_encryption"]
    assert encryption["enabled"] is True
    assert encryption.get("kms_key_arn") == key
    # The entries hold the messages of tasks not yet emitted: continuous backups, like the
    # registry.
    assert table["point_in_time_recovery"][0]["enabled"] is True
    # A shard is read by its partition key: no index, no stream.
    assert table["global_secondary_index"] == []
    assert table["local_secondary_index"] == []
    assert table.get("stream_enabled") in (None, False)
    assert table["tags"] in (None, {})
    assert planned.outputs["dynamodb_slots_table_name"] == "task-scheduler-slots"


def test_the_idempotency_table_is_gone(plan: PlanFn) -> None:
    # Earlier releases created <name>-idempotency for the Powertools Idempotency utility: an
    # upgrade destroys it (the deployer may still delete it, test_iam_policies.py).
    for planned in (plan(), plan(case="kms")):
        assert set(tables(planned)) == {"task-scheduler-tasks", "task-scheduler-slots"}
        addresses = [*planned.resource_changes, *planned.resources, *planned.outputs]
        assert not [a for a in addresses if "idempotency" in a]


def test_publication_log_off_keeps_the_slot_table(plan: PlanFn) -> None:
    # tftest passes -var values as they print: Terraform reads "false".
    planned = plan(emit_idempotency_enabled="false")
    # The emit function reads its shards from the slot table either way; only what it records
    # there changes (PUBLICATION_LOG, test_rendered.py).
    assert tables(planned) == tables(plan())
    assert planned.outputs["dynamodb_slots_table_name"] == "task-scheduler-slots"
    counts = Counter(r["type"] for r in managed(planned).values())
    assert counts == Counter(BASE_COUNTS)
