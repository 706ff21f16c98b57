output "api_schedule_url" {
  description = "URL to POST tasks to (requests must be signed with SigV4)."
  value       = module.task_scheduler.api_schedule_url
}

output "sns_topic_arn" {
  description = "Topic that emits each task at its timestamp."
  value       = module.task_scheduler.sns_topic_arn
}

output "sqs_dead_letter_queue_url" {
  description = "Queue holding tasks whose emission failed."
  value       = module.task_scheduler.sqs_dead_letter_queue_url
}

output "invoke_policy_json" {
  description = "Policy to attach to roles that schedule and manage tasks (every route)."
  value       = module.task_scheduler.invoke_policy_json
}

output "invoke_read_only_policy_json" {
  description = "Policy to attach to roles that only read task status and lists."
  value       = module.task_scheduler.invoke_read_only_policy_json
}

output "dynamodb_table_name" {
  description = "Task registry table."
  value       = module.task_scheduler.dynamodb_table_name
}

output "dynamodb_table_arn" {
  description = "ARN of the task registry table."
  value       = module.task_scheduler.dynamodb_table_arn
}
