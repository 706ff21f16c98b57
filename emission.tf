################################################################################
# Topic and subscriptions
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

################################################################################
# Dead-letter queue
################################################################################

# The dead-letter queue: tasks whose emission failed after every retry, with the error.
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name}-dead-letter"
  message_retention_seconds = var.dead_letter_retention_seconds
  sqs_managed_sse_enabled   = var.kms_key_arn == null ? true : null
  kms_master_key_id         = var.kms_key_arn
  tags                      = var.tags
}

################################################################################
# Emit function
################################################################################

resource "aws_lambda_function" "emit" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by the state machine, never asynchronously, so a Lambda DLQ would never receive anything; failed emissions are retried, then caught into aws_sqs_queue.dead_letter.
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
      DEAD_LETTER_QUEUE_URL     = aws_sqs_queue.dead_letter.url
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
