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
    api = { handler = "task_scheduler.api.handler.lambda_handler", timeout = 25 }
    # The emit function holds up to lead + 1 s (the Wait releases it at a whole second at
    # least the lead early), then keeps 10 s to publish (PUBLISH_RESERVE_SECONDS) within this.
    emit = { handler = "task_scheduler.emit.handler.lambda_handler", timeout = 30 + var.emission_lead_seconds }
  }

  powertools_environment = {
    POWERTOOLS_SERVICE_NAME      = var.name
    POWERTOOLS_METRICS_NAMESPACE = "TaskScheduler"
    POWERTOOLS_LOG_LEVEL         = var.log_level
  }

  # Every route of the HTTP API, by what it does; all are served by the api function.
  routes = {
    schedule   = "POST /schedule"
    list       = "GET /schedule"
    status     = "GET /schedule/{id}"
    cancel     = "DELETE /schedule/{id}"
    reschedule = "PATCH /schedule/{id}"
  }
  # Which jwt_scopes each route requires under JWT authorization: changes need write, reads read.
  route_access = {
    schedule   = "write"
    list       = "read"
    status     = "read"
    cancel     = "write"
    reschedule = "write"
  }
  jwt_authorization = var.authorization_type == "JWT"

  # Each route's throttling: its entry in var.api_route_throttling, never above the stage's.
  route_throttling = {
    for key, limits in var.api_route_throttling : key => {
      rate_limit  = min(limits.rate_limit, var.api_throttling_rate_limit)
      burst_limit = min(limits.burst_limit, var.api_throttling_burst_limit)
    }
  }

  # execute-api ARN of each route on every stage: <api>/<stage>/<method>/<path>, where a path
  # parameter matches any one value ("*").
  route_arns = {
    for key, route in local.routes : key => format(
      "%s/*/%s%s",
      aws_apigatewayv2_api.this.execution_arn,
      split(" ", route)[0],
      replace(split(" ", route)[1], "{id}", "*"),
    )
  }

  # How long the Emit Task waits for an invocation beyond the function's own timeout.
  emit_task_timeout_margin_seconds = 10

  # With a customer key, Step Functions calls GenerateDataKey again when a data key is this old:
  # the longest period it allows (60 to 900 s), so the fewest KMS requests.
  # https://docs.aws.amazon.com/step-functions/latest/apireference/API_EncryptionConfiguration.html
  state_machine_data_key_reuse_seconds = 900

  # Throttling and Lambda service errors: a burst of due tasks can outrun the account's
  # concurrency or its scaling rate, so these are retried long enough that such a burst is
  # late, never dead-lettered for throttling alone. FULL jitter spreads the retries of tasks
  # throttled together (without it they retry in lock-step); each wait is at most 60 s and all
  # of them together at most 1 + 2 + ... + 32 + 9 x 60 = 603 s (about 300 s on average).
  # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (Retrying
  # after an error: MaxDelaySeconds, JitterStrategy) and
  # https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html (handle
  # transient Lambda service exceptions).
  emit_throttle_retry = {
    ErrorEquals = [
      "Lambda.ServiceException",
      "Lambda.AWSLambdaException",
      "Lambda.SdkClientException",
      "Lambda.TooManyRequestsException",
      "Lambda.ClientExecutionTimeoutException",
    ]
    IntervalSeconds = 1
    MaxAttempts     = 15
    BackoffRate     = 2
    MaxDelaySeconds = 60
    JitterStrategy  = "FULL"
  }

  # The task registry's secondary index: tasks of one status, oldest timestamp first.
  status_index_name = "status-timestamp"
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
# Task registry: one item per task (status, version, placement, claimant); the message
# itself is in the slot table. Conditional writes on it order cancel, reschedule and
# emission (README, How it works).
################################################################################

