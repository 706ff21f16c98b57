"""Functions may use layers published by another account (the AWS-owned Powertools layer).

moto resolves a function's ``Layers`` only against layers published to the emulator and fails
CreateFunction/UpdateFunctionConfiguration with ResourceNotFoundException for e.g.
``arn:aws:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-...:<n>``, which
cannot be fetched locally. On AWS a layer's owner grants other accounts its use
(https://docs.aws.amazon.com/lambda/latest/dg/permissions-layer-cross-account.html), as AWS
does for the Powertools layer. This wraps ``moto.awslambda.models.LambdaFunction._get_layers_data``
so a layer of another account is recorded as-is (CodeSize 0); its code is stood in for by this
interpreter's site-packages (see :mod:`.runtime`). Own-account layers still must exist.
"""

from __future__ import annotations

from typing import Any

from moto.awslambda.models import LambdaFunction

_original = LambdaFunction._get_layers_data


def _get_layers_data(self: LambdaFunction, layers_versions_arns: list[str]) -> Any:
    own = [arn for arn in layers_versions_arns if arn.split(":")[4] == self.account_id]
    resolved = {layer["Arn"]: layer for layer in _original(self, own)}
    return [resolved.get(arn, {"Arn": arn, "CodeSize": 0}) for arn in layers_versions_arns]


def patch() -> None:
    assert callable(_original), "moto moved LambdaFunction._get_layers_data"
    setattr(LambdaFunction, "_get_layers_data", _get_layers_data)  # noqa: B010
