output "api_id" {
  description = "ID of the HTTP API the local gateway serves."
  value       = module.task_scheduler.api_id
}

output "sns_topic_arn" {
  description = "Topic that emits each task at its timestamp."
  value       = module.task_scheduler.sns_topic_arn
}

output "api_route_keys" {
  description = "Route keys of the HTTP API, by what they do."
  value       = module.task_scheduler.api_route_keys
}

output "api_authorization_type" {
  description = "Authorization every route requires (NONE for `make run`)."
  value       = module.task_scheduler.api_authorization_type
}

output "apigatewayv2_authorizer_id" {
  description = "JWT authorizer of the routes (null unless authorization_type = JWT)."
  value       = module.task_scheduler.apigatewayv2_authorizer_id
}

output "dynamodb_slots_table_name" {
  description = "Slot table: per second, the tasks due in it, with their messages."
  value       = module.task_scheduler.dynamodb_slots_table_name
}

output "invoke_policy_json" {
  description = "Policy granting execute-api:Invoke on every route, for an emulator IAM user that manages tasks."
  value       = module.task_scheduler.invoke_policy_json
}

output "invoke_read_only_policy_json" {
  description = "Policy granting execute-api:Invoke on status and list only."
  value       = module.task_scheduler.invoke_read_only_policy_json
}

output "dynamodb_table_name" {
  description = "Task registry table."
  value       = module.task_scheduler.dynamodb_table_name
}

output "sfn_state_machine_arn" {
  description = "State machine running one execution per task."
  value       = module.task_scheduler.sfn_state_machine_arn
}

output "sqs_dead_letter_queue_url" {
  description = "Queue holding tasks whose emission failed."
  value       = module.task_scheduler.sqs_dead_letter_queue_url
}

output "lambda_api_function_name" {
  description = "Name of the function behind POST /schedule."
  value       = module.task_scheduler.lambda_api_function_name
}

output "lambda_emit_function_name" {
  description = "Name of the emit function."
  value       = module.task_scheduler.lambda_emit_function_name
}

output "sqs_events_queue_url" {
  description = "Queue (SNS envelopes) that feeds GET /events."
  value       = aws_sqs_queue.events.url
}

output "sqs_worker_queue_url" {
  description = "Subscriber queue receiving raw messages, as a consuming stack would."
  value       = aws_sqs_queue.worker.url
}
