"""Atomic DynamoDB item operations: conditional writes on one item are atomic under the
threaded server, as on AWS.

Without the patch several racing ``UpdateItem ... ConditionExpression version = :old`` calls
pass their condition (moto checks and writes without a lock), and optimistic locking breaks.
The updates set :data:`ATTRIBUTES` attributes: that widens moto's unlocked window between the
check and the write, so an unpatched emulator lets two or more through in nearly every round.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from task_scheduler_emulator import Emulator

THREADS = 24
ROUNDS = 5
ATTRIBUTES = 64


@pytest.fixture
def table(client: Callable[[str], Any]) -> Iterator[str]:
    name = f"atomic-{uuid.uuid4().hex[:8]}"
    dynamodb = client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield name
    dynamodb.delete_table(TableName=name)


def _race(emulator: Emulator, attempt: Callable[[Any, int], str]) -> list[str]:
    """``THREADS`` clients, each with its own connection, call ``attempt`` at once."""

    clients = [
        boto3.client(
            "dynamodb",
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )
        for _ in range(THREADS)
    ]
    start = threading.Barrier(THREADS)

    def run(index: int) -> str:
        start.wait()
        try:
            return attempt(clients[index], index)
        except ClientError as error:
            return str(error.response["Error"]["Code"])

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(run, range(THREADS)))


def test_exactly_one_racing_conditional_update_wins(emulator: Emulator, table: str) -> None:
    for version in range(1, ROUNDS + 1):

        def bump(dynamodb: Any, index: int, version: int = version) -> str:
            fields = ", ".join(f"a{n} = :me" for n in range(ATTRIBUTES))
            dynamodb.update_item(
                TableName=table,
                Key={"id": {"S": "task"}},
                UpdateExpression=f"SET version = :new, {fields}",
                ConditionExpression="attribute_not_exists(id) OR version = :old",
                ExpressionAttributeValues={
                    ":old": {"N": str(version - 1)},
                    ":new": {"N": str(version)},
                    ":me": {"N": str(index)},
                },
            )
            return "won"

        outcomes = _race(emulator, bump)

        assert sorted(set(outcomes)) == ["ConditionalCheckFailedException", "won"], outcomes
        assert outcomes.count("won") == 1, f"round {version}: {outcomes.count('won')} winners"


def test_exactly_one_racing_create_wins_and_losers_see_the_winner(
    emulator: Emulator, table: str
) -> None:
    def create(dynamodb: Any, index: int) -> str:
        try:
            dynamodb.put_item(
                TableName=table,
                Item={
                    "id": {"S": "new"},
                    "creator": {"N": str(index)},
                    **{f"a{n}": {"N": str(index)} for n in range(ATTRIBUTES)},
                },
                ConditionExpression="attribute_not_exists(id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            return str(error.response["Item"]["creator"]["N"])
        return f"won {index}"

    outcomes = _race(emulator, create)

    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1, outcomes
    # Every loser's condition ran against the one committed item: the winner's.
    assert set(outcomes) - set(winners) == {winners[0].removeprefix("won ")}
