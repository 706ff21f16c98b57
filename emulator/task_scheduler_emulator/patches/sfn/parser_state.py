"""Each Step Functions definition is parsed with its own QueryLanguage scope stack.

moto 5.2.5's ASL parser keeps its parse state at class level:
``moto.stepfunctions.parser.asl.parse.preprocessor.Preprocessor._query_language_per_scope`` is
one list shared by every ``Preprocessor`` (each parse, and each execution thread, makes one).
Two effects, neither an AWS behaviour (this fixes a moto bug):

* Definitions parsed concurrently (every StartExecution parses on its own thread) push and pop
  each other's scopes: a JSONPath definition parsed while a JSONata one is open is rejected
  ("Unsupported declaration in QueryLanguage=JSONata block"), or a pop empties the list under
  another parse and it raises ``IndexError``. On an execution's thread that kills the thread and
  the execution stays RUNNING forever. AWS runs each execution on its own: the quota is
  1,000,000 open executions per account and Region
  (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html, "Maximum open
  executions per account"), and nothing there or in the definition's rules makes one
  execution's definition depend on another's.
* A definition that moto rejects mid-parse (e.g. a state declaring ``"QueryLanguage":
  "JSONPath"`` inside a JSONata machine; the ``QueryLanguage`` field is set at the top level
  and may be set per state, https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html)
  leaves its scopes on the shared list, so every later definition in the process is read in
  that query language: after one such definition, valid JSONPath definitions fail
  ValidateStateMachineDefinition, and their executions fail.

This gives each ``Preprocessor`` (and ``TestStatePreprocessor``, its subclass) its own list,
which is what the class attribute was evidently meant to be. Parsing is otherwise unchanged.
"""

from __future__ import annotations

from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor


def _init(self: Preprocessor) -> None:
    self._query_language_per_scope = []


def patch() -> None:
    assert "__init__" not in vars(Preprocessor) or Preprocessor.__init__ is _init, (
        "moto's Preprocessor now has an __init__: check whether this patch is still needed"
    )
    assert isinstance(vars(Preprocessor).get("_query_language_per_scope"), list), (
        "moto moved Preprocessor._query_language_per_scope: revisit this patch"
    )
    Preprocessor.__init__ = _init  # type: ignore[method-assign, assignment]
