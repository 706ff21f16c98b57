"""Publishing a shard's task versions, each at its own millisecond (no pydantic: emit imports it).

In timestamp order, the publisher holds until the next millisecond that has tasks, then hands
them, ten at a time, to a pool of threads that claim each one in the registry and publish the
claimed ones with one SNS PublishBatch. So tasks that share a millisecond go out in parallel,
and none goes out before its millisecond.

- A claim names this execution: a cancel or reschedule that committed first makes it fail and
  the version is skipped; a retry of this execution claims again what it had claimed.
- PublishBatch answers each message apart. A message SNS keeps refusing is dead-lettered alone
  (registry `failed`, the task with its error in the dead-letter queue); the rest go on.
- With the publication log on, what was published is recorded in the shard (every hundred
  tasks or quarter of a second, and at the end: a write per batch would cost a write per task
  in a sparse second), and a retried invocation leaves it out. A retry thus publishes nothing
  twice, but for what was published in the quarter of a second before the invocation died.
"""

import json
import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from threading import Lock
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from botocore.client import BaseClient

from task_scheduler.aws.registry import ConditionFailed, Registry
from task_scheduler.aws.slot_store import SlotStore
from task_scheduler.core import decisions, timing
from task_scheduler.core.decisions import Verdict
from task_scheduler.core.slots import Entry, Placement, describe_entry
from task_scheduler.core.sns_message import build_sns_message
from task_scheduler.core.tasks import Task
from task_scheduler.core.timestamps import format_timestamp

BATCH_SIZE = 10  # SNS PublishBatch takes at most ten messages
WORKERS = 16
# Attempts at publishing a message SNS refused, before it is dead-lettered alone.
PUBLISH_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 0.2
# The publication log is written when this many publications wait, or this long after the last.
LOG_FLUSH_COUNT = 100
LOG_FLUSH_SECONDS = 0.25

logger = Logger(child=True)
# Powertools' Metrics buffers values and flushes them past a hundred: one thread at a time.
_metrics_lock = Lock()


class TaskNotDue(Exception):
    """Invoked so early that holding until a timestamp would outlast the function's timeout:
    failing lets the state machine's Retry invoke it again later."""


@dataclass
class Tally:
    """What one invocation did, small enough for the state machine's 256 KiB state."""

    published: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    left: int = 0  # not attempted: the invocation's time ran out
    max_lateness_ms: float = 0.0
    _lock: Lock = field(default_factory=Lock, repr=False)

    def add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                if name == "max_lateness_ms":
                    self.max_lateness_ms = max(self.max_lateness_ms, value)
                else:
                    setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "skipped": self.skipped,
            "dead_lettered": self.dead_lettered,
            "max_lateness_ms": round(self.max_lateness_ms, 1),
        }


