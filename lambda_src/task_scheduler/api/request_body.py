"""The request body gate: only JSON objects that Step Functions and SNS can carry get through."""

import json
import math
from typing import Any

from task_scheduler.api.errors import InvalidBody, TooLarge
from task_scheduler.api.models import ErrorDetail

# Far above what fits the 256 KiB payload limits, even JSON-escaped or pretty-printed, yet it
# spares parsing and validating the 10 MB that API Gateway lets through.
MAX_BODY_CHARS = 1024 * 1024
EXPECTED = "expected a JSON object with timestamp and message"
_JSON_KINDS = {
    list: "an array",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


def parse_request_body(body: str) -> dict[str, Any]:
    """Parse `body` as a JSON object, or raise InvalidBody or TooLarge saying why not."""
    if len(body) > MAX_BODY_CHARS:
        detail = f"the body has {len(body)} characters; at most {MAX_BODY_CHARS} are read"
        raise TooLarge(
            "The request body is too large.",
            [ErrorDetail(field=None, rule="too_large", detail=detail)],
        )
    try:
        value = json.loads(body, parse_float=_finite_float, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise _invalid_json("the JSON is nested too deeply") from exc
    except ValueError as exc:  # NaN, Infinity, 1e999, integers beyond Python's digit limit
        raise _invalid_json("numbers must be finite and at most 4300 digits long") from exc
    if not isinstance(value, dict):
        kind = _JSON_KINDS.get(type(value), "null")
        error = ErrorDetail(field=None, rule="not_an_object", detail=f"{EXPECTED}, got {kind}")
        raise InvalidBody("The request body must be a JSON object.", [error])
    return value


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(text)
    return number


def _reject_constant(text: str) -> float:
    raise ValueError(text)


def _invalid_json(detail: str) -> InvalidBody:
    error = ErrorDetail(field=None, rule="invalid_json", detail=detail)
    return InvalidBody("The request body is not valid JSON.", [error])
