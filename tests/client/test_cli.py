"""The `task-scheduler` command line against the fake API: arguments, output, exit codes."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler_client import __version__
from task_scheduler_client.cli import main, parse_message

from .fake_api import FakeApi


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def url(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TASK_SCHEDULER_URL", api.url)
    return api.url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"name": "Luke"}', {"name": "Luke"}),
        ("42", 42),
        ("null", None),
        ("true", True),
        ('"42"', "42"),
        ("[1, 2]", [1, 2]),
        ("hello world", "hello world"),
        ("", ""),
        ("{not json", "{not json"),
    ],
)
def test_messages_are_json_else_plain_text(text: str, message: object) -> None:
    assert parse_message(text) == message


@pytest.mark.usefixtures("url")
def test_schedule_in_a_relative_time_prints_json_when_not_a_terminal(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    before = datetime.now(UTC)
    code, out, err = run(capsys, "schedule", "--in", "30s", "--message", '{"name": "Luke"}')
    assert (code, err) == (0, "")
    sent = api.last.json
    assert sent["message"] == {"name": "Luke"}
    at = datetime.fromisoformat(sent["timestamp"])
    assert timedelta(seconds=30) <= at - before < timedelta(seconds=32)
    assert json.loads(out) == {
        "message": f"Scheduled task at {api.tasks['generated-1']['timestamp']}",
        "id": "generated-1",
        "timestamp": api.tasks["generated-1"]["timestamp"],
        "fires_immediately": False,
    }


@pytest.mark.usefixtures("url")
def test_schedule_at_an_instant_with_an_id_and_a_text_message(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "schedule", "--at", "2030-08-21T06:29:00.951+02:00", "-m", "hi", "--id", "o-1"
    )
    assert code == 0
    assert api.last.json == {
        "timestamp": "2030-08-21T06:29:00.951+02:00",
        "message": "hi",
        "id": "o-1",
    }
    assert json.loads(out)["id"] == "o-1"


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["schedule", "--message", "x"], "one of the arguments --in --at is required"),
        (["schedule", "--in", "30s", "--at", "2030-01-01T00:00:00Z", "-m", "x"], "not allowed"),
        (["schedule", "--in", "30", "-m", "x"], "invalid duration '30'"),
        (["schedule", "--at", "2030-08-21T04:29:00", "-m", "x"], "no UTC offset"),
        (["schedule", "--in", "1m"], "the following arguments are required: --message"),
        (["reschedule", "t1"], "give --in or --at, --message, or both"),
        (["list", "--limit", "0"], "--limit must be between 1 and 100"),
        (["list", "--status", "done"], "invalid choice: 'done'"),
        (["list", "--all", "--next", "x"], "not allowed with argument"),
        (["tail", "--count", "0"], "--count must be at least 1"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
@pytest.mark.usefixtures("url")
def test_usage_errors_exit_2_and_say_why(
    api: FakeApi, capsys: pytest.CaptureFixture[str], argv: list[str], complaint: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert complaint in err
    assert api.requests == []


def test_the_url_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "status", "t1")
    assert code == 2
    assert "no API URL: pass --url or set TASK_SCHEDULER_URL" in err
    code, _, err = run(capsys, "--url", "localhost:8080", "status", "t1")
    assert (code, "invalid API URL" in err) == (2, True)


def test_global_options_go_before_or_after_the_command(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add("t1")
    for argv in (
        ["--url", api.url, "--output", "table", "status", "t1"],
        ["status", "t1", "--url", api.url, "-o", "table"],
    ):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        assert out.splitlines()[0] == "id          t1"


@pytest.mark.usefixtures("url")
def test_status_table_and_json(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    task = api.add("t1", message={"name": "Luke"}, timestamp="2030-08-21T04:29:00.951Z")
    code, out, _ = run(capsys, "status", "t1")
    assert code == 0
    assert json.loads(out) == task
    code, out, _ = run(capsys, "status", "t1", "--output", "table")
    assert out.splitlines()[1] == "status      scheduled"
    assert out.splitlines()[-1] == 'message     {"name":"Luke"}'


@pytest.mark.usefixtures("url")
def test_the_output_format_follows_the_environment(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    api.add("t1")
    monkeypatch.setenv("TASK_SCHEDULER_OUTPUT", "table")
    assert run(capsys, "status", "t1")[1].startswith("id          t1")
    assert run(capsys, "status", "t1", "-o", "json")[1].startswith("{")
    monkeypatch.setenv("TASK_SCHEDULER_OUTPUT", "yaml")
    code, _, err = run(capsys, "status", "t1")
    assert (code, "TASK_SCHEDULER_OUTPUT must be json or table" in err) == (2, True)


def test_a_terminal_gets_a_table(api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    api.add("t1")
    out, err = Terminal(), io.StringIO()
    assert main(["--url", api.url, "status", "t1"], stdout=out, stderr=err) == 0
    assert out.getvalue().startswith("id          t1")


@pytest.mark.usefixtures("url")
def test_cancel_reschedule_and_their_errors(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.add("t1", timestamp="2030-01-01T00:00:00.000Z")
    code, out, _ = run(capsys, "reschedule", "t1", "--at", "2031-01-01T00:00:00Z", "-m", "null")
    assert code == 0
    assert api.last.json == {"timestamp": "2031-01-01T00:00:00Z", "message": None}
    assert json.loads(out)["version"] == 2
    run(capsys, "reschedule", "t1", "--message", "plain")
    assert api.last.json == {"message": "plain"}
    run(capsys, "reschedule", "t1", "--in", "1d")
    assert set(api.last.json) == {"timestamp"}

    code, out, _ = run(capsys, "cancel", "t1")
    assert (code, api.last.method, json.loads(out)["status"]) == (0, "DELETE", "cancelled")
    code, out, err = run(capsys, "reschedule", "t1", "--in", "1h")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "task-scheduler: error: HTTP 409: Invalid request: not_scheduled",
        "  id: not_scheduled: task t1 is cancelled",
    ]
    code, _, err = run(capsys, "status", "missing")
    assert code == 1
    assert "HTTP 404" in err
    assert "not_found: no task missing" in err


@pytest.mark.usefixtures("url")
def test_list_one_page_in_json_and_a_table_with_the_next_command(
    api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(3):
        api.add(f"t{i}", timestamp=f"2030-01-0{i + 1}T00:00:00.000Z")
    code, out, err = run(capsys, "list", "--status", "scheduled", "--limit", "2")
    page = json.loads(out)
    assert (code, err) == (0, "")
    assert [task["id"] for task in page["tasks"]] == ["t0", "t1"]
    assert page["next"]
    assert api.last.query == {"status": ["scheduled"], "limit": ["2"]}

    code, out, err = run(capsys, "list", "--status", "scheduled", "--limit", "2", "-o", "table")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["ID", "t0", "t1"]
    hint = f"More tasks: task-scheduler list --status scheduled --next {page['next']}"
    assert err.strip() == hint
    code, out, _ = run(capsys, "list", "--next", page["next"], "--limit", "2")
    assert [task["id"] for task in json.loads(out)["tasks"]] == ["t2"]


@pytest.mark.usefixtures("url")
def test_list_all_follows_every_page(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(5):
        api.add(f"t{i}", timestamp=f"2030-01-0{i + 1}T00:00:00.000Z")
    code, out, _ = run(capsys, "list", "--all", "--limit", "2")
    assert code == 0
    assert json.loads(out) == {
        "tasks": [
            {k: v for k, v in api.tasks[f"t{i}"].items() if k != "message"} for i in range(5)
        ],
        "next": None,
    }
    assert len(api.requests) == 3
    code, out, _ = run(capsys, "list", "--status", "failed", "-o", "table")
    assert out.strip() == "No tasks."


@pytest.mark.parametrize(
    ("status", "exit_code"), [(400, 1), (403, 1), (409, 1), (422, 1), (502, 3), (503, 3)]
)
@pytest.mark.usefixtures("url")
def test_exit_codes_of_api_errors(
    api: FakeApi, capsys: pytest.CaptureFixture[str], status: int, exit_code: int
) -> None:
    api.respond_next(status, {"message": "nope", "errors": []})
    code, out, err = run(capsys, "status", "t1")
    assert (code, out) == (exit_code, "")
    assert err.startswith(f"task-scheduler: error: HTTP {status}: nope")


@pytest.mark.usefixtures("url")
def test_a_403_hints_at_iam_auth(api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    api.respond_next(403, {"message": "Forbidden"})
    _, _, err = run(capsys, "list")
    assert err.splitlines() == [
        "task-scheduler: error: HTTP 403: Forbidden",
        "task-scheduler: hint: the route may require IAM authorization: pass --auth iam",
    ]


@pytest.mark.usefixtures("url", "credentials")
def test_iam_auth_from_the_environment_signs(
    api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASK_SCHEDULER_AUTH", "iam")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert run(capsys, "list")[0] == 0
    assert "/eu-west-1/execute-api/aws4_request" in api.last.headers["authorization"]
    assert run(capsys, "list", "--auth", "none")[0] == 0
    assert "authorization" not in api.last.headers
    api.respond_next(403, {"message": "Forbidden"})
    _, _, err = run(capsys, "list", "--region", "us-east-1")
    assert "caller is granted invoke_policy_json" in err


@pytest.mark.usefixtures("url")
def test_iam_auth_without_credentials_is_a_configuration_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "--auth", "iam", "--region", "eu-west-1", "list")
    assert code == 2
    assert "no AWS credentials found" in err
    code, _, err = run(capsys, "--auth", "iam", "list")
    assert (code, "no region to sign for" in err) == (2, True)


def test_network_errors_exit_4_with_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out, err = run(capsys, "--url", f"http://127.0.0.1:{port}", "status", "t1")
    assert (code, out) == (4, "")
    assert f"task-scheduler: error: GET http://127.0.0.1:{port}/schedule/t1:" in err
    assert "hint: is the API reachable" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("schedule", "status", "cancel", "list", "reschedule", "tail"):
        assert command in out
    assert "Exit codes:" in out
    code, out, _ = run(capsys, "--version")
    assert (code, out.strip()) == (0, f"task-scheduler {__version__}")


def test_the_console_script_and_module_run(api: FakeApi) -> None:
    api.add("t1")
    env = {**os.environ, "TASK_SCHEDULER_URL": api.url}
    script = os.path.join(os.path.dirname(sys.executable), "task-scheduler")
    for command in ([script], [sys.executable, "-m", "task_scheduler_client"]):
        result = subprocess.run(
            [*command, "status", "t1"], capture_output=True, text=True, env=env, check=False
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["id"] == "t1"


@pytest.mark.usefixtures("url")
def test_an_unknown_profile_is_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--auth", "iam", "--profile", "nope", "list")
    assert code == 2
    assert "The config profile (nope) could not be found" in err
    code, _, err = run(
        capsys, "tail", "--topic-arn", "arn:aws:sns:eu-west-1:123456789012:t", "--profile", "nope"
    )
    assert code == 2
    assert "The config profile (nope) could not be found" in err
