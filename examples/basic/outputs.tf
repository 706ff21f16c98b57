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
  description = "Policy to attach to roles that schedule tasks."
  value       = module.task_scheduler.invoke_policy_json
}
