"""What both functions share that reads or writes AWS: boto3 clients, the task registry, the
slot table, executions, and placing a task in its slot. Imports core and boto3, not api or emit."""
