"""Step Functions executions: start them, read a task's own execution (emit imports it too)."""

import json
from typing import Any, Protocol

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from task_scheduler.core.tasks import execution_arn


class Startable(Protocol):
    """An execution to start: its name and its input."""

    @property
    def name(self) -> str: ...

    def execution_input(self) -> str: ...


def _error_code(error: ClientError) -> str | None:
    code: str | None = error.response.get("Error", {}).get("Code")
    return code


class Executions:
    def __init__(self, state_machine_arn: str, client: BaseClient | None = None) -> None:
        self.state_machine_arn = state_machine_arn
        self.client = client or clients.client("stepfunctions")

    def start(self, execution: Startable) -> str | None:
        """Start `execution`; its ARN, or None if its name is taken by another execution.

        Step Functions answers a start with the name and input of an open execution as that
        execution, and `ExecutionAlreadyExists` when the execution with the name has closed
        or has another input (it keeps a name 90 days after its execution closed).
        """
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=execution.name,
                input=execution.execution_input(),
            )
        except ClientError as error:
            if _error_code(error) != "ExecutionAlreadyExists":
                raise
            return None
        started: str = response["executionArn"]
        return started

    def arn(self, name: str) -> str:
        return execution_arn(self.state_machine_arn, name)

    def task_input(self, arn: str) -> dict[str, Any] | None:
        """The input of execution `arn`: the task it carries (None: no such execution)."""
        try:
            described = self.client.describe_execution(executionArn=arn)
        except ClientError as error:
            if _error_code(error) != "ExecutionDoesNotExist":
                raise
            return None
        document: dict[str, Any] = json.loads(described["input"])
        return document
