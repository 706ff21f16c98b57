"""Run checkov over the module and each example; fail on any failed check or unreasoned skip.

Usage: run_checkov.py CHECKOV_EXECUTABLE

checkov runs from its own virtualenv (its dependency tree conflicts with the dev one), once per
directory, so that each example is checked with the variables it passes to the module. The
module alone is checked with its defaults. Every skip must be an inline
``#checkov:skip=CKV_...:reason`` beside its resource: a skip without a reason fails too.
"""

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# The module root on its own (its examples and test fixtures are separate targets), then
# each example, which loads the module from ../../ with its own inputs.
TARGETS: dict[str, list[str]] = {
    ".": ["--skip-path", "examples", "--skip-path", "tests", "--skip-path", "build"],
    "examples/basic": [],
    "examples/complete": [],
    "examples/local": [],
}
# checkov's placeholder when a skip comment carries no reason.
NO_REASON = "No comment provided"


@dataclass
class Report:
    directory: str
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def scan(checkov: str, directory: str, extra: list[str]) -> Report:
    command = [checkov, "--directory", directory, "--framework", "terraform"]
    # --skip-download: no call to Prisma Cloud for guidelines; the scan is offline.
    command += ["--skip-download", "--output", "json", *extra]
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    report = Report(directory)
    # checkov exits 1 when a check fails; anything else, or no JSON, is a crash.
    if result.returncode not in (0, 1) or not result.stdout.strip():
        report.problems.append(f"checkov exited {result.returncode}:\n{result.stderr[-4000:]}")
        return report
    decoded: Any = json.loads(result.stdout)
    for section in decoded if isinstance(decoded, list) else [decoded]:
        summary = section.get("summary", {})
        if summary.get("parsing_errors"):
            report.problems.append(f"{summary['parsing_errors']} parsing error(s)")
        results = section.get("results", {})
        report.passed += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            report.failed.append(
                f"{check['check_id']} {check['resource']} ({check['repo_file_path']}"
                f":{check['file_line_range'][0]}): {check['check_name']}"
            )
        for check in results.get("skipped_checks", []):
            reason = check["check_result"].get("suppress_comment", "").strip()
            report.skipped[(check["check_id"], check["resource"])] = reason
            if not reason or reason == NO_REASON:
                report.problems.append(f"skip of {check['check_id']} on {check['resource']}")
    return report


def main(checkov: str) -> int:
    version = subprocess.run([checkov, "--version"], capture_output=True, text=True, check=True)
    print(f"checkov {version.stdout.strip()}")
    reports = [scan(checkov, directory, extra) for directory, extra in TARGETS.items()]
    reasons: dict[tuple[str, str], set[str]] = {}
    for report in reports:
        print(
            f"  {report.directory}: {report.passed} passed, {len(report.failed)} failed,"
            f" {len(report.skipped)} skipped"
        )
        for (check_id, _resource), reason in report.skipped.items():
            reasons.setdefault((check_id, reason), set()).add(report.directory)
    print("Skips (inline, with their reasons):")
    for (check_id, reason), directories in sorted(reasons.items()):
        print(f"  {check_id} [{', '.join(sorted(directories))}]: {reason}")
    failures = [(r.directory, line) for r in reports for line in r.failed]
    problems = [(r.directory, line) for r in reports for line in r.problems]
    for directory, line in failures:
        print(f"FAILED in {directory}: {line}", file=sys.stderr)
    for directory, line in problems:
        print(f"ERROR in {directory}: {line}", file=sys.stderr)
    return 1 if failures or problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