resource "aws_dynamodb_table" "this" {
  name         = "${var.name}-tasks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "timestamp"
    type = "S"
  }

  # GET /schedule?status=...: a Query per status, in timestamp order.
  global_secondary_index {
    name            = local.status_index_name
    hash_key        = "status"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  # A closed task (emitted, cancelled) expires 90 days after it closed: as long as Step
  # Functions keeps its execution name, so an id cannot be reused while it would collide.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # With var.kms_key_arn, the customer key; without it, the AWS managed key alias/aws/dynamodb
  # (as the topic uses alias/aws/sns).
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

# Time slots (lambda_src/task_scheduler/slot_store.py): per slot, a counter of the tasks that
# joined it and the shards already read; per shard, its entries (each task version with its
# message, written once) and what its emit invocations published. The emit function reads a
# shard by its partition key, strongly consistent: no index on the emission path.
resource "aws_dynamodb_table" "slots" {
  name         = "${var.name}-slots"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "N"
  }

  # Items expire 91 days after their slot: longer than the registry keeps a closed task.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  # The entries hold the messages of tasks not yet emitted.
  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
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
  description      = "Publishes the tasks of a time slot's shard to the task topic, each at its timestamp's millisecond."
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
      TOPIC_ARN                 = aws_sns_topic.this.arn
      TASKS_TABLE_NAME          = aws_dynamodb_table.this.name
      SLOTS_TABLE_NAME          = aws_dynamodb_table.slots.name
      DEAD_LETTER_QUEUE_URL     = aws_sqs_queue.this.url
      PUBLICATION_LOG           = tostring(var.emit_idempotency_enabled)
      EMISSION_LEAD_SECONDS     = tostring(var.emission_lead_seconds)
      EXECUTION_SEGMENT_SECONDS = tostring(var.execution_segment_seconds)
      SLOT_SHARD_UNITS          = tostring(var.slot_shard_size)
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
    Comment = "Waits until a time slot's release second, emits its shard's tasks at their timestamps (or starts the next hop of a far-future shard), and parks what cannot be emitted in the dead-letter queue, marked failed."
    StartAt = "WaitUntilRelease"
    States = {
      # The Wait truncates a timestamp's milliseconds, so it waits until release_at: a whole
      # second at least emission_lead_seconds before the slot, or the end of this hop, at most
      # execution_segment_seconds after its start. The emit function holds until each task's
      # millisecond. Two states per execution when all goes well.
      WaitUntilRelease = {
        Type          = "Wait"
        TimestampPath = "$.release_at"
        Next          = "Emit"
      }
      Emit = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        # What to emit (a shard, one late task, or a task scheduled before time slots), and
        # this execution's ARN: the emit function claims each task for this execution.
        Parameters = {
          FunctionName = aws_lambda_function.emit.arn
          Payload = {
            "task.$"          = "$"
            "execution_arn.$" = "$$.Execution.Id"
          }
        }
        # A few counts: the state stays far below 256 KiB however large the shard.
        OutputPath = "$.Payload"
        # An invocation whose answer never comes (lost, or the function hung past its own
        # timeout) fails with States.Timeout and is retried by the States.ALL retrier below.
        TimeoutSeconds = local.functions.emit.timeout + local.emit_task_timeout_margin_seconds
        # Worst case after the Wait, all retries failing: about 10 minutes of throttling and
        # Lambda service errors (local.emit_throttle_retry), 900 s (emit_retry, see its
        # validation) and up to 11 Task timeouts (the first attempt and emit_retry's 10) of at
        # most 100 s, then the dead-letter path's own retries (minutes): under an hour, inside
        # the day a segment (at most 364 days) leaves of the one-year limit.
        Retry = [
          local.emit_throttle_retry,
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
            Next        = "DeadLetter"
          },
        ]
        End = true
      }
      # The emit function marks every task of the input not yet published failed, and parks
      # each alone, with its message and the error, in the dead-letter queue.
      DeadLetter = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = aws_lambda_function.emit.arn
          Payload = {
            "dead_letter.$"   = "$"
            "execution_arn.$" = "$$.Execution.Id"
          }
        }
        ResultPath     = null
        TimeoutSeconds = local.functions.emit.timeout + local.emit_task_timeout_margin_seconds
        Retry = [
          local.emit_throttle_retry,
          {
            ErrorEquals     = ["States.ALL"]
            IntervalSeconds = 2
            MaxAttempts     = 6
            BackoffRate     = 2
          },
        ]
        # Last resort: the input itself (which names the shard, whose entries keep the
        # messages), with both errors.
        Catch = [
          {
            ErrorEquals = ["States.ALL"]
            ResultPath  = "$.dead_letter_error"
            Next        = "SendToDeadLetterQueue"
          },
        ]
        Next = "EmissionFailed"
      }
      SendToDeadLetterQueue = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::sqs:sendMessage"
        Parameters = {
          QueueUrl        = aws_sqs_queue.this.url
          "MessageBody.$" = "$"
        }
        ResultPath = null
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
        Cause = "Tasks could not be emitted: they were sent to the dead-letter queue and marked failed in the task registry."
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

  # With var.kms_key_arn, the definition and every execution's history (task ids, shard names,
  # errors) are encrypted with the customer key; without it, with a key AWS owns.
  encryption_configuration {
    type                              = var.kms_key_arn == null ? "AWS_OWNED_KEY" : "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : local.state_machine_data_key_reuse_seconds
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
  description      = "Serves the /schedule routes: schedules, lists, reads, reschedules and cancels tasks (tasks due in the same second share executions)."
  role             = aws_iam_role.lambda["api"].arn
  filename         = local.package_path
  source_code_hash = filebase64sha256(local.package_path)
  handler          = local.functions.api.handler
  timeout          = local.functions.api.timeout
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  layers           = [local.powertools_layer_arn]

  # Its own cap when set, so that API traffic cannot take the emit function's concurrency.
  reserved_concurrent_executions = coalesce(var.api_reserved_concurrent_executions, var.lambda_reserved_concurrent_executions)

  environment {
    variables = merge(local.powertools_environment, {
      STATE_MACHINE_ARN         = aws_sfn_state_machine.this.arn
      TASKS_TABLE_NAME          = aws_dynamodb_table.this.name
      SLOTS_TABLE_NAME          = aws_dynamodb_table.slots.name
      MAX_HORIZON_SECONDS       = tostring(var.max_schedule_horizon_days * 86400)
      EMISSION_LEAD_SECONDS     = tostring(var.emission_lead_seconds)
      EXECUTION_SEGMENT_SECONDS = tostring(var.execution_segment_seconds)
      SLOT_SHARD_UNITS          = tostring(var.slot_shard_size)
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
  description   = "Schedules one-time tasks (POST /schedule {timestamp, message}) and lists, reads, reschedules and cancels them."
  protocol_type = "HTTP"
  tags          = var.tags

  # Checks across variables (a variable's own validation can name only itself before
  # Terraform 1.9).
  lifecycle {
    precondition {
      condition     = !local.jwt_authorization || (var.jwt_issuer != null && length(var.jwt_audience) > 0)
      error_message = "authorization_type = \"JWT\" needs jwt_issuer (the token issuer's https URL) and at least one jwt_audience."
    }
    precondition {
      condition     = local.jwt_authorization || (var.jwt_issuer == null && length(var.jwt_audience) == 0 && length(concat(var.jwt_scopes.read, var.jwt_scopes.write)) == 0)
      error_message = "jwt_issuer, jwt_audience and jwt_scopes apply only with authorization_type = \"JWT\": set it, or leave them unset (the routes would not check tokens)."
    }
  }
}

resource "aws_apigatewayv2_integration" "this" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.arn
  integration_method     = "POST"
  payload_format_version = "2.0"
  timeout_milliseconds   = (local.functions.api.timeout + 1) * 1000
}

# JWT authorization: API Gateway checks the bearer token's signature against the issuer's keys,
# its expiry, issuer and audience
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
resource "aws_apigatewayv2_authorizer" "this" {
  count = local.jwt_authorization ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

# Every route is authorized alike. Under AWS_IAM a caller who may read tasks but not schedule
# them is told apart by the execute-api ARNs its policy names (invoke_read_only_policy_json);
# under JWT by the token's scopes (jwt_scopes: write or read, by route).
resource "aws_apigatewayv2_route" "this" {
  for_each = local.routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.this.id}"
  authorization_type = var.authorization_type
  authorizer_id      = local.jwt_authorization ? aws_apigatewayv2_authorizer.this[0].id : null
  # No scopes (null) when jwt_scopes lists none for the route: any valid token is accepted.
  authorization_scopes = (
    local.jwt_authorization && length(var.jwt_scopes[local.route_access[each.key]]) > 0
    ? var.jwt_scopes[local.route_access[each.key]]
    : null
  )
}

# Before issue 8 the module had the POST /schedule route alone, at the bare address.
moved {
  from = aws_apigatewayv2_route.this
  to   = aws_apigatewayv2_route.this["schedule"]
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = var.api_throttling_rate_limit
    throttling_burst_limit = var.api_throttling_burst_limit
  }

  # API Gateway refuses settings for a route that does not exist yet: each names its route.
  dynamic "route_settings" {
    for_each = local.route_throttling
    content {
      route_key              = aws_apigatewayv2_route.this[route_settings.key].route_key
      throttling_rate_limit  = route_settings.value.rate_limit
      throttling_burst_limit = route_settings.value.burst_limit
    }
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

# One statement per route, each naming that route's execute-api ARN: API Gateway may invoke
# the function for these five routes only.
resource "aws_lambda_permission" "this" {
  for_each = local.route_arns

  statement_id  = "Allow${title(each.key)}RouteInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = each.value
}

moved {
  from = aws_lambda_permission.this
  to   = aws_lambda_permission.this["schedule"]
}
