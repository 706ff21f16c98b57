"""``apigatewayv2:UpdateRoute`` with an empty ``authorizationScopes`` clears them.

moto 5.2.5 only replaces a route's scopes with a non-empty list, so a route whose scopes were
removed (a JWT route re-applied without ``jwt_scopes``, or switched to another authorization
type) kept them, and the next plan showed drift. The UpdateRoute API takes the route's whole
new list of scopes ("AuthorizationScopes: The authorization scopes supported by this route",
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-routes-routeid.html):
an empty list leaves none.
"""

from __future__ import annotations

from typing import Any

from moto.apigatewayv2.models import Route

_original_update = Route.update


def _update(self: Route, *args: Any, **kwargs: Any) -> None:
    _original_update(self, *args, **kwargs)
    if kwargs.get("authorization_scopes") == []:
        self.authorization_scopes = []


def patch() -> None:
    Route.update = _update  # type: ignore[method-assign]
