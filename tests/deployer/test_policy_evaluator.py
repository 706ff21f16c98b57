"""The policy evaluator against AWS's documented evaluation rules (see its docstring)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deployer.authorization import Authorization
from tests.deployer.policy_evaluator import Policy, condition_matches, wildcard_match

ROLE = "arn:aws:iam::111122223333:role/app-api"


def policy(*statements: dict[str, Any]) -> Policy:
    return Policy({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **fields}


def request(action: str, resource: str, **context: Any) -> Authorization:
    return Authorization(action, resource, context)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:iam::*:role/app-*", ROLE, True),
        ("arn:aws:iam::*:role/app-???", ROLE, True),
        ("arn:aws:iam::*:role/app-??", ROLE, False),
        ("arn:aws:logs:*:*:log-group:/g:*", "arn:aws:logs:r:1:log-group:/g:log-stream:", True),
        ("arn:aws:logs:*:*:log-group:/g", "arn:aws:logs:r:1:log-group:/g:log-stream:", False),
        ("arn:aws:iam::*:role/App-*", ROLE, False),  # resources are case-sensitive
    ],
)
def test_wildcards(pattern: str, value: str, expected: bool) -> None:
    assert wildcard_match(pattern, value) is expected


def test_implicit_deny_allow_and_explicit_deny_wins() -> None:
    grant = allow(Action="iam:GetRole", Resource=ROLE)
    deny = {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    assert not policy().evaluate(request("iam:GetRole", ROLE)).allowed
    assert policy(grant).evaluate(request("iam:GetRole", ROLE)).allowed
    assert policy(grant).evaluate(request("IAM:getrole", ROLE)).allowed  # actions ignore case
    assert not policy(grant, deny).evaluate(request("iam:GetRole", ROLE)).allowed


def test_not_action_and_not_resource() -> None:
    everything_but = policy(allow(NotAction="iam:*", NotResource="arn:aws:s3:::secret"))
    assert everything_but.evaluate(request("sns:Publish", "arn:aws:sns:r:1:t")).allowed
    assert not everything_but.evaluate(request("iam:GetRole", ROLE)).allowed
    assert not everything_but.evaluate(request("s3:GetObject", "arn:aws:s3:::secret")).allowed


def test_actions_without_resource_types_need_a_star_grant() -> None:
    scoped = policy(allow(Action="sns:Unsubscribe", Resource="arn:aws:sns:*:*:topic:*"))
    assert not scoped.evaluate(request("sns:Unsubscribe", "*")).allowed
    assert (
        policy(allow(Action="sns:Unsubscribe", Resource="*"))
        .evaluate(request("sns:Unsubscribe", "*"))
        .allowed
    )


def test_passed_to_service_condition() -> None:
    pass_role = policy(
        allow(
            Action="iam:PassRole",
            Resource=ROLE,
            Condition={"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com"]}},
        )
    )
    assert pass_role.evaluate(
        request("iam:PassRole", ROLE, **{"iam:PassedToService": "lambda.amazonaws.com"})
    ).allowed
    assert not pass_role.evaluate(
        request("iam:PassRole", ROLE, **{"iam:PassedToService": "ec2.amazonaws.com"})
    ).allowed
    assert not pass_role.evaluate(request("iam:PassRole", ROLE)).allowed  # key absent


@pytest.mark.parametrize(
    ("operator", "values", "context", "expected"),
    [
        ("StringEquals", ["a"], {"k": "a"}, True),
        ("StringEquals", ["a", "b"], {"k": "b"}, True),  # OR over the policy's values
        ("StringEquals", ["a"], {}, False),
        ("StringNotEquals", ["a"], {}, True),  # a negated operator holds for an absent key
        ("StringNotEquals", ["a"], {"k": "a"}, False),
        ("StringEqualsIfExists", ["a"], {}, True),
        ("StringEqualsIgnoreCase", ["A"], {"k": "a"}, True),
        ("StringLike", ["a*"], {"k": "abc"}, True),
        (
            "ArnLike",
            ["arn:aws:logs:*:*:log-group:/g"],
            {"k": "arn:aws:logs:r:1:log-group:/g"},
            True,
        ),
        (
            "ArnEquals",
            ["arn:aws:logs:*:*:log-group:/g"],
            {"k": "arn:aws:logs:r:1:log-group:/h"},
            False,
        ),
        ("Bool", ["true"], {"k": True}, True),
        ("Null", ["true"], {}, True),
        ("Null", ["false"], {}, False),
        ("ForAllValues:StringEquals", ["a", "b"], {"k": ["a", "b"]}, True),
        ("ForAllValues:StringEquals", ["a"], {"k": ["a", "c"]}, False),
        ("ForAllValues:StringEquals", ["a"], {}, True),
        ("ForAnyValue:StringEquals", ["a"], {"k": ["c", "a"]}, True),
        ("ForAnyValue:StringEquals", ["a"], {}, False),
    ],
)
def test_condition_operators(
    operator: str, values: list[str], context: dict[str, Any], expected: bool
) -> None:
    assert condition_matches(operator, "k", values, context) is expected


def test_every_key_of_a_condition_must_hold() -> None:
    both = policy(
        allow(
            Action="iam:CreateRole",
            Resource=ROLE,
            Condition={
                "StringEquals": {"iam:PermissionsBoundary": "b", "aws:RequestTag/team": "x"}
            },
        )
    )
    tagged = {"iam:PermissionsBoundary": "b", "aws:RequestTag/team": "x"}
    assert both.evaluate(request("iam:CreateRole", ROLE, **tagged)).allowed
    assert not both.evaluate(
        request("iam:CreateRole", ROLE, **{"iam:PermissionsBoundary": "b"})
    ).allowed


def test_unknown_operators_raise() -> None:
    with pytest.raises(ValueError, match="NumericLessThan"):
        condition_matches("NumericLessThan", "k", ["1"], {"k": "0"})
