"""Tables and JSON of the command line."""

from __future__ import annotations

import json

from task_scheduler_client import output

TASK = {
    "id": "order-42",
    "status": "scheduled",
    "version": 2,
    "timestamp": "2030-08-21T04:29:00.951Z",
    "created_at": "2026-11-27T10:00:00.000Z",
    "updated_at": "2026-11-27T10:05:00.000Z",
    "emitted_at": None,
    "message": {"name": "Luke", "ok": True},
}


def test_json_is_the_api_body_unchanged_and_unicode_stays_readable() -> None:
    task = {**TASK, "message": "héllo ✓"}
    assert json.loads(output.to_json(task)) == task
    assert "héllo ✓" in output.to_json(task)
    assert output.to_json(task).count("\n") > 5  # pretty for people and diffs
    line = output.to_json(task, compact=True)
    assert "\n" not in line
    assert json.loads(line) == task


def test_task_table_lists_each_field_aligned_with_the_message_last_as_json() -> None:
    assert output.task_table(TASK).splitlines() == [
        "id          order-42",
        "status      scheduled",
        "version     2",
        "timestamp   2030-08-21T04:29:00.951Z",
        "created_at  2026-11-27T10:00:00.000Z",
        "updated_at  2026-11-27T10:05:00.000Z",
        "emitted_at  -",
        'message     {"name":"Luke","ok":true}',
    ]


def test_message_cells_keep_json_types_apart() -> None:
    assert output.message_cell("42") == '"42"'
    assert output.message_cell(42) == "42"
    assert output.message_cell(None) == "null"
    assert output.message_cell("") == '""'


def test_fields_the_contract_may_add_later_are_shown_not_dropped() -> None:
    table = output.task_table({**TASK, "segment": 3})
    assert "segment     3" in table.splitlines()[-2]


def test_tasks_table_has_a_header_and_one_row_per_task_without_messages() -> None:
    emitted = {
        **TASK,
        "id": "b",
        "status": "emitted",
        "emitted_at": "2030-08-21T04:29:00.960Z",
    }
    lines = output.tasks_table([TASK, emitted]).splitlines()
    assert lines[0].split() == ["ID", "STATUS", "VERSION", "TIMESTAMP", "EMITTED_AT"]
    assert lines[1].split() == ["order-42", "scheduled", "2", "2030-08-21T04:29:00.951Z", "-"]
    assert lines[2].split()[:2] == ["b", "emitted"]
    # Columns line up: every row's status starts where the header's does.
    column = lines[0].index("STATUS")
    assert all(line[column:].startswith(("STATUS", "scheduled", "emitted")) for line in lines)
    assert "Luke" not in "\n".join(lines)


def test_an_empty_list_says_so() -> None:
    assert output.tasks_table([]) == "No tasks."


def test_schedule_table() -> None:
    response = {
        "message": "Scheduled task at 2030-08-21T04:29:00.951Z",
        "id": "abc",
        "timestamp": "2030-08-21T04:29:00.951Z",
        "fires_immediately": False,
    }
    assert output.schedule_table(response).splitlines() == [
        "id                 abc",
        "timestamp          2030-08-21T04:29:00.951Z",
        "fires_immediately  false",
        "message            Scheduled task at 2030-08-21T04:29:00.951Z",
    ]


def test_event_line() -> None:
    event = {
        "id": "abc",
        "timestamp": "2030-08-21T04:29:00.951Z",
        "emitted_at": "2030-08-21T04:29:00.955Z",
        "message": {"name": "Luke"},
    }
    assert output.event_line(event) == (
        '2030-08-21T04:29:00.955Z  abc  scheduled 2030-08-21T04:29:00.951Z  {"name":"Luke"}'
    )
