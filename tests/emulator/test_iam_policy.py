"""The IAM policy evaluator (task_scheduler_emulator.iam_policy) against AWS's documented
evaluation rules (see its docstring): the deployer policy tests and the gateway's AWS_IAM
routes both use it."""

from __future__ import annotations

from typing import Any

import pytest

from task_scheduler_emulator.iam_policy import (
    Policy,
    Query,
    condition_matches,
    evaluate,
    wildcard_match,
)

ROLE = "arn:aws:iam::111122223333:role/app-api"


def policy(*statements: dict[str, Any]) -> Policy:
    return Policy({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**fields: Any) -> dict[str, Any]:
    return {"Effect": "Allow", **fields}


def request(action: str, resource: str, **context: Any) -> Query:
    return Query(action, resource, context)


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


# The gateway's use: several identity-based policies, an outcome, and no request context (the
# gateway does not build the one AWS would), so conditions fail closed.
@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({"Action": "EXECUTE-API:invoke", "Resource": "arn:a/*"}, "allow"),  # actions: any case
        ({"Action": "execute-api:*", "Resource": "ARN:A/*"}, "implicit_deny"),  # resources: exact
        ({"Action": "execute-api:Invoke", "Resource": "arn:a/?/GET/x"}, "allow"),
        ({"Action": "execute-api:Invoke", "Resource": "arn:a/??/GET/x"}, "implicit_deny"),
        ({"NotAction": "s3:*", "Resource": "*"}, "allow"),
        ({"Action": "*", "NotResource": "arn:a/s/GET/x"}, "implicit_deny"),
        ({"Action": "*", "NotResource": "arn:b/*"}, "allow"),
        (
            {"Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:X": "true"}}},
            "implicit_deny",
        ),
        ({"Action": "*", "Resource": "*", "Effect": "Deny"}, "explicit_deny"),
    ],
)
def test_policy_evaluation(statement: dict[str, Any], expected: str) -> None:
    policy = {"Statement": [{"Effect": "Allow", **statement}]}

    assert evaluate([policy], "execute-api:Invoke", "arn:a/s/GET/x") == expected


def test_without_a_request_context_conditions_fail_closed() -> None:
    conditional = {"Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:X": "true"}}}
    deny = {"Effect": "Deny", **conditional}
    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    unknown = evaluate([{"Statement": [allow_all, deny]}], "execute-api:Invoke", "arn:a/s/GET/x")
    assert unknown == "explicit_deny"  # the Deny might hold on AWS: it applies
    known = evaluate(
        [{"Statement": [allow_all, deny]}], "execute-api:Invoke", "arn:a/s/GET/x", {"aws:X": False}
    )
    assert known == "allow"  # with the key known to be false, the Deny does not apply


def test_policies_are_evaluated_together_and_any_deny_wins() -> None:
    allow = {"Statement": {"Effect": "Allow", "Action": "execute-api:*", "Resource": "*"}}
    deny = {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "arn:a/*/DELETE/*"}]}
    assert evaluate([allow, deny], "execute-api:Invoke", "arn:a/s/GET/x") == "allow"
    assert evaluate([allow, deny], "execute-api:Invoke", "arn:a/s/DELETE/x") == "explicit_deny"
    assert evaluate([], "execute-api:Invoke", "arn:a/s/GET/x") == "implicit_deny"
    assert Policy(allow, deny).evaluate(Query("s3:GetObject", "arn:a/s/DELETE/x", {})).denied_by
