"""Evaluation of identity-based IAM policies, after AWS's documented policy evaluation logic.

One evaluator for the emulator's gateway (``execute-api:Invoke`` for SigV4 callers, see
:mod:`.gateway.iam`) and for the tests that hold the module's deployer policy to recorded calls
(tests/deployer). No package on PyPI evaluates a request against a policy with conditions
(moto's evaluator reads ``*`` as a regular expression and ignores Condition; policy_sentry and
parliament write and lint policies).

**Decision** (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_AccessPolicyLanguage_Interplay.html):
the identity-based policies of a principal are evaluated together; "if policies that apply to a
request include an Allow statement and a Deny statement, the Deny statement trumps the Allow
statement" (explicit deny); with no applicable Deny and no applicable Allow the request is
implicitly denied. Permissions boundaries, SCPs, session and resource-based policies are not
modelled.

**Statements.** A statement applies when its Action (or NotAction), its Resource (or
NotResource) and every condition match. "Statements must include either an Action or NotAction
element" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html),
and likewise Resource or NotResource: a statement with neither applies to nothing. Its Effect is
``Allow`` or ``Deny``; anything else, and a statement that is not an object, is ignored.
Wildcards: ``*`` (any run, ``/`` and ``:`` included) and ``?`` (one character) in actions (case
insensitive: "The prefix and the action name are case insensitive") and in resources (case
sensitive) and in the ``*Like`` and ``Arn*`` operators. A request on ``"*"`` (an action that
has no resource type in the Service Authorization Reference, which then says "you must specify
all resources ("*")",
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html)
is matched only by a ``"*"`` in Resource.

**Conditions**
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
every operator of a Condition must hold, and within one every key; a key holds when any of the
policy's values matches
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_logic_multiple-context-keys-or-values.html).
"If the key that you specify in a policy condition is not present in the request context, the
values do not match and the condition is false. If the policy condition requires that the key
is not matched, such as StringNotLike or ArnNotLike, and the right key is not present, the
condition is true", except for ``...IfExists`` (true when absent) and ``Null``. Operators:
String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals, Arn(Not)Like, Bool, Null, with
``IfExists`` and the ``ForAnyValue:``/``ForAllValues:`` set operators; an unknown operator
raises instead of guessing.

**Unknown request context.** A caller that does not know the request context AWS would build
(the gateway: AWS adds keys such as ``aws:SourceIp`` or ``aws:PrincipalTag/*`` that the
emulator does not model) passes ``context=None``: a condition then cannot be decided, so a
statement with a Condition never allows and a Deny with one always applies. That fails closed,
never kinder than AWS.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Outcome = Literal["allow", "explicit_deny", "implicit_deny"]


class Request(Protocol):
    """What is authorized: ``action`` on ``resource``, with the request context's keys
    (``None``: the context is unknown, so conditions cannot be decided)."""

    @property
    def action(self) -> str: ...

    @property
    def resource(self) -> str: ...

    @property
    def context(self) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class Query:
    """A :class:`Request` built from its parts."""

    action: str
    resource: str
    context: Mapping[str, Any] | None = None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """An IAM wildcard (``*`` any run, ``?`` one character) as a regular expression."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one."""
    return _wildcard(pattern, ignore_case).fullmatch(value) is not None


def _any_match(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    return any(
        wildcard_match(p, value, ignore_case=ignore_case)
        for p in _as_list(patterns)
        if isinstance(p, str)
    )


def _string_test(base: str, policy_value: str, value: Any) -> bool:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if base == "StringEquals":
        return policy_value == text
    if base == "StringEqualsIgnoreCase":
        return policy_value.lower() == text.lower()
    if base in {"StringLike", "ArnLike", "ArnEquals"}:  # both Arn operators take wildcards
        return wildcard_match(policy_value, text)
    if base == "Bool":
        return policy_value.lower() == text.lower()
    raise ValueError(f"unsupported condition operator {base!r}")


NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}
POSITIVE = {"StringEquals", "StringEqualsIgnoreCase", "StringLike", "ArnEquals", "ArnLike", "Bool"}


