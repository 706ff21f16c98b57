"""Time slots: units, slots, shards, releases, the executions that carry them. Pure."""

import itertools
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from task_scheduler.core.decisions import MAX_SEGMENT_SECONDS
from task_scheduler.core.slots import (
    DEFAULT_SHARD_UNITS,
    MAX_SHARD_UNITS,
    UNIT_BYTES,
    Placement,
    ShardExecution,
    SoloExecution,
    parse_execution_input,
    shard_execution,
    shard_of,
    slot_of,
    slot_release,
    units,
)
from task_scheduler.core.tasks import TASK_ID_PATTERN, execution_name
from task_scheduler.core.timing import EARLIEST_RELEASE

NOW = datetime(2030, 1, 1, 12, 0, 0, 400_000, tzinfo=UTC)
SLOT = 1893499200  # 2030-01-01T12:00:00Z
DAY = 24 * 3600
SEGMENT = 364 * DAY
LEAD = 1


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_the_defaults():
    assert UNIT_BYTES == 16 * 1024
    assert (DEFAULT_SHARD_UNITS, MAX_SHARD_UNITS) == (500, 1000)
    assert MAX_SEGMENT_SECONDS == SEGMENT


@pytest.mark.parametrize(
    ("size", "drawn"),
    [(0, 1), (1, 1), (UNIT_BYTES, 1), (UNIT_BYTES + 1, 2), (240 * 1024, 15), (256 * 1024, 16)],
)
def test_a_message_draws_one_unit_per_16_kib_started(size, drawn):
    assert units(size) == drawn


@pytest.mark.parametrize(
    ("timestamp", "slot"),
    [
        (datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC), SLOT),
        (datetime(2030, 1, 1, 12, 0, 0, 999_000, tzinfo=UTC), SLOT),
        (datetime(2030, 1, 1, 12, 0, 1, tzinfo=UTC), SLOT + 1),
        (datetime(1970, 1, 1, tzinfo=UTC), 0),
        # Before 1970, the second is floored too: a negative slot.
        (datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC), -1),
        (datetime(1, 1, 1, tzinfo=UTC), -62135596800),
    ],
)
def test_a_slot_is_the_whole_second_of_the_timestamp(timestamp, slot):
    assert slot_of(timestamp) == slot


@pytest.mark.parametrize(
    ("ordinal", "shard_units", "shard"),
    [(1, 500, 0), (500, 500, 0), (501, 500, 1), (1000, 500, 1), (1001, 500, 2), (7, 1, 6)],
)
def test_an_ordinal_names_its_shard(ordinal, shard_units, shard):
    assert shard_of(ordinal, shard_units) == shard


@pytest.mark.parametrize(
    ("slot", "lead", "release"),
    [
        (SLOT, 1, at(SLOT - 1)),
        (SLOT, 0, at(SLOT)),
        (SLOT, 60, at(SLOT - 60)),
        (0, 1, EARLIEST_RELEASE),  # never before 1970
        (-62135596800, 1, EARLIEST_RELEASE),
    ],
)
def test_a_slot_is_released_a_whole_second_at_least_the_lead_before(slot, lead, release):
    assert slot_release(slot, lead) == release


def execution_at(now: datetime, slot: int, shard: int = 0) -> ShardExecution:
    return shard_execution(
        Placement(slot, shard, 1), now=now, lead_seconds=LEAD, segment_seconds=SEGMENT
    )


@pytest.mark.parametrize(
    ("ahead", "hop"),
    [
        (-DAY, 0),  # overdue: released at once
        (0, 0),
        (3600, 0),
        (SEGMENT, 0),  # exactly one segment away: the shard's own execution reaches it
        (SEGMENT + 1, 1),
        (2 * SEGMENT, 1),
        (2 * SEGMENT + 1, 2),
        (3000 * DAY, 8),
        (3650 * DAY, 10),  # the ten-year horizon
    ],
)
def test_a_joiner_starts_the_lowest_hop_that_one_segment_reaches(ahead, hop):
    release = NOW + timedelta(seconds=ahead)
    slot = slot_of(release) + LEAD  # released `ahead` seconds from now (or less: whole second)
    release = slot_release(slot, LEAD)

    execution = execution_at(NOW, slot)

    assert execution.hop == hop
    assert execution.release_at == release - timedelta(seconds=hop * SEGMENT)
    # Its wait fits one execution, and is not shorter than it needs be.
    assert execution.release_at - NOW <= timedelta(seconds=SEGMENT)
    if hop:
        assert execution.release_at - NOW > timedelta(0)


def test_ten_years_ahead_the_hops_lead_to_the_shard():
    slot = slot_of(NOW + timedelta(days=3650))
    execution = execution_at(NOW, slot, shard=3)
    assert (execution.name, execution.hop) == (f"slot-{slot}-3-10", 10)

    chain = [execution]
    while chain[-1].hop:
        chain.append(chain[-1].previous_hop(SEGMENT))

    assert [e.hop for e in chain] == list(range(10, -1, -1))
    assert [e.name for e in chain][-2:] == [f"slot-{slot}-3-1", f"slot-{slot}-3"]
    assert chain[-1].release_at == slot_release(slot, LEAD)
    for earlier, later in itertools.pairwise(chain):
        assert later.release_at - earlier.release_at == timedelta(seconds=SEGMENT)
    # Each hop is what a joiner would start when the one before it releases.
    for earlier, later in itertools.pairwise(chain):
        assert execution_at(earlier.release_at, slot, shard=3) == later


