"""What both functions share that needs no AWS: tasks, records, decisions, time, slots, the SNS
message format. Imports only the standard library and core."""
