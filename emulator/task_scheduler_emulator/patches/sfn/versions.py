"""``states:ListStateMachineVersions`` (moto 5.2.5 answers 500 "not implemented").

The aws provider calls it after creating a state machine and on every refresh of
``aws_sfn_state_machine``. Added as ``moto.stepfunctions.responses.StepFunctionResponse.
list_state_machine_versions``, listing the versions moto keeps for ``publish = true``
newest first, as AWS does ("The results are sorted in descending order of the version creation
time", https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListStateMachineVersions.html);
no pagination.
"""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.stepfunctions.responses import StepFunctionResponse


def _list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
    versions = sorted(getattr(machine, "versions", {}).values(), key=lambda v: -v.version)
    items = [{"stateMachineVersionArn": v.arn, "creationDate": v.creation_date} for v in versions]
    return ActionResult({"stateMachineVersions": items})


def patch() -> None:
    assert not hasattr(StepFunctionResponse, "list_state_machine_versions"), (
        "moto now implements ListStateMachineVersions: drop this patch"
    )
    setattr(StepFunctionResponse, "list_state_machine_versions", _list_state_machine_versions)  # noqa: B010