@given(st.integers(min_value=0, max_value=SEGMENT - 1))
def test_every_joiner_in_a_window_starts_the_same_execution(offset):
    # The window of hop 3 of a slot: from its release less a segment to its release.
    slot = slot_of(NOW + timedelta(days=1200))
    first = execution_at(NOW, slot)
    window_start = first.release_at - timedelta(seconds=SEGMENT)

    joiner = execution_at(window_start + timedelta(seconds=offset), slot)

    assert joiner == first
    assert joiner.execution_input() == first.execution_input()


def test_a_shard_execution_input_is_compact_and_holds_no_message():
    execution = ShardExecution(SLOT, 2, 1, at(SLOT - 1 - SEGMENT))

    assert execution.name == f"slot-{SLOT}-2-1"
    assert execution.execution_input() == (
        f'{{"slot":{SLOT},"shard":2,"hop":1,"release_at":"2029-01-02T11:59:59Z"}}'
    )
    assert ShardExecution(SLOT, 2, 0, at(SLOT - 1)).name == f"slot-{SLOT}-2"


def test_a_solo_execution_names_the_version_and_its_ordinal():
    solo = SoloExecution("t-1", 3, Placement(SLOT, 1, 712), at(SLOT - 1))

    assert solo.name == "t-1_3_s712"
    assert json.loads(solo.execution_input()) == {
        "id": "t-1",
        "version": 3,
        "slot": SLOT,
        "shard": 1,
        "ordinal": 712,
        "release_at": "2030-01-01T11:59:59Z",
    }


task_ids = st.from_regex(TASK_ID_PATTERN, fullmatch=True)
counts = st.integers(min_value=1, max_value=10**6)
slots = st.integers(min_value=-62135596800, max_value=253402300799)  # years 1 to 9999


@given(
    task_id=task_ids,
    version=counts,
    segment=counts,
    ordinal=counts,
    slot=slots,
    shard=st.integers(min_value=0, max_value=10**6),
    hop=st.integers(min_value=0, max_value=20),
)
def test_shard_names_never_collide_with_task_execution_names(
    task_id, version, segment, ordinal, slot, shard, hop
):
    shard_name = ShardExecution(slot, shard, hop, NOW).name
    solo_name = SoloExecution(task_id, version, Placement(slot, shard, ordinal), NOW).name
    task_name = execution_name(task_id, version, segment)

    assert "_" not in shard_name
    assert shard_name not in (solo_name, task_name)
    assert solo_name != task_name  # `s<ordinal>` is no segment number
    assert re.fullmatch(r"slot--?\d+-\d+(-\d+)?", shard_name)


def test_names_fit_step_functions_80_characters():
    far = ShardExecution(253402300799, MAX_SHARD_UNITS * 100, 10, NOW)
    solo = SoloExecution("x" * 64, 9999, Placement(253402300799, 999, 999_999), NOW)

    assert len(far.name) <= 80
    assert len(solo.name) <= 80


@pytest.mark.parametrize(
    "execution",
    [
        ShardExecution(SLOT, 0, 0, at(SLOT - 1)),
        ShardExecution(SLOT, 7, 4, at(SLOT - 1 - 4 * SEGMENT)),
        ShardExecution(-62135596800, 0, 0, EARLIEST_RELEASE),  # before 1970
        ShardExecution(-1, 0, 0, EARLIEST_RELEASE),
        SoloExecution("t", 2, Placement(SLOT, 1, 501), at(SLOT - 1)),
        SoloExecution("t", 1, Placement(-1, 0, 1), EARLIEST_RELEASE),
    ],
)
def test_an_execution_input_round_trips(execution):
    assert parse_execution_input(json.loads(execution.execution_input())) == execution


SHARD_INPUT = {"slot": SLOT, "shard": 0, "hop": 0, "release_at": "2030-01-01T11:59:59Z"}
SOLO_INPUT = {
    "id": "t",
    "version": 1,
    "slot": SLOT,
    "shard": 0,
    "ordinal": 1,
    "release_at": "2030-01-01T11:59:59Z",
}


@pytest.mark.parametrize(
    ("document", "match"),
    [
        (None, "execution input object"),
        ([SHARD_INPUT], "execution input object"),
        ("slot", "execution input object"),
        ({}, "a slot and a shard"),
        ({**SHARD_INPUT, "slot": None}, "a slot and a shard"),
        ({**SHARD_INPUT, "slot": "1893499200"}, "a slot and a shard"),
        ({**SHARD_INPUT, "slot": 1893499200.0}, "a slot and a shard"),
        ({**SHARD_INPUT, "slot": True}, "a slot and a shard"),
        ({**SHARD_INPUT, "shard": -1}, "a slot and a shard"),
        ({**SHARD_INPUT, "shard": False}, "a slot and a shard"),
        ({k: v for k, v in SHARD_INPUT.items() if k != "shard"}, "a slot and a shard"),
        ({k: v for k, v in SHARD_INPUT.items() if k != "hop"}, "a hop"),
        ({**SHARD_INPUT, "hop": -1}, "a hop"),
        ({**SHARD_INPUT, "hop": "1"}, "a hop"),
        ({**SOLO_INPUT, "id": None}, "task id"),
        ({**SOLO_INPUT, "id": "has space"}, "task id"),
        ({**SOLO_INPUT, "version": 0}, "a version and an ordinal"),
        ({**SOLO_INPUT, "ordinal": 0}, "a version and an ordinal"),
        ({k: v for k, v in SOLO_INPUT.items() if k != "ordinal"}, "a version and an ordinal"),
    ],
)
def test_an_input_that_is_neither_is_refused(document, match):
    with pytest.raises(ValueError, match=match):
        parse_execution_input(document)


@pytest.mark.parametrize("release_at", [None, "", "tomorrow", 1893499199])
def test_an_input_without_a_valid_release_is_refused(release_at):
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_execution_input({**SHARD_INPUT, "release_at": release_at})
