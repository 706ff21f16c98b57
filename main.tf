data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition = data.aws_partition.current.partition
  # `id` is the region name under both provider majors (6.x deprecates `name`).
  region = data.aws_region.current.id

  # Built by `make build` and committed, so that the module applies straight from git
  # with no build step; tests check it is byte-for-byte a fresh build of lambda_src/.
  package_path = "${path.module}/dist/task_scheduler.zip"

  # Powertools, pydantic and the X-Ray SDK come from the AWS-published layer, so the
  # package stays pure Python, tiny and identical for every runtime and architecture.
  powertools_layer_arn = coalesce(
    var.powertools_layer_arn,
    "arn:${local.partition}:lambda:${local.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-${replace(var.lambda_runtime, ".", "")}-${var.lambda_architecture}:${var.powertools_layer_version}",
  )

  functions = {
    # The api function's boto3 calls are bounded (see lambda_src/task_scheduler/aws.py) so
    # that it answers within this timeout, itself within API Gateway's 30 s limit.
    api = { handler = "task_scheduler.handlers.api.lambda_handler", timeout = 25 }
    # The emit function holds up to lead + 1 s (the Wait releases it at a whole second at
    # least the lead early), then keeps 10 s to publish (PUBLISH_RESERVE_SECONDS) within this.
    emit = { handler = "task_scheduler.handlers.emit.lambda_handler", timeout = 30 + var.emission_lead_seconds }
  }

  powertools_environment = {
    POWERTOOLS_SERVICE_NAME      = var.name
    POWERTOOLS_METRICS_NAMESPACE = "TaskScheduler"
    POWERTOOLS_LOG_LEVEL         = var.log_level
  }

  schedule_route_key = "POST /schedule"
  # execute-api ARN of the schedule route on every stage: <api>/<stage>/<method>/<path>.
  schedule_route_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/POST/schedule"
}

################################################################################
# Logs
################################################################################

# With var.kms_key_arn, every log group is encrypted with the customer key: its key policy
# must let logs.<region>.amazonaws.com use it (see README, Security).
resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.functions

  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 30 days); keeping logs a year or more is a compliance choice for the caller, not a cost every stack should carry.
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "state_machine" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 30 days); keeping logs a year or more is a compliance choice for the caller, not a cost every stack should carry.
  name              = "/aws/vendedlogs/states/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 30 days); keeping logs a year or more is a compliance choice for the caller, not a cost every stack should carry.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

################################################################################
# Emission: topic, dead-letter queue, emit function, state machine
################################################################################

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = coalesce(var.kms_key_arn, "alias/aws/sns")
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "this" {
  for_each = var.subscriptions

  topic_arn            = aws_sns_topic.this.arn
  protocol             = each.value.protocol
  endpoint             = each.value.endpoint
  raw_message_delivery = each.value.raw_message_delivery
  filter_policy        = each.value.filter_policy
  filter_policy_scope  = each.value.filter_policy == null ? null : each.value.filter_policy_scope
}