class Publisher:
    def __init__(
        self,
        *,
        sns: BaseClient,
        sqs: Callable[[], BaseClient],
        topic_arn: str,
        dead_letter_queue_url: str,
        registry: Registry,
        store: SlotStore | None,
        claimant: str,
        metrics: Metrics,
        clock: timing.Clock = timing.utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sns = sns
        self.sqs = sqs
        self.topic_arn = topic_arn
        self.dead_letter_queue_url = dead_letter_queue_url
        self.registry = registry
        self.store = store  # None: no publication log
        self.claimant = claimant
        self.metrics = metrics
        self.clock = clock
        self.sleep = sleep
        self._deadline = math.inf
        self._unlogged: list[Placement] = []
        self._logged_at = time.monotonic()
        self._log_lock = Lock()

    def run(
        self, entries: list[Entry], *, budget_seconds: float, own_execution: bool = False
    ) -> Tally:
        """Publish `entries` (a shard's, not yet published), each at its timestamp."""
        tally = Tally()
        deadline = time.monotonic() + budget_seconds
        ordered = sorted(entries, key=lambda e: (e.timestamp, e.id, e.version))
        self._deadline = deadline
        with ThreadPoolExecutor(WORKERS) as pool:
            submitted: list[Future[None]] = []
            try:
                for due, group in groupby(ordered, key=lambda e: e.timestamp):
                    left = deadline - time.monotonic()
                    now, held = timing.hold_until(
                        due, budget_seconds=left, clock=self.clock, sleep=self.sleep
                    )
                    if now < due:
                        raise TaskNotDue(f"a task is due at {format_timestamp(due)}")
                    for batch in _chunks(list(group), BATCH_SIZE):
                        args = (batch, held, own_execution, tally)
                        submitted.append(pool.submit(self._claim_and_publish, *args))
            finally:
                try:
                    for future in submitted:  # the first error, once every batch is done
                        future.result()
                finally:
                    self._log(force=True)
        if tally.left:
            raise ShardUnfinished(f"{tally.left} tasks left when the invocation's time ran out")
        return tally

    def dead_letter(self, entry: Entry, error: dict[str, str], tally: Tally) -> None:
        """Mark the version failed, unless another claimed it meanwhile, and park it with its
        error in the dead-letter queue (marked first: a retry finds it ours and sends again)."""
        try:
            self.registry.fail(
                entry.id, entry.version, self.clock(), self.claimant, entry.placement
            )
        except ConditionFailed:
            tally.add(skipped=1)
            return
        body = json.dumps({**describe_entry(entry), "error": error}, ensure_ascii=False)
        self.sqs().send_message(QueueUrl=self.dead_letter_queue_url, MessageBody=body)
        logger.warning(
            "Dead-lettered task", extra={"id": entry.id, "version": entry.version, **error}
        )
        self._measure("TasksDeadLettered", MetricUnit.Count, 1)
        tally.add(dead_lettered=1)

    def _claim_and_publish(
        self, batch: list[Entry], held_seconds: float, own_execution: bool, tally: Tally
    ) -> None:
        if time.monotonic() > self._deadline:
            # Killed at its timeout, the invocation would lose its log's last writes: it leaves
            # the rest to its retry instead, which the log lets publish nothing twice.
            tally.add(left=len(batch))
            return
        claimed = [entry for entry in batch if self._claim(entry, own_execution, tally)]
        refused: list[tuple[Entry, str]] = []
        for attempt in range(PUBLISH_ATTEMPTS):
            if attempt:
                self.sleep(RETRY_PAUSE_SECONDS * attempt)
            published, refused = self._publish(claimed)
            self._record(published, held_seconds, tally)
            claimed = [entry for entry, _ in refused]
            if not claimed:
                return
        for entry, code in refused:
            self.dead_letter(entry, {"Error": "PublishRefused", "Cause": code}, tally)

    def _claim(self, entry: Entry, own_execution: bool, tally: Tally) -> bool:
        try:
            self.registry.claim(
                entry.id, entry.version, self.clock(), self.claimant, entry.placement
            )
        except ConditionFailed as failed:
            decision = decisions.after_failed_claim(
                failed.current, entry.version, own_execution=own_execution
            )
            if decision.verdict is Verdict.WAIT:
                raise TaskNotRegistered(decision.reason) from None
            logger.info(
                "Skipped superseded task",
                extra={"id": entry.id, "version": entry.version, "skipped": decision.reason},
            )
            self._measure("TasksSkipped", MetricUnit.Count, 1)
            tally.add(skipped=1)
            return False
        return True

    def _publish(self, entries: list[Entry]) -> tuple[list[Entry], list[tuple[Entry, str]]]:
        """Publish `entries` in one batch: those SNS took, and those it refused for their own
        sake, with its error code. An error of the whole call (throttling past botocore's
        retries, a missing topic), or a message SNS failed through its own fault, fails the
        invocation: the state machine retries it."""
        if not entries:
            return [], []
        requests = []
        for index, entry in enumerate(entries):
            message = build_sns_message(Task(entry.id, entry.timestamp, entry.message))
            requests.append(
                {
                    "Id": str(index),
                    "Message": message.body,
                    "MessageAttributes": message.attributes,
                }
            )
        response = self.sns.publish_batch(
            TopicArn=self.topic_arn, PublishBatchRequestEntries=requests
        )
        failed = response.get("Failed", [])
        if any(not f.get("SenderFault", False) for f in failed):
            codes = sorted(str(f.get("Code")) for f in failed)
            raise PublishFailed(f"SNS failed {len(failed)} of {len(entries)} messages: {codes}")
        refused = [(entries[int(f["Id"])], str(f.get("Code", "Unknown"))) for f in failed]
        published = [
            entry
            for index, entry in enumerate(entries)
            if index not in {int(f["Id"]) for f in failed}
        ]
        return published, refused

    def _record(self, published: list[Entry], held_seconds: float, tally: Tally) -> None:
        if not published:
            return
        emitted_at = self.clock()
        self._log([entry.placement for entry in published if entry.placement is not None])
        for entry in published:
            lateness_ms = round((emitted_at - entry.timestamp).total_seconds() * 1000, 1)
            logger.info(
                "Emitted task",
                extra={
                    "id": entry.id,
                    "version": entry.version,
                    "scheduled_at": format_timestamp(entry.timestamp),
                    "emitted_at": format_timestamp(emitted_at),
                    "held_ms": round(held_seconds * 1000, 1),
                    "lateness_ms": lateness_ms,
                },
            )
            self._measure("TasksEmitted", MetricUnit.Count, 1)
            self._measure("EmissionLateness", MetricUnit.Milliseconds, lateness_ms)
            tally.add(published=1, max_lateness_ms=lateness_ms)

    def _log(self, placements: list[Placement] | None = None, *, force: bool = False) -> None:
        """Add `placements` to the shard's publication log, written when enough wait."""
        if self.store is None:
            return
        with self._log_lock:
            self._unlogged.extend(placements or [])
            due = time.monotonic() - self._logged_at >= LOG_FLUSH_SECONDS
            if not self._unlogged or not (force or due or len(self._unlogged) >= LOG_FLUSH_COUNT):
                return
            slot, shard = self._unlogged[0].slot, self._unlogged[0].shard
            ordinals = [placement.ordinal for placement in self._unlogged]
            self.store.record_published(slot, shard, ordinals, self.clock())
            self._unlogged, self._logged_at = [], time.monotonic()

    def _measure(self, name: str, unit: MetricUnit, value: float) -> None:
        with _metrics_lock:
            self.metrics.add_metric(name=name, unit=unit, value=value)


class ShardUnfinished(Exception):
    """The invocation ran out of time with tasks left (its calls were slow): failing lets the
    state machine's Retry invoke it again, and the retry publishes the rest."""


class TaskNotRegistered(Exception):
    """A task's own execution found no record of its version yet: failing lets the state
    machine's Retry invoke the function again later."""


class PublishFailed(Exception):
    """SNS failed messages through its own fault (not the message's)."""


def _chunks(entries: list[Entry], size: int) -> Iterator[list[Entry]]:
    for start in range(0, len(entries), size):
        yield entries[start : start + size]
