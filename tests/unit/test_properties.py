"""Properties of the API over generated input: never a 5xx, and what it accepts round-trips.

Hypothesis generates bodies (arbitrary text, JSON of any shape, near-valid tasks) and
messages; the api function runs against moto, and accepted messages, as their slot entries hold
them, go through the same encoding the emit function publishes and a subscriber decodes.
"""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from task_scheduler.core.sns_message import build_sns_message
from task_scheduler.core.tasks import Task
from tests.unit.api_helpers import slot_entry

# Function-scoped fixtures (moto, the handler) are reused across examples on purpose: each
# example starts from what the API promises to handle, whatever state earlier ones left.
PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SOON = datetime.now(UTC) + timedelta(days=30)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # no offset: refused
    st.text(max_size=40),
    st.integers(),
    st.just(SOON.isoformat()),
)
bodies = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"timestamp": timestamps, "message": json_values},
        optional={"extra": json_values, "id": st.text(max_size=10)},
    ).map(json.dumps),
)


def decoded(task: Task) -> Any:
    """What a subscriber reads back from the SNS message the emit function publishes."""
    message = build_sns_message(task)
    encoding = message.attributes["message_encoding"]["StringValue"]
    return json.loads(message.body) if encoding == "json" else message.body


@PROPERTY
@given(body=bodies, content_type=st.sampled_from(["application/json", "text/plain", None]))
def test_no_body_gets_a_5xx_or_an_unstructured_answer(post_schedule, body, content_type):
    headers = {"content-type": content_type} if content_type else {}

    answer = post_schedule(raw=body, headers=headers)

    assert answer.status < 500
    if answer.status >= 400:
        assert isinstance(answer.body["message"], str)
        assert all({"field", "rule", "detail"} <= error.keys() for error in answer.body["errors"])
    else:
        assert answer.status in (200, 201)  # 200: a replay of a request with the same id


@PROPERTY
@given(message=json_values)
def test_every_accepted_message_is_emitted_identical(post_schedule, registry, slot_store, message):
    answer = post_schedule({"timestamp": SOON.isoformat(), "message": message})

    if answer.status != 201:  # refused values are refused with a reason, never mangled
        assert answer.status in (413, 422), answer.body
        return
    _, entry = slot_entry(registry, slot_store, answer.body["id"])
    task = Task(entry.id, entry.timestamp, entry.message)
    assert json.dumps(decoded(task)) == json.dumps(message)
