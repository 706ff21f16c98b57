"""Function settings read from the environment."""

import pytest
from pydantic import ValidationError

from task_scheduler.api.settings import ApiSettings
from task_scheduler.emit.settings import EmitSettings

ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:task-scheduler"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:tasks"
TABLE = "task-scheduler-tasks"
SLOTS = "task-scheduler-slots"
QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/task-scheduler-dead-letter"
SEGMENT = 364 * 24 * 3600


@pytest.fixture
def api_env(monkeypatch):
    monkeypatch.setenv("STATE_MACHINE_ARN", ARN)
    monkeypatch.setenv("TASKS_TABLE_NAME", TABLE)
    monkeypatch.setenv("SLOTS_TABLE_NAME", SLOTS)


@pytest.fixture
def emit_env(monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", TOPIC)
    monkeypatch.setenv("TASKS_TABLE_NAME", TABLE)
    monkeypatch.setenv("SLOTS_TABLE_NAME", SLOTS)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", QUEUE)


def test_api_settings_defaults(api_env):
    settings = ApiSettings.from_env()

    assert (settings.state_machine_arn, settings.tasks_table_name) == (ARN, TABLE)
    assert settings.slots_table_name == SLOTS
    assert settings.shard_units == 500  # 8 MiB of message per shard
    assert settings.max_horizon_seconds == 31_536_000  # a year
    assert settings.emission_lead_seconds == 1
    assert settings.execution_segment_seconds == SEGMENT


@pytest.mark.parametrize(
    ("value", "valid"), [("0", True), ("60", True), ("-1", False), ("61", False)]
)
@pytest.mark.parametrize("settings", [ApiSettings, EmitSettings])
def test_settings_read_the_emission_lead(api_env, emit_env, monkeypatch, settings, value, valid):
    monkeypatch.setenv("EMISSION_LEAD_SECONDS", value)

    if valid:
        assert settings.from_env().emission_lead_seconds == int(value)
    else:
        with pytest.raises(ValueError, match="EMISSION_LEAD_SECONDS"):
            settings.from_env()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1), ("3600", 3600), ("31536000", 31536000), ("315360000", 315360000)],
)
def test_api_settings_read_the_horizon(api_env, monkeypatch, value, seconds):
    monkeypatch.setenv("MAX_HORIZON_SECONDS", value)

    assert ApiSettings.from_env().max_horizon_seconds == seconds


@pytest.mark.parametrize("value", ["0", "-5", "315360001", "one hour", ""])
def test_api_settings_reject_a_bad_horizon(api_env, monkeypatch, value):
    monkeypatch.setenv("MAX_HORIZON_SECONDS", value)

    with pytest.raises(ValidationError):
        ApiSettings.from_env()


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("1", True),
        (str(SEGMENT), True),
        ("0", False),
        (str(SEGMENT + 1), False),
        ("1e3", False),
        ("", False),
    ],
)
@pytest.mark.parametrize("settings", [ApiSettings, EmitSettings])
def test_settings_read_the_segment(api_env, emit_env, monkeypatch, settings, value, valid):
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", value)

    if valid:
        assert settings.from_env().execution_segment_seconds == int(value)
    else:
        with pytest.raises(ValueError, match="EXECUTION_SEGMENT_SECONDS"):
            settings.from_env()


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        (ApiSettings, "STATE_MACHINE_ARN"),
        (ApiSettings, "TASKS_TABLE_NAME"),
        (ApiSettings, "SLOTS_TABLE_NAME"),
        (EmitSettings, "TOPIC_ARN"),
        (EmitSettings, "TASKS_TABLE_NAME"),
        (EmitSettings, "SLOTS_TABLE_NAME"),
        (EmitSettings, "DEAD_LETTER_QUEUE_URL"),
    ],
)
@pytest.mark.parametrize("unset", [True, False], ids=["unset", "empty"])
def test_required_settings(api_env, emit_env, monkeypatch, settings, variable, unset):
    if unset:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, "")

    with pytest.raises(ValueError, match=variable):  # pydantic's ValidationError is one
        settings.from_env()


@pytest.mark.parametrize(
    ("value", "valid"),
    [("1", True), ("500", True), ("1000", True), ("0", False), ("1001", False), ("ten", False)],
)
@pytest.mark.parametrize("settings", [ApiSettings, EmitSettings])
def test_settings_read_the_shard_size(api_env, emit_env, monkeypatch, settings, value, valid):
    monkeypatch.setenv("SLOT_SHARD_UNITS", value)

    if valid:
        assert settings.from_env().shard_units == int(value)
    else:
        with pytest.raises(ValueError, match="SLOT_SHARD_UNITS"):
            settings.from_env()


def test_emit_settings(emit_env):
    assert EmitSettings.from_env() == EmitSettings(
        topic_arn=TOPIC,
        tasks_table_name=TABLE,
        slots_table_name=SLOTS,
        dead_letter_queue_url=QUEUE,
        emission_lead_seconds=1,
        execution_segment_seconds=SEGMENT,
        shard_units=500,
        publication_log=True,
    )


@pytest.mark.parametrize(
    ("value", "logged"),
    [(None, True), ("true", True), ("false", False)],
    ids=["unset", "true", "false"],
)
def test_emit_settings_read_the_publication_log(emit_env, monkeypatch, value, logged):
    # Off: a retried shard invocation relies on its claims alone.
    if value is None:
        monkeypatch.delenv("PUBLICATION_LOG", raising=False)
    else:
        monkeypatch.setenv("PUBLICATION_LOG", value)

    assert EmitSettings.from_env().publication_log is logged


def test_the_idempotency_table_is_no_setting_any_more(api_env, emit_env, monkeypatch):
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "task-scheduler-idempotency")

    assert not hasattr(EmitSettings.from_env(), "idempotency_table_name")
    assert not hasattr(ApiSettings.from_env(), "idempotency_table_name")
