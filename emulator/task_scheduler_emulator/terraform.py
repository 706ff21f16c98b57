"""An ``aws`` provider block that points every service the module uses at the emulator.

Fake credentials and no AWS look-ups: ``skip_requesting_account_id`` avoids an STS call per
plan, ``max_retries = 1`` turns an unimplemented moto call into a quick error instead of
minutes of retrying.
"""

from __future__ import annotations

SERVICES = (
    "apigatewayv2",
    "cloudwatch",
    "cloudwatchlogs",
    "dynamodb",
    "iam",
    "kms",
    "lambda",
    "sfn",
    "sns",
    "sqs",
    "sts",
)


def provider_block(endpoint_url: str, region: str = "us-east-1") -> str:
    """HCL of ``provider "aws" {...}`` for the emulator at ``endpoint_url``."""
    width = max(map(len, SERVICES))
    endpoints = "\n".join(f'    {service:<{width}} = "{endpoint_url}"' for service in SERVICES)
    return f"""provider "aws" {{
  region                      = "{region}"
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  max_retries                 = 1
  endpoints {{
{endpoints}
  }}
}}
"""
