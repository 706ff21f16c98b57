"""Function configuration moto drops: ``LoggingConfig``, and ``TracingConfig`` updates.

moto ignores LoggingConfig on CreateFunction/UpdateFunctionConfiguration and never returns it,
so every plan wants to add ``aws_lambda_function.logging_config`` again; it also ignores
TracingConfig on update, so a ``tracing_config`` change never converges. This wraps
``moto.awslambda.models.LambdaFunction`` ``__init__``, ``update_configuration`` and
``get_configuration`` to keep both and return LoggingConfig with AWS's defaults (Text; "By
default, Lambda functions send logs to a default log group named /aws/lambda/<function name>",
https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html; INFO levels for JSON).
The handler log goes to that group, and JSON format sets
``AWS_LAMBDA_LOG_FORMAT``/``AWS_LAMBDA_LOG_LEVEL`` for the runtime (Powertools honours them),
as on AWS.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaFunction

_init = LambdaFunction.__init__
_update = LambdaFunction.update_configuration
_get = LambdaFunction.get_configuration


def _store(fn: LambdaFunction, requested: dict[str, Any] | None) -> None:
    config = {
        "LogFormat": "Text",
        "LogGroup": f"/aws/lambda/{fn.function_name}",
        **(requested or {}),
    }
    if config["LogFormat"] == "JSON":
        config = {"ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", **config}
    fn.logging_config = config  # type: ignore[attr-defined]
    fn.logs_group_name = config["LogGroup"]


def runtime_env(fn: LambdaFunction) -> dict[str, str]:
    """The variables AWS sets for the runtime from the logging config."""
    config: dict[str, str] = getattr(fn, "logging_config", {})
    if config.get("LogFormat") != "JSON":
        return {}
    return {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": config["ApplicationLogLevel"]}


def _init_keeping_config(
    self: LambdaFunction, account_id: str, spec: dict[str, Any], *args: Any, **kwargs: Any
) -> None:
    _init(self, account_id, spec, *args, **kwargs)
    _store(self, spec.get("LoggingConfig"))


def _update_keeping_config(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    if "LoggingConfig" in config_updates:
        _store(self, config_updates["LoggingConfig"])
    if "TracingConfig" in config_updates:
        self.tracing_config = config_updates["TracingConfig"]
    return _update(self, config_updates)


def _get_with_logging_config(self: LambdaFunction, on_create: bool = False) -> dict[str, Any]:
    return {**_get(self, on_create), "LoggingConfig": getattr(self, "logging_config", {})}


def patch() -> None:
    assert "LoggingConfig" not in _get.__code__.co_consts, (
        "moto now handles LoggingConfig: drop this patch"
    )
    setattr(LambdaFunction, "__init__", _init_keeping_config)  # noqa: B010
    setattr(LambdaFunction, "update_configuration", _update_keeping_config)  # noqa: B010
    setattr(LambdaFunction, "get_configuration", _get_with_logging_config)  # noqa: B010