def condition_matches(
    operator: str, key: str, policy_values: list[Any], context: Mapping[str, Any]
) -> bool:
    """Whether one key of one condition operator holds for the request context."""
    set_operator = ""
    if ":" in operator:
        set_operator, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    present = key in context
    if base == "Null":
        # Null: true means the key must be absent, false that it must be present.
        return all((str(v).lower() == "true") != present for v in policy_values)
    if not present:
        if if_exists:
            return True
        # An absent key matches no positive test; a negated one is satisfied (ForAllValues on
        # an empty set is true, ForAnyValue false).
        return set_operator == "ForAllValues" or (base in NEGATED and set_operator == "")
    values = [str(v) for v in _as_list(context[key])]
    negated = base in NEGATED
    test = NEGATED.get(base, base)
    if test not in POSITIVE:
        raise ValueError(f"unsupported condition operator {operator!r}")

    def one(value: str) -> bool:
        matched = any(_string_test(test, str(p), value) for p in policy_values)
        return not matched if negated else matched

    if set_operator == "ForAllValues":
        return all(one(v) for v in values)
    if set_operator == "ForAnyValue":
        return any(one(v) for v in values)
    if set_operator:
        raise ValueError(f"unsupported set operator {set_operator!r}")
    # A single-valued key: the request carries one value.
    return one(values[0]) if len(values) == 1 else all(one(v) for v in values)


@dataclass(frozen=True)
class Statement:
    sid: str
    effect: str
    document: Mapping[str, Any]

    def matches_action(self, action: str) -> bool:
        if "Action" in self.document:
            return _any_match(self.document["Action"], action, ignore_case=True)
        if "NotAction" in self.document:
            return not _any_match(self.document["NotAction"], action, ignore_case=True)
        return False

    def matches_resource(self, resource: str) -> bool:
        if "Resource" in self.document:
            patterns = self.document["Resource"]
            # A request on "*" (an action with no resource type) matches only a "*" grant.
            if resource == "*":
                return "*" in _as_list(patterns)
            return _any_match(patterns, resource, ignore_case=False)
        if "NotResource" in self.document:
            return not _any_match(self.document["NotResource"], resource, ignore_case=False)
        return False

    def matches_conditions(self, context: Mapping[str, Any] | None) -> bool | None:
        """Whether every condition holds; None if there are conditions but no context."""
        conditions = self.document.get("Condition") or {}
        if not conditions:
            return True
        if context is None:
            return None
        for operator, keys in conditions.items():
            for key, values in keys.items():
                if not condition_matches(operator, key, _as_list(values), context):
                    return False
        return True

    def applies(self, request: Request) -> bool:
        """Whether the statement takes part in the decision; an undecidable condition counts
        against the request (a Deny applies, an Allow does not)."""
        if not (self.matches_action(request.action) and self.matches_resource(request.resource)):
            return False
        conditions = self.matches_conditions(request.context)
        return self.effect == "Deny" if conditions is None else conditions


@dataclass(frozen=True)
class Decision:
    allowed_by: tuple[str, ...]
    denied_by: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return bool(self.allowed_by) and not self.denied_by

    @property
    def outcome(self) -> Outcome:
        if self.denied_by:
            return "explicit_deny"
        return "allow" if self.allowed_by else "implicit_deny"


class Policy:
    """The statements of one or more identity-based policy documents, evaluated together."""

    def __init__(self, *documents: Mapping[str, Any]) -> None:
        self.statements: list[Statement] = []
        for document in documents:
            for i, s in enumerate(_as_list(document.get("Statement", []))):
                if isinstance(s, Mapping) and s.get("Effect") in ("Allow", "Deny"):
                    self.statements.append(Statement(s.get("Sid", f"#{i}"), s["Effect"], s))

    def evaluate(self, request: Request) -> Decision:
        applying = [s for s in self.statements if s.applies(request)]
        return Decision(
            allowed_by=tuple(s.sid for s in applying if s.effect == "Allow"),
            denied_by=tuple(s.sid for s in applying if s.effect == "Deny"),
        )

    def granted_actions(self) -> dict[str, list[str]]:
        """Sid -> the actions an Allow statement lists (as written)."""
        return {
            s.sid: _as_list(s.document.get("Action", []))
            for s in self.statements
            if s.effect == "Allow"
        }


def evaluate(
    policies: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, Any] | None = None,
) -> Outcome:
    """``"allow"``, ``"explicit_deny"`` or ``"implicit_deny"`` for identity-based policies
    (``context=None``: the request context is unknown, conditions fail closed)."""
    return Policy(*policies).evaluate(Query(action, resource, context)).outcome
