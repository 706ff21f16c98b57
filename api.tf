################################################################################
# API function
################################################################################

locals {
  # lambda_memory_size is the deprecated name of api_memory_size: when a caller still sets it,
  # it wins, so that upgrading changes nothing until the caller renames it.
  api_memory_size = var.lambda_memory_size != null ? var.lambda_memory_size : var.api_memory_size
}

# Terraform has no deprecation warning for a module's variables: a check block warns (a failed
# check is a warning, never an error) while the old name is in use.
check "lambda_memory_size_deprecated" {
  assert {
    condition     = var.lambda_memory_size == null
    error_message = "lambda_memory_size is deprecated and will be removed in a future release: set api_memory_size instead (it sizes the same api function)."
  }
}

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
  memory_size      = local.api_memory_size
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

################################################################################
# HTTP API: routes -> api function
################################################################################

locals {
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

################################################################################
# Lambda permissions
################################################################################

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
