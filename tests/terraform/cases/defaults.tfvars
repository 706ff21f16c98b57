# No inputs: the module's defaults alone must be a valid, secure configuration.
