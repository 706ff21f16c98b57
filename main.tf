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
    # The api function's boto3 calls are bounded (see lambda_src/task_scheduler/aws/clients.py) so
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

  # Policies rendered at plan time without an STS call (the deployer policy, the state
  # machine's trust policy) name any account; every ARN is pinned to this partition and region.
  arn_prefix = {
    iam      = "arn:${local.partition}:iam::*"
    states   = "arn:${local.partition}:states:${local.region}:*"
    sns      = "arn:${local.partition}:sns:${local.region}:*"
    sqs      = "arn:${local.partition}:sqs:${local.region}:*"
    lambda   = "arn:${local.partition}:lambda:${local.region}:*"
    logs     = "arn:${local.partition}:logs:${local.region}:*"
    alarm    = "arn:${local.partition}:cloudwatch:${local.region}:*:alarm"
    dynamodb = "arn:${local.partition}:dynamodb:${local.region}:*"
  }
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
