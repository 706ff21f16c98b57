"""At most one publication per task version: the Powertools Idempotency utility, on DynamoDB.

Why the registry's claim is not enough. The emit function claims a task before publishing it
(scheduled -> emitted, for its version): that is what makes cancel and reschedule race-safe. A
retry of the same version must still be let through after the claim, or a publish that failed
would lose the task; so without more, a retry after a publish that succeeded publishes again
(Lambda reports a service error for an invocation that ran, or the function times out after
Publish). The idempotency record of the task id and version tells that retry the publication
happened: it returns the recorded result instead of publishing.

How it is configured, and why:
- Key: `{"id", "version"}` with the fixed prefix `emission`, not Powertools' default prefix (the
  function's name and Python path), which a rename or refactor deployed between an attempt and
  its retry would change. A new version (reschedule, redrive) is a new key, so it is published.
- Scope: the hold, the claim and the publish run inside it. Its first write (INPROGRESS) thus
  happens before the hold, where it costs the task's instant nothing; an error anywhere inside
  (not due yet, not registered yet, Publish failed) deletes the record, so the state machine's
  retry starts afresh; a task found superseded is recorded as skipped, which is final.
- In-progress expiry: the invocation's deadline (register_lambda_context, called on each
  invocation: `idempotent_function`, unlike `idempotent`, does not do it). Until then, another
  attempt finds the record INPROGRESS and fails with IdempotencyAlreadyInProgressError, which
  the state machine retries: the first may still be running (a Lambda service error reported
  for an invocation that goes on). After it, Lambda has ended the invocation that wrote the
  record, e.g. at its timeout, and a retry takes over and publishes, since nothing can tell
  whether the dead invocation's Publish reached SNS. Without a registered context, Powertools
  sets no in-progress expiry and the record would block every retry for its whole expiry.
- Expiry: a day after the publication was recorded. The retries of one execution's Emit state end
  within 40 minutes (main.tf); a task id can come back at version 1 only 90 days after its task
  closed (Step Functions keeps execution names that long). A day covers the first with room and
  stays far below the second: a record never suppresses another task's publication.
- Imported on first use, only when IDEMPOTENCY_TABLE_NAME is set: about 4 ms of imports, off
  the cold start of a function that runs without it. It shares the function's DynamoDB client.

Duplicates that remain possible, and why:
1. SNS accepted the Publish, but the invocation died before marking the record COMPLETED
   (timeout, crash, out of memory): the INPROGRESS record expires at the invocation's deadline
   and the next retry publishes again. (When only the UpdateItem that marks it COMPLETED fails,
   the invocation still succeeds with its result, so nothing retries: `once` keeps the
   publication, as `make load` showed it must.)
2. SNS accepted the Publish, but its answer was lost (connection reset, read timeout): botocore
   retries the call within the invocation, or the invocation fails, the record is deleted and
   the state machine's retry publishes. A standard SNS topic does not deduplicate publishes.
3. SNS delivers each message at least once to each subscription: a subscriber can receive one
   twice. Subscribers that must not act twice deduplicate on the `task_id` attribute.
4. With the table turned off (IDEMPOTENCY_TABLE_NAME empty or unset), every retry after a
   successful Publish publishes again.
"""

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.client import BaseClient

from task_scheduler import aws

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.typing import LambdaContext

KEY_PREFIX = "emission"
EXPIRES_AFTER_SECONDS = 24 * 60 * 60

Result = dict[str, Any]
_Guarded = Callable[..., Result]


def once(
    table_name: str,
    task_id: str,
    version: int,
    context: "LambdaContext",
    step: Callable[[], Result],
) -> tuple[Result, bool]:
    """`step()`'s result, unless a completed record of `task_id` at `version` exists: then the
    recorded result, and `step` does not run. The flag tells which (True: the recorded one)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyPersistenceLayerError,
    )

    config, guarded = _guard(table_name, aws.client("dynamodb"))
    config.register_lambda_context(context)  # the in-progress expiry: this invocation's deadline
    ran: list[Result] = []

    def run() -> Result:
        result = step()
        ran.append(result)
        return result

    try:
        result = guarded(key={"id": task_id, "version": version}, step=run)
    except IdempotencyPersistenceLayerError:
        if not ran:  # the record could not be written first: the step did not run
            raise
        # The step ran (the task is published) and only marking its record COMPLETED failed:
        # failing the invocation would make the state machine retry, and the retry, once the
        # record in progress expires, publish again. The publication stands.
        return ran[0], False
    return result, not ran


# Cached per client: creating the persistence layer registers a user-agent hook on the client,
# and the tests start a new fake AWS, with new clients, for each module.
@cache
def _guard(table_name: str, client: BaseClient) -> tuple["IdempotencyConfig", _Guarded]:
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        expires_after_seconds=EXPIRES_AFTER_SECONDS, raise_on_no_idempotency_key=True
    )
    store = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client)

    def run_step(*, key: dict[str, Any], step: Callable[[], Result]) -> Result:
        return step()

    guarded: _Guarded = idempotent_function(
        run_step,
        data_keyword_argument="key",
        persistence_store=store,
        config=config,
        key_prefix=KEY_PREFIX,
    )
    return config, guarded
