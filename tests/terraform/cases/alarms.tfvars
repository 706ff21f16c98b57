name            = "reminders"
tags            = { team = "billing", env = "test" }
alarm_topic_arn = "arn:aws:sns:eu-west-1:111122223333:on-call"
alarms          = { period_seconds = 60, evaluation_periods = 3, api_5xx_threshold = 5, emit_errors_threshold = 2, open_executions_percent = 80 }
