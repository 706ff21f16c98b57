"""``apigatewayv2:UpdateStage`` (moto 5.2.5 answers 500 "not implemented").

Changing ``aws_apigatewayv2_stage`` in place (access_log_settings, default_route_settings
throttling, ...) fails against moto. Added as ``moto.apigatewayv2.responses.
ApiGatewayV2Response.update_stage``: the request's top-level fields replace the stored ones, as
the UpdateStage request body of the API reference lists them
(https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-stages-stagename.html).
"""

from __future__ import annotations

import json
from urllib.parse import unquote

from moto.apigatewayv2.models import Stage
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.core.common_types import TYPE_RESPONSE


def _update_stage(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    api_id, _, stage_name = self.path.split("/")[-3:]
    api = self.apigatewayv2_backend.get_api(api_id)
    old = api.get_stage(unquote(stage_name))
    new = Stage(api, {**old.config, **json.loads(self.body or "{}"), "stageName": old.name})
    new.created = old.created
    api.stages[old.name] = new
    return 200, {}, json.dumps(new.to_json())


def patch() -> None:
    assert not hasattr(ApiGatewayV2Response, "update_stage"), (
        "moto now implements UpdateStage: drop this patch"
    )
    setattr(ApiGatewayV2Response, "update_stage", _update_stage)  # noqa: B010