# The dead-letter queue: tasks whose emission failed after every retry, with the error.
resource "aws_sqs_queue" "this" {
  name                      = "${var.name}-dead-letter"
  message_retention_seconds = var.dead_letter_retention_seconds
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

resource "aws_lambda_function" "emit" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the state machine, never asynchronously, so a Lambda DLQ would never receive anything; failed emissions are retried, then caught into aws_sqs_queue.this.
  #checkov:skip=CKV_AWS_117:Calls only public AWS APIs and reaches no private resource; a VPC would add NAT or VPC endpoints and ENI set-up for no isolation gain.
  #checkov:skip=CKV_AWS_272:Deployed from the committed, reproducible dist/task_scheduler.zip pinned by commit; code signing needs an AWS Signer job output in S3, which a module applied straight from git cannot supply.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (names, ARNs, levels, limits) and Lambda encrypts it at rest with its AWS managed key; a customer key would only add KMS grants to the deployer policy.
  function_name    = "${var.name}-emit"
  description      = "Publishes a scheduled task's message to the task topic when its timestamp arrives."
  role             = aws_iam_role.lambda["emit"].arn
  filename         = local.package_path
  source_code_hash = filebase64sha256(local.package_path)
  handler          = local.functions.emit.handler
  timeout          = local.functions.emit.timeout
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.emit_memory_size
  layers           = [local.powertools_layer_arn]

  reserved_concurrent_executions = var.lambda_reserved_concurrent_executions

  environment {
    variables = merge(local.powertools_environment, {
      TOPIC_ARN = aws_sns_topic.this.arn
    })
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  tags = var.tags
  # The log group must exist before the function logs, and the role's policy before the
  # function uses it (X-Ray tracing is checked at creation).
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.emit]
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:include_execution_data stays false on purpose: execution input and output carry the task message, user data kept out of the logs (README, Security).
  name     = var.name
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine.arn

  definition = jsonencode({
    Comment = "Waits until the task's release second, emits it at its timestamp, and parks it in the dead-letter queue if emission keeps failing."
    StartAt = "WaitUntilRelease"
    States = {
      # The Wait truncates a timestamp's milliseconds, so it waits until release_at: a whole
      # second at least emission_lead_seconds before the timestamp (set by the api function).
      # The emit function holds until the exact millisecond. Two states per task in all.
      WaitUntilRelease = {
        Type          = "Wait"
        TimestampPath = "$.release_at"
        Next          = "Emit"
      }
      Emit = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = aws_lambda_function.emit.arn
          "Payload.$"  = "$"
        }
        OutputPath = "$.Payload"
        # Worst case after the Wait, all retries failing: 126 s (Lambda service errors)
        # + at most 900 s (emit_retry, see its validation) + 255 s (dead-letter send)
        # + up to 10 function timeouts of at most 90 s: under 40 minutes, inside the hour
        # the api function keeps between the latest timestamp and the one-year limit.
        Retry = [
          {
            ErrorEquals     = ["Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException", "Lambda.TooManyRequestsException"]
            IntervalSeconds = 2
            MaxAttempts     = 6
            BackoffRate     = 2
          },
          {
            ErrorEquals     = ["States.ALL"]
            IntervalSeconds = var.emit_retry.interval_seconds
            MaxAttempts     = var.emit_retry.max_attempts
            BackoffRate     = var.emit_retry.backoff_rate
          },
        ]
        Catch = [
          {
            ErrorEquals = ["States.ALL"]
            ResultPath  = "$.error"
            Next        = "SendToDeadLetterQueue"
          },
        ]
        End = true
      }
      SendToDeadLetterQueue = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::sqs:sendMessage"
        Parameters = {
          QueueUrl        = aws_sqs_queue.this.url
          "MessageBody.$" = "$"
        }
        Retry = [
          {
            ErrorEquals     = ["States.ALL"]
            IntervalSeconds = 1
            MaxAttempts     = 8
            BackoffRate     = 2
          },
        ]
        Next = "EmissionFailed"
      }
      EmissionFailed = {
        Type  = "Fail"
        Error = "EmissionFailed"
        Cause = "The task could not be emitted and was sent to the dead-letter queue."
      }
    }
  })

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    # Messages may carry user data: keep them out of the logs.
    include_execution_data = false
    level                  = var.state_machine_log_level
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  tags = var.tags
  # CreateStateMachine checks that the role may deliver logs and traces.
  depends_on = [aws_iam_role_policy.state_machine]
}

################################################################################
# Scheduling API: HTTP API -> api function -> StartExecution
################################################################################

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, never asynchronously, so a Lambda DLQ would never receive anything; every error is answered to the client.
  #checkov:skip=CKV_AWS_117:Calls only public AWS APIs and reaches no private resource; a VPC would add NAT or VPC endpoints and ENI set-up for no isolation gain.
  #checkov:skip=CKV_AWS_272:Deployed from the committed, reproducible dist/task_scheduler.zip pinned by commit; code signing needs an AWS Signer job output in S3, which a module applied straight from git cannot supply.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (names, ARNs, levels, limits) and Lambda encrypts it at rest with its AWS managed key; a customer key would only add KMS grants to the deployer policy.
  function_name    = "${var.name}-api"
  description      = "Validates POST /schedule requests and starts one state machine execution per task."
  role             = aws_iam_role.lambda["api"].arn
  filename         = local.package_path
  source_code_hash = filebase64sha256(local.package_path)
  handler          = local.functions.api.handler
  timeout          = local.functions.api.timeout
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  layers           = [local.powertools_layer_arn]

  reserved_concurrent_executions = var.lambda_reserved_concurrent_executions

  environment {
    variables = merge(local.powertools_environment, {
      STATE_MACHINE_ARN     = aws_sfn_state_machine.this.arn
      MAX_HORIZON_SECONDS   = tostring(var.max_schedule_horizon_days * 86400)
      EMISSION_LEAD_SECONDS = tostring(var.emission_lead_seconds)
    })
  }

  tracing_config {
    mode = var.tracing_enabled ? "Active" : "PassThrough"
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.api]
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = "Schedules one-time tasks: POST /schedule {timestamp, message}."
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.arn
  integration_method     = "POST"
  payload_format_version = "2.0"
  timeout_milliseconds   = (local.functions.api.timeout + 1) * 1000
}

resource "aws_apigatewayv2_route" "this" {
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = local.schedule_route_key
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = var.authorization_type
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttling_rate_limit
    throttling_burst_limit = var.api_throttling_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      callerArn          = "$context.identity.userArn"
      sourceIp           = "$context.identity.sourceIp"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "this" {
  statement_id  = "AllowScheduleRouteInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = local.schedule_route_arn
}
