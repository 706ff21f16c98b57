"""Emit function: publish a shard of a time slot, each task at its exact millisecond.

The state machine invokes it with `{"task": <execution input>, "execution_arn": ...}` once the
execution's Wait has released it, a whole second at least the emission lead before the slot
(see timing.py). Inputs, by the execution that carries them (slots.py):

- a shard (`{slot, shard, hop: 0, release_at}`): seal the shard, read it, publish what is due;
- a hop of a far-future shard (`hop > 0`): start the next hop, publish nothing;
- one task version that joined its shard too late (`{id, version, slot, shard, ordinal, ...}`);
- a task scheduled before time slots, whose input carries its message: publish it, or, when its
  execution only ended a segment, place it in its slot.

It never publishes before a timestamp, whatever the Wait did. It claims each version in the
registry before publishing it (scheduled -> emitted, by this execution): a cancel or reschedule
that committed first makes the claim fail, and the version is skipped; one that comes later
finds it emitted and is refused. See publisher.py for the batches, the retries and what is
dead-lettered alone.

With `{"dead_letter": <the state>, "execution_arn": ...}` (the Catch, once retries ran out), it
marks every version of the input not yet published failed and parks each in the dead-letter
queue with the error.

Its imports are kept to boto3 plus the Powertools Logger and Metrics, and its clients are built
at init: a cold start eats into the lead. No Tracer (the X-Ray SDK would add more to the cold
start than boto3 itself) and no pydantic: with tracing on, Lambda's active tracing still records
every invocation. Whatever fails leaves it as a short error of the same type (bounded_message):
Step Functions adds the error to the state it dead-letters, which must stay within 256 KiB.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from task_scheduler.aws import clients
from task_scheduler.aws.executions import Executions
from task_scheduler.aws.placement import Placer
from task_scheduler.aws.registry import ConditionFailed, Registry
from task_scheduler.aws.slot_store import SlotStore
from task_scheduler.core import decisions, tasks, timing
from task_scheduler.core.decisions import Decision, Verdict
from task_scheduler.core.slots import Entry, ShardExecution, SoloExecution, parse_execution_input
from task_scheduler.core.tasks import TaskExecution
from task_scheduler.emit.publisher import Publisher, Tally, TaskNotDue, TaskNotRegistered
from task_scheduler.emit.settings import EmitSettings

__all__ = ["TaskNotDue", "TaskNotRegistered", "lambda_handler"]

# Time kept, out of the function's timeout, for claiming and publishing after the hold.
PUBLISH_RESERVE_SECONDS = 10.0
# The api function of the time before slots registered a task right after starting its
# execution: one released at once may find no record yet, and waits this long before failing.
REGISTRATION_WAIT_SECONDS = 2.0
REGISTRATION_POLL_SECONDS = 0.2
# Step Functions adds a failed invocation's error (its type, message and stack trace) to the
# state with which the Catch dead-letters the task; that state may hold at most 256 KiB, and one
# larger fails the execution with States.DataLimitExceeded, which no Catch takes
# (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). Every
# error leaves this function within this many characters, with no stack trace beyond the
# handler, so the dead-letter state fits the room scheduling.DEAD_LETTER_RESERVE_BYTES keeps.
MAX_ERROR_MESSAGE_CHARS = 1000

logger = Logger()
metrics = Metrics()
# The clients of every emission, built once per execution environment, at init. Those of rarer
# paths (SQS to dead-letter, Step Functions to start a hop) come at their first use.
clients.client("sns")
clients.client("dynamodb")


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event carries messages.
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return _handle(event, context)
    except Exception as error:
        error.args = (bounded_message(error),)
        logger.exception("Emission failed")
        raise error.with_traceback(None) from None


def bounded_message(error: Exception) -> str:
    """`error`'s message as at most MAX_ERROR_MESSAGE_CHARS printable ASCII characters."""
    text = "".join(c if " " <= c <= "~" else "?" for c in str(error))
    if len(text) > MAX_ERROR_MESSAGE_CHARS:
        text = text[: MAX_ERROR_MESSAGE_CHARS - 3] + "..."
    return text


def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, Mapping) or not isinstance(event.get("execution_arn"), str):
        raise ValueError("expected an event with the task and its execution_arn")
    settings = EmitSettings.from_env()
    execution_arn: str = event["execution_arn"]
    dead_letter = "dead_letter" in event
    document = event["dead_letter"] if dead_letter else event.get("task")
    if not isinstance(document, Mapping):
        raise ValueError("expected an event with the task and its execution_arn")
    registry = Registry(settings.tasks_table_name)
    store = SlotStore(settings.slots_table_name)
    publisher = Publisher(
        sns=clients.client("sns"),
        sqs=lambda: clients.client("sqs"),
        topic_arn=settings.topic_arn,
        dead_letter_queue_url=settings.dead_letter_queue_url,
        registry=registry,
        store=store if settings.publication_log else None,
        claimant=execution_arn.rpartition(":")[2],
        metrics=metrics,
    )
    if "message" in document:  # scheduled before time slots
        own = TaskExecution.from_execution_input(document)
        if dead_letter:
            return _dead_letter([_entry_of(own)], document, publisher)
        return _emit_own(own, execution_arn, settings, registry, store, publisher, context)
    execution = parse_execution_input(document)
    if isinstance(execution, SoloExecution):
        found = store.get(execution.placement)
        entries = [] if found is None or found.version != execution.version else [found]
        # Its retry publishes nothing twice either: it logs what it published in the shard's log.
        placement = execution.placement
        logged = entries and settings.publication_log
        if logged and placement.ordinal in store.published(placement.slot, placement.shard):
            entries = []
    elif execution.hop > 0 and not dead_letter:
        return _next_hop(execution, execution_arn, settings)
    else:
        if not dead_letter:
            store.seal(execution.slot, execution.shard)
        entries, published = store.shard(execution.slot, execution.shard)
        if settings.publication_log:
            entries = [e for e in entries if e.placement and e.placement.ordinal not in published]
    if dead_letter:
        return _dead_letter(entries, document, publisher)
    tally = publisher.run(entries, budget_seconds=_budget(context))
    logger.info("Emitted shard", extra={"execution": publisher.claimant, **tally.as_dict()})
    return tally.as_dict()


