"""Tagging an HTTP API stage (``TagResource``/``UntagResource``/``GetTags`` on its ARN).

A stage is taggable in the API Gateway V2 API ("API Gateway resources that can be tagged":
Api, DomainName, Stage, VpcLink,
https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html),
and the aws provider updates a stage's tags in place with
``POST``/``DELETE /v2/tags/arn:aws:apigateway:<region>::/apis/<id>/stages/<name>``. moto 5.2.5
routes ``/v2/tags/...`` only for APIs and VPC links (404 for a stage), and keeps a stage's tags
on the stage object that ``GetStage`` returns. This adds the route and makes the three tag
operations read and write that same object for stage ARNs.
"""

from __future__ import annotations

import re
from typing import Any

from moto.apigatewayv2 import urls
from moto.apigatewayv2.models import ApiGatewayV2Backend
from moto.apigatewayv2.responses import ApiGatewayV2Response

STAGE_TAGS_URL = (
    "{0}/v2/tags/(?P<resource_arn_pt1>[^/]+)/apis/(?P<resource_arn_pt2>[^/]+)"
    "/stages/(?P<resource_arn_pt3>[^/]+)$"
)
_STAGE_ARN = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+::/apis/(?P<api>[^/]+)/stages/(?P<stage>[^/]+)$"
)

_get_tags = ApiGatewayV2Backend.get_tags
_tag_resource = ApiGatewayV2Backend.tag_resource
_untag_resource = ApiGatewayV2Backend.untag_resource


def _stage(backend: ApiGatewayV2Backend, arn: str) -> Any:
    found = _STAGE_ARN.match(arn)
    if found is None:
        return None
    return backend.get_api(found["api"]).get_stage(found["stage"])


def get_tags(self: ApiGatewayV2Backend, resource_id: str) -> dict[str, str]:
    stage = _stage(self, resource_id)
    return dict(stage.tags) if stage is not None else _get_tags(self, resource_id)


def tag_resource(self: ApiGatewayV2Backend, resource_arn: str, tags: dict[str, str]) -> None:
    stage = _stage(self, resource_arn)
    if stage is None:
        return _tag_resource(self, resource_arn, tags)
    stage.tags = {**(stage.tags or {}), **(tags or {})}
    return None


def untag_resource(self: ApiGatewayV2Backend, resource_arn: str, tag_keys: list[str]) -> None:
    stage = _stage(self, resource_arn)
    if stage is None:
        return _untag_resource(self, resource_arn, tag_keys)
    stage.tags = {k: v for k, v in (stage.tags or {}).items() if k not in tag_keys}
    return None


def patch() -> None:
    assert STAGE_TAGS_URL not in urls.url_paths, "moto now routes stage tags: drop this patch"
    urls.url_paths[STAGE_TAGS_URL] = ApiGatewayV2Response.dispatch
    ApiGatewayV2Backend.get_tags = get_tags  # type: ignore[method-assign]
    ApiGatewayV2Backend.tag_resource = tag_resource  # type: ignore[method-assign]
    ApiGatewayV2Backend.untag_resource = untag_resource  # type: ignore[method-assign]
