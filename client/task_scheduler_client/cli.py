"""`task-scheduler`: the scheduler's API from a shell.

    task-scheduler --url http://127.0.0.1:8080 schedule --in 30s --message '{"name": "Luke"}'
    task-scheduler status ID | cancel ID | list --status scheduled | reschedule ID --in 1h
    task-scheduler tail                      # the local stack's /events
    task-scheduler tail --topic-arn ARN      # on AWS: an ephemeral SQS queue on the topic
    task-scheduler redrive --queue-url URL   # re-schedule the dead-lettered tasks

Exit codes: 0 done; 1 the API refused the request (4xx), or AWS refused a call of `tail` or
`redrive`; 2 usage or configuration error;
3 the API failed (5xx) or answered something else than the promised JSON; 4 network error
(no answer); 5 `tail --count N` timed out before N events; 6 `redrive` left messages in the
queue; 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import FrameType
from typing import Any, TextIO

from . import output
from ._version import __version__
from .client import UNSET, TaskSchedulerClient
from .errors import (
    ApiError,
    AuthorizationError,
    AwsError,
    InvalidResponseError,
    NotFoundError,
    TaskSchedulerError,
    TransportError,
)
from .redrive import DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, Redrive, RedriveResult
from .tail import EventStream, TopicTail
from .times import in_from_now, parse_duration, parse_instant
from .types import TASK_STATUSES, Event, TaskPage

PROG = "task-scheduler"

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_SERVER_ERROR = 3
EXIT_NETWORK_ERROR = 4
EXIT_TAIL_INCOMPLETE = 5
EXIT_REDRIVE_LEFT = 6
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

ENV_URL = "TASK_SCHEDULER_URL"
ENV_AUTH = "TASK_SCHEDULER_AUTH"
ENV_OUTPUT = "TASK_SCHEDULER_OUTPUT"
ENV_TOPIC_ARN = "TASK_SCHEDULER_TOPIC_ARN"


class UsageError(Exception):
    """A bad argument found after parsing (exit 2)."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt is for SIGINT."""


def parse_message(text: str) -> Any:
    """`--message`: JSON when it parses (`{"a": 1}`, `42`, `null`, `"42"`), else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _timestamp(args: argparse.Namespace) -> datetime | str | None:
    """`--in DURATION` (from now) or `--at ISO 8601`, None when neither is given."""
    try:
        if args.in_ is not None:
            return in_from_now(parse_duration(args.in_))
        if args.at is not None:
            parse_instant(args.at)  # fail early and clearly; sent as typed
            return str(args.at)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return None


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after the command name."""
    default = argparse.SUPPRESS if suppress else None
    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--url",
        default=default,
        help=f"the API's base URL (env {ENV_URL}); e.g. the local "
        "stack's http://127.0.0.1:8080 or the module's api_endpoint output",
    )
    group.add_argument(
        "--auth",
        choices=("none", "iam"),
        default=default,
        help=f"iam: sign requests with SigV4 (the module's default AWS_IAM routes); env "
        f"{ENV_AUTH}; default none",
    )
    group.add_argument(
        "--region",
        default=default,
        help="region to sign for, or of the topic or queue (default: from the execute-api URL, "
        "the topic ARN or the queue URL, else AWS_DEFAULT_REGION or AWS_REGION)",
    )
    group.add_argument("--profile", default=default, help="AWS profile for credentials")
    group.add_argument(
        "--output",
        "-o",
        choices=("json", "table"),
        default=default,
        help=f"env {ENV_OUTPUT}; default: table on a terminal, JSON otherwise",
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        default=default,
        metavar="SECONDS",
        help="per HTTP request (default 30)",
    )


def _time_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    when = parser.add_mutually_exclusive_group(required=required)
    when.add_argument(
        "--in", dest="in_", metavar="DURATION", help="from now: 30s, 90m, 2h, 1d, 1h30m, 250ms"
    )
    when.add_argument(
        "--at", metavar="TIMESTAMP", help="ISO 8601 with an offset: 2030-08-21T04:29:00.951Z"
    )


