"""boto3 clients, created on first use and reused by warm invocations."""

from functools import cache

import boto3
from botocore.client import BaseClient
from botocore.config import Config

# Bounded so that a slow StartExecution still answers within API Gateway's 30 s integration
# timeout: at most 3 attempts in all (botocore's `max_attempts` would count retries only) of
# 2 s to connect and 5 s to read, plus backoff.
_CONFIG = Config(
    connect_timeout=2, read_timeout=5, retries={"mode": "standard", "total_max_attempts": 3}
)


@cache
def client(service_name: str) -> BaseClient:
    return boto3.client(service_name, config=_CONFIG)
