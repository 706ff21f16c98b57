name                       = "billing-reminders"
tags                       = { team = "billing", env = "test" }
tracing_enabled            = false
lambda_runtime             = "python3.12"
lambda_architecture        = "x86_64"
max_schedule_horizon_days  = 30
api_throttling_rate_limit  = 5
api_throttling_burst_limit = 10
state_machine_log_level    = "ALL"
log_retention_in_days      = 7
emit_retry                 = { max_attempts = 5, interval_seconds = 10 }

subscriptions = {
  worker = {
    protocol             = "sqs"
    endpoint             = "arn:aws:sqs:eu-west-1:111122223333:worker"
    raw_message_delivery = true
  }
  webhook = {
    protocol            = "https"
    endpoint            = "https://hooks.example.com/tasks"
    filter_policy       = "{\"message_encoding\": [\"json\"]}"
    filter_policy_scope = "MessageAttributes"
  }
}