MESSAGE_HELP = 'JSON (\'{"name": "Luke"}\', 42, null), else taken as plain text'


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Schedule, inspect, cancel and follow one-time tasks of "
        "terraform-aws-task-scheduler.",
        epilog=__doc__.split("\n\n")[-1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, parents=[common])

    schedule = command("schedule", "schedule a task (POST /schedule)")
    _time_options(schedule, required=True)
    schedule.add_argument("--message", "-m", required=True, help=MESSAGE_HELP)
    schedule.add_argument(
        "--id", help="caller-chosen id ([A-Za-z0-9_-], 1..64): retrying is then idempotent"
    )

    for name, help in (
        ("status", "a task's state, timestamps and message (GET /schedule/ID)"),
        ("cancel", "cancel a scheduled task (DELETE /schedule/ID)"),
    ):
        command(name, help).add_argument("id", metavar="ID")

    listing = command("list", "list tasks (GET /schedule); with --status, oldest timestamp first")
    listing.add_argument("--status", choices=TASK_STATUSES, help="only tasks in this state")
    listing.add_argument("--limit", type=int, help="page size, 1..100 (the API's default 25)")
    pages = listing.add_mutually_exclusive_group()
    pages.add_argument("--next", metavar="TOKEN", help="the page after the one that gave TOKEN")
    pages.add_argument("--all", action="store_true", help="every page")

    reschedule = command(
        "reschedule", "change the timestamp and/or message of a scheduled task (PATCH)"
    )
    reschedule.add_argument("id", metavar="ID")
    _time_options(reschedule, required=False)
    reschedule.add_argument("--message", "-m", help=MESSAGE_HELP)

    tail = command("tail", "print tasks as they are emitted, until Ctrl-C")
    source = tail.add_mutually_exclusive_group()
    source.add_argument(
        "--events-url", help="a Server-Sent Events feed (default: the local stack's URL/events)"
    )
    source.add_argument(
        "--topic-arn",
        help=f"on AWS: the module's sns_topic_arn output (env {ENV_TOPIC_ARN}); an SQS queue "
        "only this topic may send to is subscribed for the duration, then deleted",
    )
    tail.add_argument("--endpoint-url", help="AWS endpoint for SNS, SQS and STS (an emulator)")
    tail.add_argument("--count", type=int, metavar="N", help="stop after N events")
    tail.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after SECONDS")
    tail.add_argument("--id", help="only this task's emissions")

    redrive = command(
        "redrive",
        "re-schedule the tasks of the dead-letter queue (POST /schedule); a message is "
        "deleted only once the API answered 201 or 200",
    )
    redrive.add_argument(
        "--queue-url", required=True, help="the module's sqs_dead_letter_queue_url output"
    )
    redrive.add_argument(
        "--max",
        type=int,
        dest="max_messages",
        metavar="N",
        help="handle at most N messages (default: until the queue answers none)",
    )
    redrive.add_argument(
        "--dry-run",
        action="store_true",
        help="receive and print the tasks, post and delete nothing (no --url needed)",
    )
    redrive.add_argument(
        "--wait-seconds",
        type=int,
        default=DEFAULT_WAIT_SECONDS,
        metavar="S",
        help=f"long poll of each receive, 0..{MAX_WAIT_SECONDS} (default "
        f"{DEFAULT_WAIT_SECONDS}); the run ends at the first receive that gets nothing",
    )
    redrive.add_argument("--endpoint-url", help="AWS endpoint for SQS (an emulator)")
    return parser


