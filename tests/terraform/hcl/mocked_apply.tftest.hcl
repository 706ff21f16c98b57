# Applies the module against a mocked AWS provider (no network, no credentials) so that
# values known only after apply (ARNs, the state machine definition) are rendered and checked.
# tests/terraform/test_rendered.py reads the state of each run (terraform test -json -verbose)
# and checks the rest there: the tables' ARNs in the IAM documents, the routes' execute-api
# ARNs, the whole dead-letter path and the functions' environment.
mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { id = "eu-west-1", name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  # Computed ARNs must look like ARNs to pass the provider's own validation.
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::111122223333:role/mocked" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:eu-west-1:111122223333:log-group:mocked" }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      id            = "a1b2c3d4e5"
      execution_arn = "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5"
    }
  }
  mock_resource "aws_dynamodb_table" {
    defaults = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/mocked" }
  }
}

override_resource {
  target = aws_sfn_state_machine.this
  values = { arn = "arn:aws:states:eu-west-1:111122223333:stateMachine:task-scheduler" }
}

override_resource {
  target = aws_dynamodb_table.this
  values = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/task-scheduler-tasks" }
}

override_resource {
  target = aws_dynamodb_table.slots
  values = { arn = "arn:aws:dynamodb:eu-west-1:111122223333:table/task-scheduler-slots" }
}

override_resource {
  target = aws_apigatewayv2_authorizer.this
  values = { id = "jwt123" }
}

override_resource {
  target = aws_lambda_function.emit
  values = { arn = "arn:aws:lambda:eu-west-1:111122223333:function:task-scheduler-emit" }
}

override_resource {
  target = aws_sqs_queue.dead_letter
  values = {
    arn = "arn:aws:sqs:eu-west-1:111122223333:task-scheduler-dead-letter"
    url = "https://sqs.eu-west-1.amazonaws.com/111122223333/task-scheduler-dead-letter"
  }
}

variables {
  emit_retry = { max_attempts = 4, interval_seconds = 3, backoff_rate = 1.5 }
  # As examples/local passes it when unset: the module's default (nullable = false).
  execution_segment_seconds = null
}

