"""DynamoDB: item operations atomic under the threaded server, as on AWS."""

from . import atomic

__all__ = ["atomic"]
