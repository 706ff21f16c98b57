"""The emit function: its handler, its settings, and the publisher that emits a slot's tasks to
SNS. Imports emit, aws and core, never api (pydantic would slow its cold start)."""
