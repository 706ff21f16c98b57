"""Redrive: re-schedule the tasks of the module's dead-letter queue.

The state machine sends a task whose emission failed after every retry to the dead-letter
queue (the module's `sqs_dead_letter_queue_url` output): the body is the execution's input,
`{"id", "version", "segment", "timestamp", "release_at", "message"}`, plus `error`
(`{"Error", "Cause"}`). Redriving posts `{"id", "timestamp", "message"}` to `POST /schedule`:
the API re-schedules a `failed` task with that content as a new version (201; a past
timestamp fires at once), or answers 200 when the task already exists with that content (a
duplicate dead letter, or a redrive whose delete was lost). The SQS message is deleted only
after one of those two answers, never before.

Every other outcome leaves the message in the queue. Messages are received with a visibility
timeout covering their handling, so one run never handles a message twice (a failing one is
not retried in a loop); when the run ends, however it ends (done, an error, Ctrl-C), the
messages it left are made visible again (ChangeMessageVisibility to 0), so that the next run
can retry them at once rather than after the timeout. Only a killed process leaves them
hidden until their visibility timeout expires.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import (
    aws_error,
    configuration_errors,
    create_client,
    default_session,
    region_from_queue_url,
    session_region,
)
from .client import DEFAULT_TIMEOUT, TaskSchedulerClient
from .errors import (
    ApiError,
    AuthorizationError,
    ConfigurationError,
    ConflictError,
    InvalidResponseError,
    ThrottledError,
    TransportError,
)
from .tail import signals_deferred

MAX_BATCH = 10  # SQS's maximum per ReceiveMessage and per batch call
MAX_WAIT_SECONDS = 20  # SQS's maximum long poll
DEFAULT_WAIT_SECONDS = 2
MIN_VISIBILITY_SECONDS = 30
MAX_VISIBILITY_SECONDS = 12 * 3600  # SQS's maximum


class Outcome(StrEnum):
    """What became of one dead-lettered message."""

    REDRIVEN = "redriven"  # 201: re-scheduled as a new version; the message is deleted
    EXISTS = "exists"  # 200: the task already exists with this content; the message is deleted
    WOULD_REDRIVE = "would_redrive"  # dry run: nothing posted, the message is left
    CONFLICT = "conflict"  # 409: the id is taken by other content (e.g. rescheduled since)
    REFUSED = "refused"  # any other 4xx
    SERVER_ERROR = "server_error"  # 5xx, or an answer that is not the promised JSON
    UNREACHABLE = "unreachable"  # no answer (refused, DNS, timeout)
    MALFORMED = "malformed"  # the body is not a dead-lettered task
    NOT_DELETED = "not_deleted"  # 201 or 200, then DeleteMessage failed: a rerun answers 200
    SKIPPED = "skipped"  # not attempted: the run stopped on an error every post would meet


DELETED_OUTCOMES = frozenset({Outcome.REDRIVEN, Outcome.EXISTS})


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered task, as its message body carries it."""

    id: str
    timestamp: str
    message: Any
    version: int | None = None
    error: str | None = None  # the emission's error name, e.g. States.TaskFailed

    @classmethod
    def parse(cls, body: str) -> DeadLetter:
        """The task in a message body; ValueError when the body is not one."""
        try:
            document = json.loads(body)
        except ValueError:
            raise ValueError("the body is not JSON") from None
        if not isinstance(document, dict):
            raise ValueError("the body is not a JSON object")
        task_id, timestamp = document.get("id"), document.get("timestamp")
        if not isinstance(task_id, str) or not task_id:
            raise ValueError("the body has no task id")
        if not isinstance(timestamp, str) or not timestamp:
            raise ValueError("the body has no timestamp")
        if "message" not in document:
            raise ValueError("the body has no message")
        version = document.get("version")
        error = document.get("error")
        return cls(
            id=task_id,
            timestamp=timestamp,
            message=document["message"],
            version=version if isinstance(version, int) and not isinstance(version, bool) else None,
            error=str(error.get("Error")) if isinstance(error, dict) and "Error" in error else None,
        )

    def request_body(self) -> dict[str, Any]:
        """What `POST /schedule` is sent."""
        return {"id": self.id, "timestamp": self.timestamp, "message": self.message}


@dataclass(frozen=True)
class RedriveResult:
    """One dead-lettered message handled (or not) by a run."""

    message_id: str
    outcome: Outcome
    deleted: bool = False
    id: str | None = None
    version: int | None = None  # the failed version, as dead-lettered
    timestamp: str | None = None
    http_status: int | None = None
    detail: str | None = None  # the API's answer, or why the message was left
    dead_letter_error: str | None = None  # why the emission failed

    @property
    def left(self) -> bool:
        """Whether the message is still in the queue."""
        return not self.deleted

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcome": self.outcome.value}


