"""``states:ValidateStateMachineDefinition`` (moto 5.2.5 answers 500 "not implemented").

The aws provider calls it when creating/updating ``aws_sfn_state_machine`` and retries the 500
for minutes. Added as ``moto.stepfunctions.responses.StepFunctionResponse.
validate_state_machine_definition``; it runs moto's own ASL static analyser (the parser the
executing backend uses), so a bad definition yields ``result: FAIL`` with a diagnostic, as AWS
answers: "The result value will be FAIL when the workflow definition contains errors that would
prevent you from creating or updating your state machine"
(https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinition.html).
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.stepfunctions.parser.asl.static_analyser.express_static_analyser import (
    ExpressStaticAnalyser,
)
from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser
from moto.stepfunctions.responses import StepFunctionResponse


def validate(definition: str, machine_type: str = "STANDARD") -> dict[str, object]:
    """The ValidateStateMachineDefinition output for ``definition``."""
    analyser = ExpressStaticAnalyser() if machine_type == "EXPRESS" else StaticAnalyser()
    try:
        analyser.analyse(definition)
    except Exception as exc:  # the parser raises ASLParserException and plain errors alike
        diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": repr(exc)}
        return {"result": "FAIL", "diagnostics": [diagnostic], "truncated": False}
    return {"result": "OK", "diagnostics": [], "truncated": False}


def _validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    return ActionResult(validate(self._get_param("definition"), self._get_param("type")))


def patch() -> None:
    assert not hasattr(StepFunctionResponse, "validate_state_machine_definition"), (
        "moto now implements ValidateStateMachineDefinition: drop this patch"
    )
    setattr(  # noqa: B010
        StepFunctionResponse,
        "validate_state_machine_definition",
        _validate_state_machine_definition,
    )
