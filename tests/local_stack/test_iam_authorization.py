"""The module's default AWS_IAM authorization, end to end: the local gateway verifies SigV4
signatures and `execute-api:Invoke` against the emulator's IAM users and policies, as API
Gateway does, so the client's signing and the module's invoke policies are tested for real."""

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from task_scheduler_client import TaskSchedulerClient
from task_scheduler_client.errors import ApiError
from task_scheduler_emulator.local_stack import REGION
from tests.local_stack.conftest import RunningStack

pytestmark = pytest.mark.local_stack


@dataclass(frozen=True)
class Caller:
    access_key_id: str
    secret_access_key: str

    def client(self, stack: RunningStack, secret: str | None = None) -> TaskSchedulerClient:
        session = boto3.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=secret or self.secret_access_key,
            region_name=REGION,
        )
        return TaskSchedulerClient(stack.url, auth="iam", session=session, region=REGION)


def iam_user(stack: RunningStack, policy_output: str | None) -> Caller:
    iam, name = stack.client("iam"), f"caller-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    if policy_output is not None:
        iam.put_user_policy(
            UserName=name, PolicyName="invoke", PolicyDocument=stack.outputs[policy_output]
        )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Caller(key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def iam_authorized(stack: RunningStack) -> Iterator[None]:
    """The stack re-applied with the module's default authorization; restored afterwards."""
    stack.terraform("apply", "-auto-approve", "-var=authorization_type=AWS_IAM")
    try:
        yield
    finally:
        stack.terraform("apply", "-auto-approve")


def in_a_minute() -> str:
    due = datetime.now(UTC) + timedelta(minutes=1)
    return due.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def status_of(call: object) -> int:
    with pytest.raises(ApiError) as refused:
        call()  # type: ignore[operator]
    return refused.value.status


def test_signed_caller_with_the_invoke_policy_uses_every_route(
    stack: RunningStack, iam_authorized: None
) -> None:
    api = iam_user(stack, "invoke_policy_json").client(stack)

    created = api.schedule(in_a_minute(), {"signed": True}, id=f"iam-{uuid.uuid4().hex[:8]}")
    task_id = created["id"]

    assert api.status(task_id)["message"] == {"signed": True}
    assert task_id in {t["id"] for t in api.iter_tasks(status="scheduled", limit=100)}
    assert api.reschedule(task_id, message={"signed": "again"})["version"] == 2
    assert api.cancel(task_id)["status"] == "cancelled"


def test_read_only_policy_reads_but_cannot_write(stack: RunningStack, iam_authorized: None) -> None:
    writer = iam_user(stack, "invoke_policy_json").client(stack)
    reader = iam_user(stack, "invoke_read_only_policy_json").client(stack)
    task_id = writer.schedule(in_a_minute(), "read me")["id"]

    assert reader.status(task_id)["status"] == "scheduled"
    assert reader.list(status="scheduled", limit=1)["tasks"]
    assert status_of(lambda: reader.schedule(in_a_minute(), "no")) == 403
    assert status_of(lambda: reader.cancel(task_id)) == 403
    assert status_of(lambda: reader.reschedule(task_id, message="no")) == 403
    writer.cancel(task_id)


def test_unsigned_wrong_key_and_unauthorized_callers_get_403(
    stack: RunningStack, iam_authorized: None
) -> None:
    with_policy = iam_user(stack, "invoke_policy_json")
    without_policy = iam_user(stack, None)
    unsigned = urllib.request.Request(
        f"{stack.url}/schedule",
        json.dumps({"timestamp": in_a_minute(), "message": 1}).encode(),
        {"Content-Type": "application/json"},
        method="POST",
    )

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=30)
    assert refused.value.code == 403
    assert "message" in json.loads(refused.value.read())
    wrong_secret = with_policy.client(stack, secret="not-the-secret-" + "x" * 25)
    assert status_of(lambda: wrong_secret.schedule(in_a_minute(), 1)) == 403
    assert status_of(lambda: without_policy.client(stack).schedule(in_a_minute(), 1)) == 403
    assert status_of(lambda: without_policy.client(stack).list()) == 403