@dataclass
class RedriveSummary:
    """A run's results, in the order the messages were handled."""

    dry_run: bool = False
    results: list[RedriveResult] = field(default_factory=list)
    released: int = 0  # messages made visible again at the end
    stopped: str | None = None  # why the run stopped before the queue was empty, if it did

    @property
    def received(self) -> int:
        return len(self.results)

    @property
    def deleted(self) -> int:
        return sum(result.deleted for result in self.results)

    @property
    def left(self) -> int:
        return self.received - self.deleted

    def counts(self) -> dict[str, int]:
        """How many messages had each outcome (outcomes that occurred only, in enum order)."""
        counts = {outcome.value: 0 for outcome in Outcome}
        for result in self.results:
            counts[result.outcome.value] += 1
        return {outcome: n for outcome, n in counts.items() if n}

    @property
    def ok(self) -> bool:
        """Nothing a real run should have handled was left: every message deleted, or, in a
        dry run, every body a task."""
        if self.dry_run:
            return all(result.outcome is not Outcome.MALFORMED for result in self.results)
        return self.left == 0


def _one_line(error: Exception) -> str:
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


class Redrive:
    """Re-schedules the tasks of a dead-letter queue through `api`, deleting each message
    only after the API answered 201 or 200.

    `sqs` is a botocore SQS client (tests inject one); without it, one is made from
    `session` (a botocore or boto3 Session), else `profile`, else the default credential
    chain, for `region` (else the queue URL's, else the session's) and `endpoint_url` (an
    emulator; default AWS or AWS_ENDPOINT_URL). `api` may be None for dry runs.

    Needs sqs:ReceiveMessage, sqs:DeleteMessage and sqs:ChangeMessageVisibility on the queue,
    and kms:Decrypt on its key when it is encrypted with a customer managed key.
    """

    def __init__(
        self,
        queue_url: str,
        api: TaskSchedulerClient | None,
        *,
        sqs: Any = None,
        session: Any = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        wait_seconds: int = DEFAULT_WAIT_SECONDS,
        visibility_timeout: int | None = None,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError(f"wait_seconds must be from 0 to {MAX_WAIT_SECONDS}")
        if visibility_timeout is not None and not (
            1 <= visibility_timeout <= MAX_VISIBILITY_SECONDS
        ):
            raise ValueError(f"visibility_timeout must be from 1 to {MAX_VISIBILITY_SECONDS}")
        self.queue_url = queue_url
        self.api = api
        self.wait_seconds = wait_seconds
        self._visibility_timeout = visibility_timeout
        self.log = log
        if sqs is None:
            resolved_session = default_session(session, profile)
            with configuration_errors("redrive: reading the AWS configuration"):
                resolved_region = (
                    region or region_from_queue_url(queue_url) or session_region(resolved_session)
                )
                if resolved_region is None:
                    raise ConfigurationError(
                        f"no region in {queue_url!r}: pass --region or set AWS_DEFAULT_REGION"
                    )
                sqs = create_client(
                    resolved_session, "sqs", region=resolved_region, endpoint_url=endpoint_url
                )
        self.sqs = sqs
        self.summary = RedriveSummary()

    def visibility_timeout(self, batch: int) -> int:
        """How long a received batch stays hidden: long enough to post every message of it
        (each post is bounded by the API client's timeout), so that none is received twice."""
        if self._visibility_timeout is not None:
            return self._visibility_timeout
        timeout = self.api.timeout if self.api is not None else DEFAULT_TIMEOUT
        seconds = math.ceil(batch * (timeout + 5))
        return max(MIN_VISIBILITY_SECONDS, min(MAX_VISIBILITY_SECONDS, seconds))

    def run(
        self,
        *,
        max_messages: int | None = None,
        dry_run: bool = False,
        on_result: Callable[[RedriveResult], None] = lambda result: None,
    ) -> RedriveSummary:
        """Handle dead-lettered messages until the queue answers none (after waiting
        `wait_seconds`) or `max_messages` were handled; `on_result` is called after each.

        With `dry_run`, nothing is posted or deleted: the messages are received (which hides
        them for the run and counts a receive), reported, and made visible again.

        The run stops early, leaving the rest, when the API cannot be reached, refuses the
        caller (401, 403) or throttles (429, 503): every further post would meet the same.
        Raises AwsError (or TransportError) when SQS refuses or cannot be reached, and
        ConfigurationError when requests cannot be signed; the messages received so far and
        not deleted are made visible again first. `self.summary` holds the results so far."""
        if max_messages is not None and max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if self.api is None and not dry_run:
            raise ValueError("an API client is needed to redrive (or pass dry_run=True)")
        summary = self.summary = RedriveSummary(dry_run=dry_run)
        held: dict[str, str] = {}  # message id -> latest receipt handle, until deleted
        seen: set[str] = set()
        try:
            while True:
                wanted = MAX_BATCH
                if max_messages is not None:
                    wanted = min(MAX_BATCH, max_messages - summary.received)
                if wanted <= 0:
                    break
                messages = self._receive(wanted)
                if not messages:
                    break
                fresh = []
                for sqs_message in messages:
                    message_id = sqs_message["MessageId"]
                    if message_id not in seen or message_id in held:
                        # Received again once its visibility expired: keep the newest handle.
                        held[message_id] = sqs_message["ReceiptHandle"]
                    if message_id not in seen:
                        seen.add(message_id)
                        fresh.append(sqs_message)
                for sqs_message in fresh:
                    result = self._handle(sqs_message, dry_run=dry_run, stopped=summary.stopped)
                    if result.deleted:
                        del held[result.message_id]
                    summary.results.append(result)
                    on_result(result)
                if summary.stopped is not None:
                    break
        finally:
            with signals_deferred():
                summary.released = self._release(held)
        return summary

    def _receive(self, wanted: int) -> list[dict[str, Any]]:
        try:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_timeout(wanted),
            )
        except (BotoCoreError, ClientError) as error:
            raise aws_error(error, f"receiving from {self.queue_url}") from error
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages

    def _handle(
        self, sqs_message: Mapping[str, Any], *, dry_run: bool, stopped: str | None
    ) -> RedriveResult:
        message_id = sqs_message["MessageId"]
        try:
            letter = DeadLetter.parse(sqs_message.get("Body", ""))
        except ValueError as error:
            return RedriveResult(message_id, Outcome.MALFORMED, detail=str(error))
        task = RedriveResult(
            message_id,
            Outcome.WOULD_REDRIVE,
            id=letter.id,
            version=letter.version,
            timestamp=letter.timestamp,
            dead_letter_error=letter.error,
        )
        if dry_run:
            return task
        if stopped is not None:
            return replace(task, outcome=Outcome.SKIPPED, detail=f"not attempted: {stopped}")
        assert self.api is not None
        try:
            status, answer = self.api.schedule_with_status(
                letter.timestamp, letter.message, id=letter.id
            )
        except ConflictError as error:
            return replace(
                task, outcome=Outcome.CONFLICT, http_status=error.status, detail=_one_line(error)
            )
        except ApiError as error:
            if isinstance(error, AuthorizationError | ThrottledError):
                self.summary.stopped = f"the API answered HTTP {error.status}"
            outcome = Outcome.REFUSED if 400 <= error.status < 500 else Outcome.SERVER_ERROR
            return replace(task, outcome=outcome, http_status=error.status, detail=_one_line(error))
        except InvalidResponseError as error:
            return replace(
                task, outcome=Outcome.SERVER_ERROR, http_status=error.status, detail=str(error)
            )
        except TransportError as error:
            self.summary.stopped = "the API could not be reached"
            return replace(task, outcome=Outcome.UNREACHABLE, detail=str(error))
        if status not in (200, 201):
            return replace(
                task,
                outcome=Outcome.SERVER_ERROR,
                http_status=status,
                detail=f"unexpected HTTP {status} (201 or 200 expected)",
            )
        detail = answer.get("message") if isinstance(answer, dict) else None
        try:
            self.sqs.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=sqs_message["ReceiptHandle"]
            )
        except (BotoCoreError, ClientError) as error:
            return replace(
                task,
                outcome=Outcome.NOT_DELETED,
                http_status=status,
                detail=f"HTTP {status}, then DeleteMessage failed: {error}",
            )
        outcome = Outcome.REDRIVEN if status == 201 else Outcome.EXISTS
        return replace(task, outcome=outcome, deleted=True, http_status=status, detail=detail)

    def _release(self, held: Mapping[str, str]) -> int:
        """Make the messages left visible again; how many were. Best effort: those not
        released come back when their visibility timeout expires."""
        released = 0
        handles = list(held.values())
        for start in range(0, len(handles), MAX_BATCH):
            chunk = handles[start : start + MAX_BATCH]
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(chunk)
            ]
            try:
                answer = self.sqs.change_message_visibility_batch(
                    QueueUrl=self.queue_url, Entries=entries
                )
            except (BotoCoreError, ClientError) as error:
                self.log(
                    f"Could not make {len(chunk)} messages visible again ({error}); they "
                    "return when their visibility timeout expires"
                )
                continue
            released += len(answer.get("Successful", []))
            for failed in answer.get("Failed", []):
                self.log(
                    f"Could not make a message visible again ({failed.get('Code')}: "
                    f"{failed.get('Message')}); it returns when its visibility timeout expires"
                )
        return released


def redrive(
    queue_url: str,
    api: TaskSchedulerClient | None,
    *,
    max_messages: int | None = None,
    dry_run: bool = False,
    on_result: Callable[[RedriveResult], None] = lambda result: None,
    **options: Any,
) -> RedriveSummary:
    """`Redrive(queue_url, api, **options).run(...)`: re-schedule the dead-lettered tasks."""
    return Redrive(queue_url, api, **options).run(
        max_messages=max_messages, dry_run=dry_run, on_result=on_result
    )


__all__ = [
    "DeadLetter",
    "Outcome",
    "Redrive",
    "RedriveResult",
    "RedriveSummary",
    "redrive",
]
