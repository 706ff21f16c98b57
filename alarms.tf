################################################################################
# Optional CloudWatch alarms, on when var.alarm_topic_arn is set (or alarms.enabled, for a
# topic whose ARN is known only after apply): one entry of
# local.alarm_definitions per alarm, named "<name>-<key>", notifying the topic on
# ALARM and on OK. Missing data never alarms: each metric below is emitted only
# while there is something to count (or, for the open-execution gauge, only above
# AWS's reporting floor), so no data means nothing went wrong.
################################################################################

locals {
  # Known at plan time even when the topic's ARN is not (a topic created alongside).
  create_alarms = var.alarms.enabled != null ? var.alarms.enabled : var.alarm_topic_arn != null
  alarm_period  = var.alarms.period_seconds

  alarm_definitions = {
    # AWS/SQS, dimension QueueName: "The number of messages available for retrieval from the
    # queue." A queue holding messages stays active, so its metrics keep coming
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html).
    dead-letter = {
      description = "Maximum of ApproximateNumberOfMessagesVisible (AWS/SQS) on the dead-letter queue ${aws_sqs_queue.dead_letter.name} above 0 in a ${local.alarm_period} s period: tasks whose emission failed after every retry wait there; read them there."
      namespace   = "AWS/SQS"
      metric_name = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.dead_letter.name }
      statistic   = "Maximum"
      threshold   = 0
      queries     = []
    }

    # AWS/States execution metrics, dimension StateMachineArn
    # (https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html).
    # ExecutionsAborted counts StopExecution calls. The module never calls StopExecution (its
    # runtime roles are not granted it: tests/terraform/test_alarms.py holds that while this
    # alarm exists), so every abort it counts came from outside the module.
    # Every dead-lettered task also fails its execution; a failure without a dead letter
    # means the task could not even be parked in the queue.
    executions-failed = {
      description = "Sum of ExecutionsFailed (AWS/States) of ${aws_sfn_state_machine.this.name} above 0 in a ${local.alarm_period} s period: each failed execution is a task that was not emitted (dead-lettered, or lost if the dead-letter send failed too)."
      namespace   = "AWS/States"
      metric_name = "ExecutionsFailed"
      dimensions  = { StateMachineArn = aws_sfn_state_machine.this.arn }
      statistic   = "Sum"
      threshold   = 0
      queries     = []
    }
    executions-timed-out = {
      description = "Sum of ExecutionsTimedOut (AWS/States) of ${aws_sfn_state_machine.this.name} above 0 in a ${local.alarm_period} s period: executions outlived a Standard workflow's one-year limit, and their tasks were not emitted."
      namespace   = "AWS/States"
      metric_name = "ExecutionsTimedOut"
      dimensions  = { StateMachineArn = aws_sfn_state_machine.this.arn }
      statistic   = "Sum"
      threshold   = 0
      queries     = []
    }
    executions-aborted = {
      description = "Sum of ExecutionsAborted (AWS/States) of ${aws_sfn_state_machine.this.name} above 0 in a ${local.alarm_period} s period: executions stopped by something outside the module; the module itself never stops executions (cancel and reschedule only write the task registry), so each is a stop by a person or another system, and its tasks may not be emitted."
      namespace   = "AWS/States"
      metric_name = "ExecutionsAborted"
      dimensions  = { StateMachineArn = aws_sfn_state_machine.this.arn }
      statistic   = "Sum"
      threshold   = 0
      queries     = []
    }

    # AWS/ApiGateway for HTTP APIs: metric "5xx" (REST APIs name it 5XXError), dimensions
    # ApiId and Stage (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html).
    # Every route counts: the metric carries no route dimension unless detailed metrics are
    # on. The api function answers 502/503 when Step Functions fails or throttles; API Gateway
    # answers 500/503 when the function itself fails to run.
    api-5xx = {
      description = "Sum of 5xx (AWS/ApiGateway) of ${aws_apigatewayv2_api.this.name}, stage $default, above ${var.alarms.api_5xx_threshold} in a ${local.alarm_period} s period: responses with a 5xx status on any of its five routes (POST and GET /schedule; GET, PATCH and DELETE /schedule/{id}), so clients could not schedule, list, read, reschedule or cancel tasks."
      namespace   = "AWS/ApiGateway"
      metric_name = "5xx"
      dimensions  = { ApiId = aws_apigatewayv2_api.this.id, Stage = aws_apigatewayv2_stage.this.name }
      statistic   = "Sum"
      threshold   = var.alarms.api_5xx_threshold
      queries     = []
    }

    # AWS/Lambda, dimension FunctionName: Errors counts invocations that end in a function
    # error (timeouts included), Throttles the invocation requests throttled
    # (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
    # The state machine retries both, so an error is late, not lost, until the dead-letter
    # alarm says otherwise.
    emit-errors = {
      description = "Sum of Errors (AWS/Lambda) of the emit function ${aws_lambda_function.emit.function_name} above ${var.alarms.emit_errors_threshold} in a ${local.alarm_period} s period: invocations that ended in a function error or timeout; the state machine retries, so tasks are late and may be dead-lettered."
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.emit.function_name }
      statistic   = "Sum"
      threshold   = var.alarms.emit_errors_threshold
      queries     = []
    }
    emit-throttles = {
      description = "Sum of Throttles (AWS/Lambda) of the emit function ${aws_lambda_function.emit.function_name} above ${var.alarms.emit_errors_threshold} in a ${local.alarm_period} s period: invocation requests throttled (reserved or account concurrency exhausted); the state machine retries them, so tasks are emitted late."
      namespace   = "AWS/Lambda"
      metric_name = "Throttles"
      dimensions  = { FunctionName = aws_lambda_function.emit.function_name }
      statistic   = "Sum"
      threshold   = var.alarms.emit_errors_threshold
      queries     = []
    }

    # AWS/States OpenExecutionCount and OpenExecutionLimit: dimensionless, the account's open
    # executions in this region and its quota (procedure-cw-metrics.html, Execution Metrics).
    # The count is approximate, lower than the true count, and may read zero below 10,000;
    # AWS recommends alarming on its Maximum at 100,000 or more of the default 1,000,000.
    # Dividing by the limit metric follows a raised quota. There is no per-state-machine
    # metric to alarm on: the quota is the account's, and so is this alarm.
    open-executions = {
      description = "100 * OpenExecutionCount / OpenExecutionLimit (AWS/States, Maximum, no dimensions) above ${var.alarms.open_executions_percent} in a ${local.alarm_period} s period: the open Step Functions executions of the whole account in this region (not only this module's; every pending task is one) exceed that percentage of the quota; request a quota increase before StartExecution fails with ExecutionLimitExceeded."
      namespace   = null
      metric_name = null
      dimensions  = null
      statistic   = null
      threshold   = var.alarms.open_executions_percent
      queries = [
        { id = "open", metric_name = "OpenExecutionCount", expression = null, label = null },
        { id = "limit", metric_name = "OpenExecutionLimit", expression = null, label = null },
        { id = "percent", metric_name = null, expression = "100 * open / limit", label = "Open executions, percent of the account's quota" },
      ]
    }
  }

  # Keys only: the definitions differ in shape (dimensions, metric queries), which a map of
  # them could not hold.
  alarm_keys = !local.create_alarms ? [] : [
    for key in keys(local.alarm_definitions) : key
    if key != "open-executions" || var.alarms.open_executions_alarm
  ]
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = toset(local.alarm_keys)

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = local.alarm_definitions[each.key].description
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.alarm_definitions[each.key].threshold
  evaluation_periods  = var.alarms.evaluation_periods
  treat_missing_data  = "notBreaching"

  # A single metric, or (open-executions) a metric math expression over metric queries.
  namespace   = local.alarm_definitions[each.key].namespace
  metric_name = local.alarm_definitions[each.key].metric_name
  dimensions  = local.alarm_definitions[each.key].dimensions
  statistic   = local.alarm_definitions[each.key].statistic
  period      = local.alarm_definitions[each.key].metric_name == null ? null : local.alarm_period

  dynamic "metric_query" {
    for_each = { for query in local.alarm_definitions[each.key].queries : query.id => query }
    content {
      id          = metric_query.key
      expression  = metric_query.value.expression
      label       = metric_query.value.label
      return_data = metric_query.value.expression != null

      dynamic "metric" {
        for_each = metric_query.value.metric_name == null ? [] : [metric_query.value]
        content {
          namespace   = "AWS/States"
          metric_name = metric.value.metric_name
          period      = local.alarm_period
          stat        = "Maximum"
        }
      }
    }
  }

  alarm_actions = [var.alarm_topic_arn]
  ok_actions    = [var.alarm_topic_arn]
  tags          = var.tags

  lifecycle {
    precondition {
      condition     = var.alarm_topic_arn != null
      error_message = "alarms.enabled = true needs alarm_topic_arn: the topic the alarms notify."
    }
  }
}
