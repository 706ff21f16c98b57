"""Function settings read from the environment."""

import pytest
from pydantic import ValidationError

from task_scheduler.emit_settings import EmitSettings
from task_scheduler.settings import ApiSettings

ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:task-scheduler"


def test_api_settings_default_horizon_is_a_year(monkeypatch):
    monkeypatch.setenv("STATE_MACHINE_ARN", ARN)

    settings = ApiSettings.from_env()

    assert (settings.state_machine_arn, settings.max_horizon_seconds) == (ARN, 31_536_000)
    assert settings.emission_lead_seconds == 1


@pytest.mark.parametrize(
    ("value", "valid"), [("0", True), ("60", True), ("-1", False), ("61", False)]
)
def test_api_settings_read_the_emission_lead(monkeypatch, value, valid):
    monkeypatch.setenv("STATE_MACHINE_ARN", ARN)
    monkeypatch.setenv("EMISSION_LEAD_SECONDS", value)

    if valid:
        assert ApiSettings.from_env().emission_lead_seconds == int(value)
    else:
        with pytest.raises(ValidationError):
            ApiSettings.from_env()


@pytest.mark.parametrize(("value", "seconds"), [("1", 1), ("3600", 3600), ("31536000", 31536000)])
def test_api_settings_read_the_horizon(monkeypatch, value, seconds):
    monkeypatch.setenv("STATE_MACHINE_ARN", ARN)
    monkeypatch.setenv("MAX_HORIZON_SECONDS", value)

    assert ApiSettings.from_env().max_horizon_seconds == seconds


@pytest.mark.parametrize("value", ["0", "-5", "31536001", "one hour", ""])
def test_api_settings_reject_a_bad_horizon(monkeypatch, value):
    monkeypatch.setenv("STATE_MACHINE_ARN", ARN)
    monkeypatch.setenv("MAX_HORIZON_SECONDS", value)

    with pytest.raises(ValidationError):
        ApiSettings.from_env()


@pytest.mark.parametrize("settings", [ApiSettings, EmitSettings])
def test_required_settings(monkeypatch, settings):
    monkeypatch.delenv("STATE_MACHINE_ARN", raising=False)
    monkeypatch.delenv("TOPIC_ARN", raising=False)

    with pytest.raises(ValueError, match=r"(?i)arn"):  # pydantic's ValidationError is one
        settings.from_env()


def test_emit_settings(monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:tasks")

    assert EmitSettings.from_env().topic_arn == "arn:aws:sns:eu-west-1:123456789012:tasks"
