# The module deployed into the local emulator that `make run` starts (no AWS account).
# Only the provider differs from a real deployment: fake credentials, every service
# pointed at the emulator, and no retry loops against calls it does not implement.
# The account id is read from the emulator's STS, as on AWS: the HTTP API's execute-api ARN,
# and with it the invoke policies and the gateway's IAM check, need it.
provider "aws" {
  region                      = var.region
  access_key                  = "local"
  secret_key                  = "local"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  max_retries                 = 1

  endpoints {
    apigatewayv2   = var.endpoint_url
    cloudwatchlogs = var.endpoint_url
    dynamodb       = var.endpoint_url
    iam            = var.endpoint_url
    lambda         = var.endpoint_url
    sfn            = var.endpoint_url
    sns            = var.endpoint_url
    sqs            = var.endpoint_url
    sts            = var.endpoint_url
  }
}

module "task_scheduler" {
  #checkov:skip=CKV_AWS_309:Emulator only: `make run` serves the routes without authorization on 127.0.0.1 (var.authorization_type defaults to NONE here, so a plain curl works); tests set AWS_IAM or JWT, which the local gateway verifies, and the module's own default is AWS_IAM.
  #checkov:skip=CKV_AWS_284:Emulator only: no X-Ray daemon runs locally, so tracing is off; the module's default turns it on.
  source = "../../"

  name = "local-scheduler"
  # NONE for `make run` (127.0.0.1 only, plain curl works); the tests also apply AWS_IAM, whose
  # SigV4 signatures and execute-api:Invoke permissions the local gateway verifies.
  authorization_type = var.authorization_type
  # JWT: the tests point these at the emulator's local OpenID Connect issuer.
  jwt_issuer   = var.jwt_issuer
  jwt_audience = var.jwt_audience
  jwt_scopes   = var.jwt_scopes
  # Null keeps the module's default (364 days); the tests shorten it to seconds to see a task
  # continue in a follow-on execution.
  execution_segment_seconds = var.execution_segment_seconds
  # No X-Ray daemon runs locally.
  tracing_enabled = false
  emit_retry      = { max_attempts = 3, interval_seconds = 1, backoff_rate = 2 }

  subscriptions = {
    # Read by `make run` to serve GET /events; the SNS envelope keeps the attributes.
    events = { protocol = "sqs", endpoint = aws_sqs_queue.events.arn }
    # What a consuming stack would subscribe: the raw message, attributes as SQS attributes.
    worker = { protocol = "sqs", endpoint = aws_sqs_queue.worker.arn, raw_message_delivery = true }
  }
}

# No aws_sqs_queue_policy here: the emulator does not enforce queue policies, and each one
# costs ~25 s of apply and destroy while the provider waits for it to propagate. On AWS,
# give SNS sqs:SendMessage as examples/complete does.
resource "aws_sqs_queue" "events" {
  name                    = "local-scheduler-events"
  sqs_managed_sse_enabled = true
}

resource "aws_sqs_queue" "worker" {
  name                    = "local-scheduler-worker"
  sqs_managed_sse_enabled = true
}
