output "api_schedule_url" {
  description = "URL to POST tasks to (requests must be signed with SigV4)."
  value       = module.task_scheduler.api_schedule_url
}

output "sns_topic_arn" {
  description = "Topic that emits each task at its timestamp."
  value       = module.task_scheduler.sns_topic_arn
}

output "sfn_state_machine_arn" {
  description = "State machine running one execution per task."
  value       = module.task_scheduler.sfn_state_machine_arn
}

output "sqs_dead_letter_queue_url" {
  description = "Queue holding tasks whose emission failed."
  value       = module.task_scheduler.sqs_dead_letter_queue_url
}

output "sqs_worker_queue_url" {
  description = "Worker queue subscribed to the task topic."
  value       = aws_sqs_queue.worker.url
}

output "iam_client_role_arn" {
  description = "Role allowed to call every route (schedule, list, status, reschedule, cancel)."
  value       = aws_iam_role.client.arn
}

output "sns_alarm_topic_arn" {
  description = "Topic the scheduler's CloudWatch alarms notify; subscribe your on-call to it."
  value       = aws_sns_topic.alarms.arn
}

output "cloudwatch_metric_alarm_arns" {
  description = "The scheduler's CloudWatch alarms, by kind."
  value       = module.task_scheduler.cloudwatch_metric_alarm_arns
}

output "invoke_policy_json" {
  description = "Policy granting execute-api:Invoke on every route (what the client role holds)."
  value       = module.task_scheduler.invoke_policy_json
}

output "invoke_read_only_policy_json" {
  description = "Policy for roles that only read task status and lists."
  value       = module.task_scheduler.invoke_read_only_policy_json
}

output "dynamodb_table_name" {
  description = "Task registry table (encrypted with the example's key)."
  value       = module.task_scheduler.dynamodb_table_name
}

output "dynamodb_table_arn" {
  description = "ARN of the task registry table."
  value       = module.task_scheduler.dynamodb_table_arn
}

output "deployer_policy_json" {
  description = "Policy for the CI identity that applies this stack's scheduler."
  value       = module.task_scheduler.deployer_policy_json
}
