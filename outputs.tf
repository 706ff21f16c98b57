################################################################################
# Logs
################################################################################

output "cloudwatch_log_group_names" {
  description = "Log groups of the api and emit functions, the state machine and the API access log."
  value = merge(
    { for key, group in aws_cloudwatch_log_group.lambda : key => group.name },
    { state_machine = aws_cloudwatch_log_group.state_machine.name, api_access = aws_cloudwatch_log_group.api_access.name },
  )
}

################################################################################
# Task registry and time slots
################################################################################

output "dynamodb_table_name" {
  description = "Name of the task registry table (one item per task: status, version, timestamps, placement; not the message)."
  value       = aws_dynamodb_table.this.name
}

output "dynamodb_table_arn" {
  description = "ARN of the task registry table."
  value       = aws_dynamodb_table.this.arn
}

output "dynamodb_slots_table_name" {
  description = "Name of the slot table (per second, the tasks due in it, with their messages; expiring by TTL)."
  value       = aws_dynamodb_table.slots.name
}

output "dynamodb_slots_table_arn" {
  description = "ARN of the slot table."
  value       = aws_dynamodb_table.slots.arn
}

################################################################################
# Emission
################################################################################

output "sns_topic_arn" {
  description = "ARN of the topic every emitted task is published to; subscribe to it from other stacks."
  value       = aws_sns_topic.this.arn
}

output "sns_topic_name" {
  description = "Name of the task topic."
  value       = aws_sns_topic.this.name
}

output "sns_subscription_arns" {
  description = "ARNs of the subscriptions created from var.subscriptions, by key."
  value       = { for key, subscription in aws_sns_topic_subscription.this : key => subscription.arn }
}

output "sqs_dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue that receives tasks whose emission failed after all retries."
  value       = aws_sqs_queue.dead_letter.arn
}

output "sqs_dead_letter_queue_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dead_letter.url
}

output "lambda_emit_function_arn" {
  description = "ARN of the emit function (publishes due tasks to the topic)."
  value       = aws_lambda_function.emit.arn
}

output "lambda_emit_function_name" {
  description = "Name of the emit function."
  value       = aws_lambda_function.emit.function_name
}

################################################################################
# State machine
################################################################################

output "sfn_state_machine_arn" {
  description = "ARN of the state machine that runs one execution per scheduled task."
  value       = aws_sfn_state_machine.this.arn
}

output "sfn_state_machine_name" {
  description = "Name of the state machine."
  value       = aws_sfn_state_machine.this.name
}

################################################################################
# API
################################################################################

output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Base URL of the HTTP API (its $default stage), without a trailing slash."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "api_execution_arn" {
  description = "execute-api ARN prefix of the HTTP API, for IAM policies and Lambda permissions."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "api_schedule_url" {
  description = "Full URL to POST tasks to ({\"timestamp\": \"<ISO 8601 with offset>\", \"message\": <any JSON>}) and to list them from (GET); a task's own URL appends /<id> (GET, PATCH, DELETE)."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/schedule"
}

output "api_route_keys" {
  description = "Route keys of the HTTP API by what they do: schedule, list, status, reschedule and cancel."
  value       = { for key, route in aws_apigatewayv2_route.this : key => route.route_key }
}

output "api_authorization_type" {
  description = "Authorization every route requires: AWS_IAM (sign requests with SigV4 for service execute-api), JWT (send a bearer token from jwt_issuer) or NONE."
  value       = one(distinct([for route in aws_apigatewayv2_route.this : route.authorization_type]))
}

output "apigatewayv2_authorizer_id" {
  description = "ID of the JWT authorizer every route uses with authorization_type = JWT; null otherwise."
  value       = one(aws_apigatewayv2_authorizer.this[*].id)
}

output "lambda_api_function_arn" {
  description = "ARN of the api function (request validation and scheduling)."
  value       = aws_lambda_function.api.arn
}

output "lambda_api_function_name" {
  description = "Name of the api function."
  value       = aws_lambda_function.api.function_name
}

################################################################################
# IAM
################################################################################

output "iam_role_arns" {
  description = "ARNs of the roles the module creates, by function (api, emit) and state_machine; for permissions boundaries, audits and key policies."
  value = merge(
    { for key, role in aws_iam_role.lambda : key => role.arn },
    { state_machine = aws_iam_role.state_machine.arn },
  )
}

################################################################################
# Published policies
################################################################################

output "invoke_policy_json" {
  description = "IAM policy document granting execute-api:Invoke on exactly the five routes (schedule, list, status, reschedule, cancel); attach it to the roles of stacks that schedule and manage tasks. API Gateway checks it only on AWS_IAM routes: with authorization_type JWT or NONE it neither grants nor withholds access (the token, or nothing, decides)."
  value       = data.aws_iam_policy_document.invoke.json
}

output "invoke_read_only_policy_json" {
  description = "IAM policy document granting execute-api:Invoke on GET /schedule and GET /schedule/{id} only (list and status); attach it to roles that watch tasks but must not change them. Checked only on AWS_IAM routes, like invoke_policy_json (under JWT, jwt_scopes.read and write tell readers from writers)."
  value       = data.aws_iam_policy_document.invoke_read_only.json
}

output "deployer_policy_json" {
  description = "IAM policy document a CI identity needs to apply and destroy this module (scoped by the name prefix)."
  value       = data.aws_iam_policy_document.deployer.json
}

################################################################################
# Alarms
################################################################################

output "cloudwatch_metric_alarm_arns" {
  description = "ARNs of the CloudWatch alarms the module creates with alarm_topic_arn, by kind (dead-letter, executions-failed, executions-timed-out, executions-aborted, api-5xx, emit-errors, emit-throttles, open-executions); empty without it."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.arn }
}

################################################################################
# Dashboard
################################################################################

output "cloudwatch_dashboard_arn" {
  description = "ARN of the operations dashboard with dashboard_enabled = true; null otherwise."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_arn)
}
