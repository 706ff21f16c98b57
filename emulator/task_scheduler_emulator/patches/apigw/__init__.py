"""API Gateway V2 (HTTP APIs): the stage and route updates the aws provider makes that moto
lacks or gets wrong."""

from . import route_scopes, stage, stage_tags

__all__ = ["route_scopes", "stage", "stage_tags"]