run "definition" {
  command = apply

  assert {
    condition     = aws_sfn_state_machine.this.type == "STANDARD"
    error_message = "Tasks wait up to a year: only Standard workflows run that long."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).StartAt == "WaitUntilRelease"
    error_message = "Executions must start by waiting."
  }

  assert {
    condition     = toset(keys(jsondecode(aws_sfn_state_machine.this.definition).States)) == toset(["WaitUntilRelease", "Emit", "DeadLetter", "SendToDeadLetterQueue", "EmissionFailed"])
    error_message = "The definition must hold the Wait, Emit and dead-letter states only (no MarkFailed: the emit function marks tasks failed)."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.WaitUntilRelease.Type == "Wait" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.WaitUntilRelease.TimestampPath == "$.release_at" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.WaitUntilRelease.Next == "Emit" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.End
    )
    error_message = "The Wait state must wait until the slot's whole release second, then emit and end: two states per execution."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Resource == "arn:aws:states:::lambda:invoke" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:111122223333:function:task-scheduler-emit" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Parameters.Payload == { "task.$" = "$", "execution_arn.$" = "$$.Execution.Id" } &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.End
    )
    error_message = "Emit must invoke the emit function with the whole input and the execution's ARN as payload."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[0].ErrorEquals == ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[0].BackoffRate == 2 && jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[0].MaxAttempts == 15 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[0].MaxDelaySeconds == 60 && jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[0].JitterStrategy == "FULL"
    )
    error_message = "Lambda service errors and throttling must be retried with exponential backoff, capped and fully jittered, for about ten minutes."
  }

  assert {
    condition     = jsondecode(aws_sfn_state_machine.this.definition).States.Emit.TimeoutSeconds == aws_lambda_function.emit.timeout + 10
    error_message = "An Emit invocation whose answer never comes must time out shortly after the function's own timeout, and be retried."
  }

  assert {
    condition = (
      length(jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry) == 2 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[1].ErrorEquals == ["States.ALL"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[1].MaxAttempts == 4 && jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[1].IntervalSeconds == 3 && jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[1].BackoffRate == 1.5
    )
    error_message = "Function errors must be retried as var.emit_retry says, after the throttling retrier and with no other."
  }

  assert {
    condition = (
      length(jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Catch) == 1 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Catch[0].ErrorEquals == ["States.ALL"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Catch[0].ResultPath == "$.error" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Catch[0].Next == "DeadLetter"
    )
    error_message = "Every failure must keep the input and add the error before dead-lettering it."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Type == "Task" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Resource == "arn:aws:states:::lambda:invoke" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Parameters.FunctionName == "arn:aws:lambda:eu-west-1:111122223333:function:task-scheduler-emit" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Parameters.Payload == { "dead_letter.$" = "$", "execution_arn.$" = "$$.Execution.Id" } &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.ResultPath == null &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.TimeoutSeconds == aws_lambda_function.emit.timeout + 10 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Next == "EmissionFailed"
    )
    error_message = "DeadLetter must hand the failed input, with its error, to the emit function (which marks and parks each task), then fail the execution."
  }

  assert {
    condition = (
      length(jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Retry) == 2 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Retry[0] == jsondecode(aws_sfn_state_machine.this.definition).States.Emit.Retry[0] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Retry[1].ErrorEquals == ["States.ALL"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Retry[1].MaxAttempts == 6 &&
      length(jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Catch) == 1 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Catch[0].ErrorEquals == ["States.ALL"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Catch[0].ResultPath == "$.dead_letter_error" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.DeadLetter.Catch[0].Next == "SendToDeadLetterQueue"
    )
    error_message = "DeadLetter must retry throttling like Emit and its own errors a few times, then fall back to sending the input itself."
  }

  assert {
    condition = (
      jsondecode(aws_sfn_state_machine.this.definition).States.SendToDeadLetterQueue.Resource == "arn:aws:states:::sqs:sendMessage" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SendToDeadLetterQueue.Parameters.QueueUrl == "https://sqs.eu-west-1.amazonaws.com/111122223333/task-scheduler-dead-letter" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SendToDeadLetterQueue.Parameters["MessageBody.$"] == "$" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SendToDeadLetterQueue.Retry[0].ErrorEquals == ["States.ALL"] &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SendToDeadLetterQueue.Retry[0].MaxAttempts == 8 &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SendToDeadLetterQueue.ResultPath == null &&
      jsondecode(aws_sfn_state_machine.this.definition).States.SendToDeadLetterQueue.Next == "EmissionFailed" &&
      jsondecode(aws_sfn_state_machine.this.definition).States.EmissionFailed.Type == "Fail"
    )
    error_message = "The last-resort path must send the whole input to the queue, retrying, then fail the execution."
  }

  assert {
    condition = (
      aws_sfn_state_machine.this.logging_configuration[0].include_execution_data == false &&
      aws_sfn_state_machine.this.logging_configuration[0].level == "ERROR" &&
      aws_sfn_state_machine.this.tracing_configuration[0].enabled
    )
    error_message = "Execution logs must exclude task data; tracing is on by default."
  }

  assert {
    condition = (
      aws_lambda_function.api.environment[0].variables.STATE_MACHINE_ARN == aws_sfn_state_machine.this.arn &&
      aws_lambda_function.api.environment[0].variables.MAX_HORIZON_SECONDS == "31536000" &&
      aws_lambda_function.api.environment[0].variables.TASKS_TABLE_NAME == aws_dynamodb_table.this.name &&
      aws_lambda_function.api.environment[0].variables.SLOTS_TABLE_NAME == aws_dynamodb_table.slots.name &&
      aws_lambda_function.api.environment[0].variables.SLOT_SHARD_UNITS == "500" &&
      aws_lambda_function.emit.environment[0].variables.TOPIC_ARN == aws_sns_topic.this.arn &&
      aws_lambda_function.emit.environment[0].variables.TASKS_TABLE_NAME == aws_dynamodb_table.this.name &&
      aws_lambda_function.emit.environment[0].variables.SLOTS_TABLE_NAME == aws_dynamodb_table.slots.name &&
      aws_lambda_function.emit.environment[0].variables.DEAD_LETTER_QUEUE_URL == aws_sqs_queue.dead_letter.url &&
      aws_lambda_function.emit.environment[0].variables.PUBLICATION_LOG == "true" &&
      aws_lambda_function.emit.environment[0].variables.SLOT_SHARD_UNITS == "500"
    )
    error_message = "The api function must know the state machine, both tables, the horizon and the shard size; the emit function the topic, both tables, the dead-letter queue, the publication log and the shard size."
  }
}

run "custom_horizon" {
  command = apply

  variables {
    max_schedule_horizon_days = 30
    slot_shard_size           = 1
  }

  assert {
    condition     = aws_lambda_function.api.environment[0].variables.MAX_HORIZON_SECONDS == "2592000"
    error_message = "The horizon reaches the api function in seconds."
  }

  assert {
    condition = (
      aws_lambda_function.api.environment[0].variables.SLOT_SHARD_UNITS == "1" &&
      aws_lambda_function.emit.environment[0].variables.SLOT_SHARD_UNITS == "1"
    )
    error_message = "The smallest shard size reaches both functions."
  }
}

# Every option the new routes touch: ten years, short segments, a customer key, no authorization.
run "long_horizon" {
  command = apply

  variables {
    max_schedule_horizon_days = 3650
    execution_segment_seconds = 60
    emission_lead_seconds     = 2
    slot_shard_size           = 1000
    kms_key_arn               = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    authorization_type        = "NONE"
  }

  assert {
    condition = (
      aws_lambda_function.api.environment[0].variables.MAX_HORIZON_SECONDS == "315360000" &&
      aws_lambda_function.api.environment[0].variables.EXECUTION_SEGMENT_SECONDS == "60" &&
      aws_lambda_function.emit.environment[0].variables.EXECUTION_SEGMENT_SECONDS == "60" &&
      aws_lambda_function.api.environment[0].variables.SLOT_SHARD_UNITS == "1000" &&
      aws_lambda_function.emit.environment[0].variables.SLOT_SHARD_UNITS == "1000"
    )
    error_message = "Ten years reach the api function in seconds; both functions know the segment length and the shard size."
  }
}

run "alarms" {
  command = apply

  variables {
    alarm_topic_arn   = "arn:aws:sns:eu-west-1:111122223333:on-call"
    dashboard_enabled = true
  }

  assert {
    condition     = output.cloudwatch_dashboard_arn == aws_cloudwatch_dashboard.this[0].dashboard_arn && aws_cloudwatch_dashboard.this[0].dashboard_name == "task-scheduler"
    error_message = "The dashboard is named after the module and its ARN is output."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["executions-failed"].dimensions == tomap({ StateMachineArn = aws_sfn_state_machine.this.arn }) &&
      aws_cloudwatch_metric_alarm.this["executions-timed-out"].dimensions == tomap({ StateMachineArn = aws_sfn_state_machine.this.arn }) &&
      aws_cloudwatch_metric_alarm.this["executions-aborted"].dimensions == tomap({ StateMachineArn = aws_sfn_state_machine.this.arn })
    )
    error_message = "Execution alarms must watch this module's state machine."
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["api-5xx"].dimensions == tomap({ ApiId = aws_apigatewayv2_api.this.id, Stage = "$default" })
    error_message = "The 5xx alarm must watch this module's HTTP API on its $default stage."
  }

  assert {
    condition     = output.cloudwatch_metric_alarm_arns == { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.arn } && length(output.cloudwatch_metric_alarm_arns) == 8
    error_message = "The output must map each alarm kind to its ARN."
  }
}

# JWT authorization with per-route scopes, route throttling, a capped api function, and the
# publication log turned off.
run "jwt" {
  command = apply

  variables {
    authorization_type                    = "JWT"
    jwt_issuer                            = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    jwt_audience                          = ["app-client"]
    jwt_scopes                            = { read = ["tasks/read"], write = ["tasks/write"] }
    api_reserved_concurrent_executions    = 20
    lambda_reserved_concurrent_executions = 50
    emit_idempotency_enabled              = false
  }

  assert {
    condition     = alltrue([for route in aws_apigatewayv2_route.this : route.authorizer_id == aws_apigatewayv2_authorizer.this[0].id])
    error_message = "Every route must use the module's JWT authorizer."
  }

  assert {
    condition     = aws_lambda_function.emit.environment[0].variables.PUBLICATION_LOG == "false" && aws_lambda_function.emit.environment[0].variables.SLOTS_TABLE_NAME == aws_dynamodb_table.slots.name
    error_message = "Without the publication log, the emit function still reads its shards from the slot table, and records nothing."
  }
}
