provider "aws" {
  region = var.region
}

locals {
  name = "reminders"
  tags = { project = "reminders", managed-by = "terraform" }
}

# Customer managed key for the task topic and dead-letter queue. The default key
# policy delegates to IAM, and the module grants its roles use of the key.
resource "aws_kms_key" "tasks" {
  description             = "Encrypts scheduled tasks at rest"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  tags                    = local.tags
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

# A client role (say, a backend service on Lambda) allowed to schedule tasks.
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

# Page someone when a task could not be emitted.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  alarm_name          = "${local.name}-tasks-dead-lettered"
  alarm_description   = "Scheduled tasks failed to emit and wait in the dead-letter queue."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = split(":", module.task_scheduler.sqs_dead_letter_queue_arn)[5] }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}