class Cli:
    """One invocation: the parsed arguments, the streams, the client."""

    def __init__(self, args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> None:
        self.args, self.stdout, self.stderr = args, stdout, stderr
        self.url: str | None = getattr(args, "url", None) or os.environ.get(ENV_URL) or None
        self.auth: str = getattr(args, "auth", None) or os.environ.get(ENV_AUTH) or "none"
        self.region: str | None = getattr(args, "region", None)
        self.profile: str | None = getattr(args, "profile", None)
        default_output = "table" if stdout.isatty() else "json"
        self.output: str = (
            getattr(args, "output", None) or os.environ.get(ENV_OUTPUT) or default_output
        )
        self.request_timeout: float = getattr(args, "request_timeout", None) or 30.0
        if self.auth not in ("none", "iam"):
            raise UsageError(f"{ENV_AUTH} must be none or iam, not {self.auth!r}")
        if self.output not in ("json", "table"):
            raise UsageError(f"{ENV_OUTPUT} must be json or table, not {self.output!r}")

    def emit(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def client(self) -> TaskSchedulerClient:
        if not self.url:
            raise UsageError(f"no API URL: pass --url or set {ENV_URL}")
        try:
            return TaskSchedulerClient(
                self.url,
                auth="iam" if self.auth == "iam" else "none",
                region=self.region,
                profile=self.profile,
                timeout=self.request_timeout,
            )
        except ValueError as error:
            raise UsageError(str(error)) from None

    def show(self, value: Any, table: Callable[[Any], str]) -> None:
        self.emit(table(value) if self.output == "table" else output.to_json(value))

    def run(self) -> int:
        handler: Callable[[], int] = getattr(self, f"cmd_{self.args.command}")
        return handler()

    def cmd_schedule(self) -> int:
        timestamp = _timestamp(self.args)
        assert timestamp is not None  # argparse requires --in or --at
        response = self.client().schedule(
            timestamp, parse_message(self.args.message), id=self.args.id
        )
        self.show(response, output.schedule_table)
        return EXIT_OK

    def cmd_status(self) -> int:
        self.show(self.client().status(self.args.id), output.task_table)
        return EXIT_OK

    def cmd_cancel(self) -> int:
        self.show(self.client().cancel(self.args.id), output.task_table)
        return EXIT_OK

    def cmd_reschedule(self) -> int:
        timestamp = _timestamp(self.args)
        message = UNSET if self.args.message is None else parse_message(self.args.message)
        if timestamp is None and message is UNSET:
            raise UsageError("reschedule: give --in or --at, --message, or both")
        task = self.client().reschedule(self.args.id, timestamp=timestamp, message=message)
        self.show(task, output.task_table)
        return EXIT_OK

    def cmd_list(self) -> int:
        args, client = self.args, self.client()
        if args.limit is not None and not 1 <= args.limit <= 100:
            raise UsageError("--limit must be between 1 and 100")
        page: TaskPage
        if args.all:
            page = {"tasks": client.list_all(status=args.status, limit=args.limit), "next": None}
        else:
            page = client.list(status=args.status, limit=args.limit, next=args.next)
        if self.output == "json":
            self.emit(output.to_json(page))
            return EXIT_OK
        self.emit(output.tasks_table(page["tasks"]))
        if page["next"]:
            status = f" --status {args.status}" if args.status else ""
            self.note(f"More tasks: {PROG} list{status} --next {page['next']}")
        return EXIT_OK

    def cmd_tail(self) -> int:
        args = self.args
        if args.count is not None and args.count < 1:
            raise UsageError("--count must be at least 1")
        deadline = None if args.timeout is None else time.monotonic() + args.timeout
        topic_arn = args.topic_arn or (None if args.events_url else os.environ.get(ENV_TOPIC_ARN))
        if topic_arn:
            with TopicTail(
                topic_arn,
                profile=self.profile,
                region=self.region,
                endpoint_url=args.endpoint_url,
                log=self.note,
            ) as tail:
                self.note("Waiting for emissions (Ctrl-C to stop) ...")
                return self._follow(tail.events(deadline=deadline))
        events_url = args.events_url or (self.client().events_url if self.url else None)
        if not events_url:
            raise UsageError(
                f"tail needs --url (or {ENV_URL}) for the local stack's /events, "
                "--events-url, or --topic-arn on AWS"
            )
        with EventStream(events_url) as stream:
            self.note(f"Following {events_url} (Ctrl-C to stop) ...")
            return self._follow(stream.events(deadline=deadline))

    def cmd_redrive(self) -> int:
        args = self.args
        if args.max_messages is not None and args.max_messages < 1:
            raise UsageError("--max must be at least 1")
        if not 0 <= args.wait_seconds <= MAX_WAIT_SECONDS:
            raise UsageError(f"--wait-seconds must be from 0 to {MAX_WAIT_SECONDS}")
        api = None if args.dry_run and not self.url else self.client()
        runner = Redrive(
            args.queue_url,
            api,
            profile=self.profile,
            region=self.region,
            endpoint_url=args.endpoint_url,
            wait_seconds=args.wait_seconds,
            log=self.note,
        )

        def show(result: RedriveResult) -> None:
            if self.output == "json":
                self.emit(output.to_json(result.as_dict(), compact=True))
            else:
                self.emit(output.redrive_line(result))

        try:
            summary = runner.run(
                max_messages=args.max_messages, dry_run=args.dry_run, on_result=show
            )
        except BaseException:
            if runner.summary.results:
                self.note(output.redrive_summary(runner.summary))
            raise
        self.note(output.redrive_summary(summary))
        return EXIT_OK if summary.ok else EXIT_REDRIVE_LEFT

    def _follow(self, events: Iterator[Event]) -> int:
        wanted, received = self.args.count, 0
        for event in events:
            if self.args.id is not None and event.get("id") != self.args.id:
                continue
            if self.output == "json":
                self.emit(output.to_json(event, compact=True))
            else:
                self.emit(output.event_line(event))
            received += 1
            if wanted is not None and received >= wanted:
                return EXIT_OK
        if wanted is not None:
            self.note(f"Timed out after {received} of {wanted} events.")
            return EXIT_TAIL_INCOMPLETE
        return EXIT_OK


def _hint(cli: Cli | None, error: TaskSchedulerError) -> str | None:
    if isinstance(error, AuthorizationError):
        if cli is not None and cli.auth == "none":
            return "the route may require IAM authorization: pass --auth iam"
        return "check the credentials, and that the caller is granted invoke_policy_json"
    tailing = cli is not None and cli.args.command == "tail"
    redriving = cli is not None and cli.args.command == "redrive"
    if isinstance(error, AwsError) and redriving and "denied" in str(error).lower():
        return (
            "redrive needs sqs:ReceiveMessage, sqs:DeleteMessage and "
            "sqs:ChangeMessageVisibility on the queue (and kms:Decrypt on its customer key)"
        )
    if isinstance(error, NotFoundError) and tailing and not error.rules:
        return "the local stack serves /events; on AWS use --topic-arn"
    if isinstance(error, TransportError) and cli is not None and cli.url:
        return f"is the API reachable at {cli.url}? (`make run` serves http://127.0.0.1:8080)"
    return None


def _exit_code(error: TaskSchedulerError) -> int:
    if isinstance(error, ApiError):
        return EXIT_API_ERROR if 400 <= error.status < 500 else EXIT_SERVER_ERROR
    if isinstance(error, AwsError):
        return EXIT_API_ERROR
    if isinstance(error, InvalidResponseError):
        return EXIT_SERVER_ERROR
    if isinstance(error, TransportError):
        return EXIT_NETWORK_ERROR
    return EXIT_USAGE  # ConfigurationError


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, --version, usage errors
        return int(exit.code or 0) if not isinstance(exit.code, str) else EXIT_USAGE
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    cli: Cli | None = None
    try:
        cli = Cli(args, out, err)
        return cli.run()
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=err)
        return EXIT_USAGE
    except TaskSchedulerError as error:
        print(f"{PROG}: error: {error}", file=err)
        hint = _hint(cli, error)
        if hint:
            print(f"{PROG}: hint: {hint}", file=err)
        return _exit_code(error)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Terminated:
        return EXIT_TERMINATED
    except BrokenPipeError:  # e.g. `task-scheduler tail | head -1`
        if out is sys.stdout:  # no second error when Python flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
