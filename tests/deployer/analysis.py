"""Evaluate recorded calls against a deployer policy: denied calls and unused grants."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from task_scheduler_emulator.iam_policy import Policy, wildcard_match
from task_scheduler_emulator.patches.request_log import RecordedRequest
from tests.deployer.authorization import Authorization, Mapper
from tests.deployer.aws_calls import ApiCall, parse

# `"service:Action", # unused: <why>` on an action's line of the deployer policy document.
REASON = re.compile(r'"(?P<action>[a-z0-9-]+:[A-Za-z0-9*]+)",?\s*#\s*unused:\s*(?P<why>\S.*)$')


@dataclass
class Analysis:
    calls: list[tuple[str, ApiCall]] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    used: set[tuple[str, str]] = field(default_factory=set)
    unused: list[str] = field(default_factory=list)

    def calls_per_service(self) -> Counter[str]:
        return Counter(call.service for _, call in self.calls)


# A statement's `sid = "..."`, which comes first in each statement of the deployer document.
SID = re.compile(r'^\s*sid\s*=\s*"(?P<sid>[A-Za-z0-9]+)"')


def reasons_for_unused(iam_tf: Path) -> dict[tuple[str, str], str]:
    """(sid, action) pairs of the file's deployer document that carry a one-line reason for going
    unused: per statement, so that one statement's reason never excuses another's grant of the
    same action."""
    text = iam_tf.read_text()
    block = text[text.index('data "aws_iam_policy_document" "deployer"') :]
    reasons: dict[tuple[str, str], str] = {}
    sid = ""
    for line in block.splitlines():
        if declared := SID.match(line):
            sid = declared["sid"]
        elif reason := REASON.search(line):
            assert sid, f"a reason before any statement's sid: {line}"
            reasons[(sid, reason["action"])] = reason["why"]
    return reasons


# `# documented: <url>` after a statement's sid: the statement comes from AWS's documentation
# (checks AWS makes inside a call), not from a recorded call.
DOCUMENTED = re.compile(r"^\s*#\s*documented:\s*(?P<url>https://\S+)\s*$")


def documented_statements(iam_tf: Path) -> dict[str, str]:
    """Sids of the file's deployer statements marked as documented, with their page."""
    text = iam_tf.read_text()
    block = text[text.index('data "aws_iam_policy_document" "deployer"') :]
    documented: dict[str, str] = {}
    sid = ""
    for line in block.splitlines():
        if declared := SID.match(line):
            sid = declared["sid"]
        elif marked := DOCUMENTED.match(line):
            assert sid, f"a documented mark before any statement's sid: {line}"
            documented[sid] = marked["url"]
    return documented


def analyse(
    requests: dict[str, list[RecordedRequest]],
    policy_document: dict[str, Any],
    reasons: dict[tuple[str, str], str],
    *,
    region: str,
    account: str,
    documented: frozenset[str] = frozenset(),
) -> Analysis:
    """``documented``: sids whose grants come from AWS's documentation; they may go unused
    (tests/deployer/test_deployer_policy.py holds them to what their pages list)."""
    policy = Policy(policy_document)
    mapper = Mapper(region, account)
    analysis = Analysis()
    for phase, recorded in requests.items():
        for request in recorded:
            call = parse(request)
            analysis.calls.append((phase, call))
            for authorization in mapper.authorizations(call):
                _evaluate(policy, phase, call, authorization, analysis)
    for sid, actions in policy.granted_actions().items():
        for action in actions:
            if sid in documented:
                continue
            if (sid, action) not in analysis.used and (sid, action) not in reasons:
                analysis.unused.append(f"{sid}: {action}")
    return analysis


def _evaluate(
    policy: Policy, phase: str, call: ApiCall, request: Authorization, analysis: Analysis
) -> None:
    decision = policy.evaluate(request)
    if not decision.allowed:
        analysis.denied.append(f"{phase}: {call} needs {request}")
        return
    for statement in policy.statements:
        if statement.sid in decision.allowed_by:
            for pattern in policy.granted_actions()[statement.sid]:
                if wildcard_match(pattern, request.action, ignore_case=True):
                    analysis.used.add((statement.sid, pattern))
