provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name = "reminders"
  tags = { project = "reminders", managed-by = "terraform" }

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # The log groups the module creates for this name (its cloudwatch_log_group_names output).
  log_group_arns = [
    for group in [
      "/aws/lambda/${local.name}-api",
      "/aws/lambda/${local.name}-emit",
      "/aws/vendedlogs/states/${local.name}",
      "/aws/apigateway/${local.name}",
    ] : "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:${group}"
  ]
}

# Customer managed key for the task topic, the dead-letter queue, the task table, the state
# machine's execution data and the log groups.
resource "aws_kms_key" "tasks" {
  description             = "Encrypts scheduled tasks and their logs at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.tasks_key.json
  tags                    = local.tags
}

data "aws_iam_policy_document" "tasks_key" {
  # The default key policy: IAM policies in this account decide who may use the key.
  # The module grants its roles kms:GenerateDataKey and kms:Decrypt on it (for the table, only
  # kms:Decrypt through DynamoDB), and deployer_policy_json what creating the table with it needs.
  statement {
    sid       = "EnableIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs is not an IAM principal of the account: the key policy itself must let
  # it use the key, or creating the log groups fails. The statement of "Encrypt log data in
  # CloudWatch Logs using AWS KMS"
  # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html),
  # its encryption context narrowed from the account's log groups to this module's four.
  statement {
    sid       = "AllowCloudWatchLogsForTaskSchedulerLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.log_group_arns
    }
  }

  # The state machine's execution logs reach their (encrypted) log group through CloudWatch
  # Logs' delivery service, which decrypts the data key the state machine's role generated
  # ("Data at rest encryption in Step Functions",
  # https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
  statement {
    sid       = "AllowLogDeliveryForStateMachineLogs"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }
  }

  # CloudWatch alarms publish to the alarm topic encrypted with this key: CloudWatch needs
  # kms:Decrypt and kms:GenerateDataKey* in the key policy, as "Enable compatibility between
  # event sources from AWS services and encrypted topics" describes
  # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
  statement {
    sid       = "AllowCloudWatchAlarmsToPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}

module "task_scheduler" {
  source = "../../"

  name        = local.name
  tags        = local.tags
  kms_key_arn = aws_kms_key.tasks.arn

  max_schedule_horizon_days  = 90
  api_throttling_rate_limit  = 20
  api_throttling_burst_limit = 40
  log_retention_in_days      = 90
  state_machine_log_level    = "ALL"
  emit_retry                 = { max_attempts = 5, interval_seconds = 5, backoff_rate = 2 }

  # Dead letters, failed, timed-out and aborted executions, API 5xx, emit errors and
  # throttles, and open executions near the account's quota (docs/operations.md, Alarms).
  alarm_topic_arn = aws_sns_topic.alarms.arn
  alarms          = { enabled = true, period_seconds = 60, evaluation_periods = 5, api_5xx_threshold = 10 }

  subscriptions = {
    worker = {
      protocol             = "sqs"
      endpoint             = aws_sqs_queue.worker.arn
      raw_message_delivery = true
    }
  }
}

################################################################################
# What another stack does with the outputs
################################################################################

# A worker queue that receives every emitted task.
resource "aws_sqs_queue" "worker" {
  name                    = "${local.name}-worker"
  sqs_managed_sse_enabled = true
  tags                    = local.tags
}

data "aws_iam_policy_document" "worker_queue" {
  statement {
    sid       = "AcceptTasksFromTopic"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.worker.arn]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [module.task_scheduler.sns_topic_arn]
    }
  }
}

resource "aws_sqs_queue_policy" "worker" {
  queue_url = aws_sqs_queue.worker.id
  policy    = data.aws_iam_policy_document.worker_queue.json
}

# A client role (say, a backend service on Lambda) allowed to schedule and manage tasks.
data "aws_iam_policy_document" "client_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "client" {
  name               = "${local.name}-client"
  assume_role_policy = data.aws_iam_policy_document.client_assume.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "client_schedules_tasks" {
  name   = "schedule-tasks"
  role   = aws_iam_role.client.id
  policy = module.task_scheduler.invoke_policy_json
}

# The topic the module's alarms notify (subscribe your on-call to it). Encrypted with the
# same key, whose policy lets CloudWatch use it (AllowCloudWatchAlarmsToPublish above).
resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.tasks.arn
  tags              = local.tags
}
