"""Step Functions executions: start, stop, read their input (no pydantic: emit imports it)."""

import json
from typing import Any

from aws_lambda_powertools.logging import Logger
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from task_scheduler import aws
from task_scheduler.decisions import same_task
from task_scheduler.tasks import TaskExecution, execution_arn

logger = Logger(child=True)


def _error_code(error: ClientError) -> str | None:
    code: str | None = error.response.get("Error", {}).get("Code")
    return code


class Executions:
    def __init__(self, state_machine_arn: str, client: BaseClient | None = None) -> None:
        self.state_machine_arn = state_machine_arn
        self.client = client or aws.client("stepfunctions")

    def start(self, execution: TaskExecution) -> str | None:
        """Start `execution`; its ARN, or None if its name is taken by another execution.

        Step Functions keeps a name 90 days after its execution closed. It is ours when it still
        runs the same task: a retried call that had started it, or an identical request's.
        """
        started = self.start_unless_taken(execution)
        if started is not None:
            return started
        arn = execution_arn(self.state_machine_arn, execution.name)
        existing = self.client.describe_execution(executionArn=arn)
        if existing["status"] == "RUNNING" and same_task(
            json.loads(existing["input"]), json.loads(execution.execution_input())
        ):
            return arn
        return None

    def start_unless_taken(self, execution: TaskExecution) -> str | None:
        """Start `execution`; its ARN, or None if an execution already has its name."""
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

    def stop(self, arn: str, cause: str) -> None:
        """Stop execution `arn`, best effort: what prevents an emission is the registry's
        claim condition, not the stop, which only spares the execution's wait."""
        try:
            self.client.stop_execution(executionArn=arn, cause=cause)
        except (ClientError, BotoCoreError):
            logger.warning(
                "Could not stop an execution", extra={"execution_arn": arn}, exc_info=True
            )
