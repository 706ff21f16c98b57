"""The local HTTP API gateway in front of the Lambda functions (moto only stores HTTP APIs).

``http_api`` serves the stored routes through their Lambda integrations with API Gateway's
throttling and answers; ``iam`` authorizes ``AWS_IAM`` routes (SigV4, identity policies);
``jwt`` runs ``JWT`` authorizers; ``oidc_issuer`` is a local OIDC issuer for testing them.
"""

from .http_api import Gateway

__all__ = ["Gateway"]
