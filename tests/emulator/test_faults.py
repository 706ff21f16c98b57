"""Fault injection: each injected error reaches botocore as AWS's own error would, with the
code and HTTP status AWS documents; only the named operation, only N times."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from task_scheduler_emulator import Emulator, faults
from task_scheduler_emulator.faults import Fault, InvalidFault
from task_scheduler_emulator.gateway import Gateway

REGION = "us-east-1"
PUBLISH = {"service": "sns", "operation": "Publish"}


@pytest.fixture(autouse=True)
def no_faults_left(emulator: Emulator) -> Iterator[None]:
    faults.patch()
    yield
    faults.registry.clear()


@pytest.fixture
def aws(emulator: Emulator) -> Callable[[str], Any]:
    """Clients that never retry, so that each call meets the emulator exactly once."""

    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )

    return make


def inject(**spec: Any) -> Fault:
    return faults.registry.add(Fault.from_request(spec))


def refused(call: Callable[[], Any]) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as error:
        call()
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


@pytest.fixture
def table(aws: Callable[[str], Any]) -> str:
    name = f"faults-{uuid.uuid4().hex[:8]}"
    aws("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def item(key: str) -> dict[str, Any]:
    return {"id": {"S": key}}


def test_documented_statuses() -> None:
    status = faults.documented_status
    assert status("sns", "Publish", "AuthorizationError") == 403
    assert status("sns", "Publish", "NotFound") == 404
    assert status("stepfunctions", "StartExecution", "ThrottlingException") == 400
    assert status("stepfunctions", "StartExecution", "ExecutionLimitExceeded") == 400
    assert status("stepfunctions", "StartExecution", "ServiceUnavailable") == 503
    assert status("dynamodb", "PutItem", "ProvisionedThroughputExceededException") == 400
    assert status("dynamodb", "PutItem", "InternalServerError") == 500
    assert status("lambda", "Invoke", "ServiceException") == 500
    assert status("lambda", "Invoke", "TooManyRequestsException") == 429
    assert status("sns", "Publish", "NoSuchThing") is None


def test_start_execution_throttled_then_served(aws: Callable[[str], Any], role_arn: str) -> None:
    sfn = aws("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    machine = sfn.create_state_machine(
        name=f"faults-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    fault = inject(
        service="stepfunctions",
        operation="StartExecution",
        error_code="ThrottlingException",
        count=2,
    )

    for _ in range(2):
        code, status, message = refused(
            lambda: sfn.start_execution(stateMachineArn=machine, name=f"x-{uuid.uuid4().hex}")
        )
        assert (code, status) == ("ThrottlingException", 400)
        assert "ThrottlingException" in message
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []  # nothing started
    sfn.start_execution(stateMachineArn=machine, name="served")
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]] == [
        "served"
    ]
    assert faults.registry.list() == [{**fault.to_json(), "remaining": 0, "hits": 2}]


def test_sns_publish_denied_with_the_modeled_exception(aws: Callable[[str], Any]) -> None:
    sns = aws("sns")
    denied = sns.create_topic(Name=f"denied-{uuid.uuid4().hex[:8]}")["TopicArn"]
    other = sns.create_topic(Name=f"other-{uuid.uuid4().hex[:8]}")["TopicArn"]
    inject(service="sns", operation="Publish", error_code="AuthorizationError", contains=denied)

    sns.publish(TopicArn=other, Message="not this topic")
    with pytest.raises(sns.exceptions.AuthorizationErrorException) as error:
        sns.publish(TopicArn=denied, Message="hello")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.value.response["Error"]["Type"] == "Sender"
    sns.publish(TopicArn=denied, Message="the fault was used up")


def test_put_item_throttled_only_put_item(aws: Callable[[str], Any], table: str) -> None:
    dynamodb = aws("dynamodb")
    inject(
        service="dynamodb",
        operation="PutItem",
        error_code="ProvisionedThroughputExceededException",
    )

    dynamodb.get_item(TableName=table, Key=item("a"))  # another operation: unaffected
    with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException) as error:
        dynamodb.put_item(TableName=table, Item=item("a"))
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Item" not in dynamodb.get_item(TableName=table, Key=item("a"))  # never written


def test_after_the_call_took_effect_the_answer_is_lost(
    aws: Callable[[str], Any], table: str
) -> None:
    dynamodb = aws("dynamodb")
    inject(service="dynamodb", operation="PutItem", error_code="InternalServerError", when="after")

    code, status, _ = refused(lambda: dynamodb.put_item(TableName=table, Item=item("b")))

    assert (code, status) == ("InternalServerError", 500)
    assert dynamodb.get_item(TableName=table, Key=item("b"))["Item"] == item("b")


def test_lambda_invoke_rest_json_error(
    aws: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    function = make_function({"f.py": "def h(e, c):\n    return e\n"}, "f.h")
    inject(service="lambda", operation="Invoke", error_code="TooManyRequestsException")
    functions = aws("lambda")

    with pytest.raises(functions.exceptions.TooManyRequestsException) as error:
        functions.invoke(FunctionName=function, Payload=b"{}")
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error.value.response["Type"] == "User"
    # GetFunction (GET /2015-03-31/functions/{name}) is another operation: unaffected.
    functions.get_function(FunctionName=function)


def test_sqs_json_protocol_error(aws: Callable[[str], Any]) -> None:
    sqs = aws("sqs")
    queue = sqs.create_queue(QueueName=f"faults-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    inject(service="sqs", operation="SendMessage", error_code="RequestThrottled", status=400)

    code, status, _ = refused(lambda: sqs.send_message(QueueUrl=queue, MessageBody="x"))

    assert (code, status) == ("RequestThrottled", 400)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)


def test_delay_only_then_served(aws: Callable[[str], Any], table: str) -> None:
    dynamodb = aws("dynamodb")
    inject(service="dynamodb", operation="PutItem", delay_seconds=0.5)

    started = time.monotonic()
    dynamodb.put_item(TableName=table, Item=item("slow"))

    assert time.monotonic() - started >= 0.5
    assert dynamodb.get_item(TableName=table, Key=item("slow"))["Item"] == item("slow")


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ({"service": "nope", "operation": "X", "error_code": "Y"}, "unknown service"),
        ({"service": "sns", "operation": "Shout", "error_code": "Y"}, "no operation"),
        ({**PUBLISH, "error_code": "Made Up"}, "give status"),
        (PUBLISH, "error_code, delay_seconds"),
        ({"service": "s3", "operation": "GetObject", "error_code": "NoSuchKey"}, "rest-xml"),
        ({**PUBLISH, "error_code": "X", "status": 200}, "400"),
        ({**PUBLISH, "error_code": "NotFound", "count": 0}, "count"),
        ({**PUBLISH, "error_code": "NotFound", "when": "never"}, "when"),
        ({**PUBLISH, "extra": 1}, "unknown fields: extra"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_invalid_faults_are_refused(spec: Any, complaint: str) -> None:
    with pytest.raises(InvalidFault, match=complaint):
        Fault.from_request(spec)


def test_route_adds_lists_and_clears(emulator: Emulator, aws: Callable[[str], Any]) -> None:
    routes = {f"{m} /emulator/faults": faults.serve for m in ("GET", "POST", "DELETE")}
    with Gateway(emulator.endpoint_url, region=REGION, local_routes=routes) as gateway:

        def call(method: str, body: Any = None) -> tuple[int, Any]:
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(f"{gateway.url}/emulator/faults", data, method=method)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        spec = {"service": "sns", "operation": "Publish", "error_code": "NotFound", "count": 3}
        status, created = call("POST", spec)
        assert (status, created["status"], created["remaining"]) == (201, 404, 3)
        status, refused_answer = call("POST", {"service": "sns"})
        assert status == 400
        assert "required" in refused_answer["message"]
        assert call("GET")[1]["faults"] == [created]

        topic = aws("sns").create_topic(Name=f"route-{uuid.uuid4().hex[:8]}")["TopicArn"]
        with pytest.raises(aws("sns").exceptions.NotFoundException):
            aws("sns").publish(TopicArn=topic, Message="x")

        assert call("DELETE") == (200, {"cleared": 1})
        aws("sns").publish(TopicArn=topic, Message="served again")
        assert call("GET") == (200, {"faults": []})