def _budget(context: LambdaContext) -> float:
    """How long the invocation may hold, keeping time to publish after the last hold."""
    return context.get_remaining_time_in_millis() / 1000 - PUBLISH_RESERVE_SECONDS


def _next_hop(
    execution: ShardExecution, execution_arn: str, settings: EmitSettings
) -> dict[str, Any]:
    """Start the hop that waits until this one's release plus a segment (or the shard)."""
    following = execution.previous_hop(settings.execution_segment_seconds)
    executions = Executions(tasks.state_machine_arn(execution_arn))
    # Only a retry of this hop, or a task of the shard joining now, can have started it: with
    # the same name and input, an open execution answers as itself.
    started = executions.start(following) or executions.arn(following.name)
    result = {"slot": execution.slot, "shard": execution.shard, "continued": started}
    logger.info("Continued shard in its next hop", extra=result)
    metrics.add_metric(name="ShardsContinued", unit=MetricUnit.Count, value=1)
    return result


def _dead_letter(
    entries: list[Entry], state: Mapping[str, Any], publisher: Publisher
) -> dict[str, Any]:
    error = state.get("error")
    described = {
        "Error": str(error.get("Error", "")) if isinstance(error, Mapping) else "Unknown",
        "Cause": str(error.get("Cause", "")) if isinstance(error, Mapping) else "",
    }
    tally = Tally()
    for entry in entries:
        publisher.dead_letter(entry, described, tally)
    return tally.as_dict()


def _entry_of(own: TaskExecution) -> Entry:
    task = own.task
    return Entry(task.id, own.version, task.timestamp, task.message, placement=None)


def _emit_own(
    own: TaskExecution,
    execution_arn: str,
    settings: EmitSettings,
    registry: Registry,
    store: SlotStore,
    publisher: Publisher,
    context: LambdaContext,
) -> dict[str, Any]:
    """A task scheduled before time slots: publish it, or place it in its slot when its
    execution only ended a segment."""
    final_release = timing.release_at(own.task.timestamp, settings.emission_lead_seconds)
    if decisions.continues(own, final_release=final_release, now=timing.utc_now()):
        return _place(own, execution_arn, settings, registry, store)
    tally = _when_registered(
        lambda: publisher.run([_entry_of(own)], budget_seconds=_budget(context), own_execution=True)
    )
    return tally.as_dict()


def _place(
    own: TaskExecution,
    execution_arn: str,
    settings: EmitSettings,
    registry: Registry,
    store: SlotStore,
) -> dict[str, Any]:
    """Move a task scheduled before time slots into its slot, if this version still owns it."""
    task = own.task
    owner = _decided(lambda: decisions.segment_owner(registry.get(task.id), own.version))
    result: dict[str, Any] = {"id": task.id, "version": own.version}
    if owner.verdict is Verdict.SKIP:
        logger.info("Skipped superseded task", extra={**result, "skipped": owner.reason})
        return {**result, "skipped": owner.reason}
    placer = Placer(
        store,
        Executions(tasks.state_machine_arn(execution_arn)),
        lead_seconds=settings.emission_lead_seconds,
        segment_seconds=settings.execution_segment_seconds,
        shard_units=settings.shard_units,
    )
    now = timing.utc_now()
    placement = placer.stage(task, own.version, now)
    try:
        registry.place(task.id, own.version, placement, now)
    except ConditionFailed as failed:  # cancelled or rescheduled since the read
        reason = decisions.segment_owner(failed.current, own.version).reason
        return {**result, "skipped": reason}
    started = placer.start(task.id, own.version, placement, now)
    logger.info("Placed task in its time slot", extra={**result, "continued": started})
    metrics.add_metric(name="TasksContinued", unit=MetricUnit.Count, value=1)
    return {**result, "continued": started}


def _when_registered(run: Callable[[], Tally]) -> Tally:
    """`run()`, again while it finds the task not registered yet, for a short while."""
    deadline = time.monotonic() + REGISTRATION_WAIT_SECONDS
    while True:
        try:
            return run()
        except TaskNotRegistered:
            if time.monotonic() >= deadline:
                raise
            time.sleep(REGISTRATION_POLL_SECONDS)


def _decided(decide: Callable[[], Decision]) -> Decision:
    """`decide()`, again while it finds the task not registered yet, for a short while."""
    deadline = time.monotonic() + REGISTRATION_WAIT_SECONDS
    decision = decide()
    while decision.verdict is Verdict.WAIT:
        if time.monotonic() >= deadline:
            raise TaskNotRegistered(decision.reason)
        time.sleep(REGISTRATION_POLL_SECONDS)
        decision = decide()
    return decision
