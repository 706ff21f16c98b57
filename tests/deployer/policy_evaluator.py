"""A small evaluator of identity-based IAM policies, after AWS's documented evaluation logic.

No package on PyPI evaluates a request against a policy with conditions (moto's evaluator
ignores Condition; policy_sentry and parliament write and lint policies). This follows
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
for a single identity-based policy: an explicit Deny wins, then any Allow, else the request is
implicitly denied. A statement applies when its Action (or NotAction), Resource (or NotResource)
and every condition match; within a condition operator every key must match, and a key matches
when any of the policy's values does
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_logic_multiple-context-keys-or-values.html).
Wildcards: ``*`` and ``?`` in actions (case-insensitive) and resources (case-sensitive) and in
the ``*Like`` operators. Operators: String(Not)Equals(IgnoreCase), String(Not)Like,
Arn(Not)Equals, Arn(Not)Like, Bool, Null, with ``IfExists`` and the ``ForAnyValue:`` /
``ForAllValues:`` set operators
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
An unknown operator raises instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.deployer.authorization import Authorization


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters (``/`` and ``:`` included), ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    return re.fullmatch(regex, value, flags) is not None


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
    operator: str, key: str, policy_values: list[Any], context: dict[str, Any]
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
    document: dict[str, Any]

    def matches_action(self, action: str) -> bool:
        if "NotAction" in self.document:
            patterns = _as_list(self.document["NotAction"])
            return not any(wildcard_match(p, action, ignore_case=True) for p in patterns)
        patterns = _as_list(self.document.get("Action", []))
        return any(wildcard_match(p, action, ignore_case=True) for p in patterns)

    def matches_resource(self, resource: str) -> bool:
        if "NotResource" in self.document:
            patterns = _as_list(self.document["NotResource"])
            return not any(wildcard_match(p, resource) for p in patterns)
        patterns = _as_list(self.document.get("Resource", []))
        # A request on "*" (an action with no resource type) matches only a "*" grant.
        if resource == "*":
            return "*" in patterns
        return any(wildcard_match(p, resource) for p in patterns)

    def matches_conditions(self, context: dict[str, Any]) -> bool:
        for operator, keys in self.document.get("Condition", {}).items():
            for key, values in keys.items():
                if not condition_matches(operator, key, _as_list(values), context):
                    return False
        return True

    def applies(self, request: Authorization) -> bool:
        return (
            self.matches_action(request.action)
            and self.matches_resource(request.resource)
            and self.matches_conditions(request.context)
        )


@dataclass(frozen=True)
class Decision:
    allowed: bool
    allowed_by: tuple[str, ...]
    denied_by: tuple[str, ...]


class Policy:
    """An identity-based policy document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.statements = [
            Statement(s.get("Sid", f"#{i}"), s["Effect"], s)
            for i, s in enumerate(_as_list(document.get("Statement", [])))
        ]

    def evaluate(self, request: Authorization) -> Decision:
        allows = tuple(s.sid for s in self.statements if s.effect == "Allow" and s.applies(request))
        denies = tuple(s.sid for s in self.statements if s.effect == "Deny" and s.applies(request))
        return Decision(allowed=bool(allows) and not denies, allowed_by=allows, denied_by=denies)

    def granted_actions(self) -> dict[str, list[str]]:
        """Sid -> the actions an Allow statement lists (as written)."""
        return {
            s.sid: _as_list(s.document.get("Action", []))
            for s in self.statements
            if s.effect == "Allow"
        }
