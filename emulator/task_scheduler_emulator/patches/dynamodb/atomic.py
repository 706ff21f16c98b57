"""DynamoDB item operations are atomic, as on AWS, under the threaded server.

AWS documents (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
BestPractices_ImplementingVersionControl.html, "Best practices for handling concurrent updates
in DynamoDB"): "Individual write operations such as UpdateItem are atomic and always operate on
the most recent version of the item, regardless of concurrency", and a condition expression
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.SpecifyingConditions.html)
is evaluated against that item: if it is false the write fails with
ConditionalCheckFailedException. Optimistic locking (``SET version = :new`` with
``version = :old``) relies on exactly one of two racing writers passing. TransactWriteItems is
all-or-nothing and serializable with respect to the single-item operations
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html,
"Isolation levels for DynamoDB transactions").

moto 5.2.5 has no locking. Its ``DynamoHandler.update_item`` reads the item (for
ReturnValues), then the backend reads it again, evaluates the condition and mutates it in place:
two threads of the server can both pass ``version = :old``, a reader can see an item half
updated, a Scan can fail on a dict that changes size, and a failed TransactWriteItems rolls the
whole table back to its snapshot, undoing other clients' writes made meanwhile.

This wraps the item-level operations of ``moto.dynamodb.responses.DynamoHandler`` (PutItem,
UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems, GetItem, BatchGetItem,
TransactGetItems, Query, Scan and the PartiQL statements) in one re-entrant lock per DynamoDB
backend (account and Region): each runs from its condition check to its response as one step.
Reads are serialised too, so a read sees an item before or after a write, never during it.
That makes Query and Scan see whole transactions (AWS only promises read-committed for them),
the one way this is stricter than needed; it is never kinder to a writer.
Not for a table whose stream is mapped to a Lambda function: moto invokes that function
synchronously inside the write (AWS does it asynchronously), so a handler that calls back
into the same backend would wait for the lock. The module uses no streams.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler

OPERATIONS = (
    "put_item",
    "update_item",
    "delete_item",
    "batch_write_item",
    "transact_write_items",
    "get_item",
    "batch_get_item",
    "transact_get_items",
    "query",
    "scan",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)
_LOCK_ATTRIBUTE = "_task_scheduler_item_lock"
_locks_lock = threading.Lock()


def item_lock(backend: Any) -> threading.RLock:
    """The lock that serialises item operations on one DynamoDB backend (account, Region)."""
    lock: threading.RLock | None = backend.__dict__.get(_LOCK_ATTRIBUTE)
    if lock is None:
        with _locks_lock:
            lock = backend.__dict__.setdefault(_LOCK_ATTRIBUTE, threading.RLock())
    return lock


def _atomic(operation: Callable[[DynamoHandler], Any]) -> Callable[[DynamoHandler], Any]:
    @functools.wraps(operation)
    def locked(self: DynamoHandler) -> Any:
        with item_lock(self.dynamodb_backend):
            return operation(self)

    locked.__task_scheduler_atomic__ = True  # type: ignore[attr-defined]
    return locked


def patch() -> None:
    for name in OPERATIONS:
        operation = getattr(DynamoHandler, name, None)
        assert callable(operation), f"moto moved DynamoHandler.{name}"
        if not getattr(operation, "__task_scheduler_atomic__", False):
            setattr(DynamoHandler, name, _atomic(operation))
