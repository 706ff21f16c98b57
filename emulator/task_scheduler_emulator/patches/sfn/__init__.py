"""Step Functions: the calls the aws provider makes that moto lacks, and the interpreter's
executions, Wait states, parser and service clients as AWS documents them."""

from . import clients, executions, parser_state, validate, versions, wait

__all__ = ["clients", "executions", "parser_state", "validate", "versions", "wait"]
