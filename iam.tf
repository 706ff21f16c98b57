################################################################################
# Runtime roles: one per function and one for the state machine, each with an
# inline policy assembled from one document per concern.
################################################################################

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    # Confused-deputy guard: only this module's state machine may use the role.
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.arn_prefix.states}:stateMachine:${var.name}"]
    }
  }
}

# IAM role names are global to an account. By default each role is named exactly
# "<name>-<role>", as before; with var.iam_role_use_name_prefix, AWS appends a unique suffix to
# "<name>-<role>-" (IAM's name_prefix), so that the same name can be deployed in several
# regions of one account. The state machine's role is "<name>-sfn-" then: a name_prefix holds
# at most 38 characters.
locals {
  role_names = {
    api           = "${var.name}-api"
    emit          = "${var.name}-emit"
    state_machine = var.iam_role_use_name_prefix ? "${var.name}-sfn" : "${var.name}-state-machine"
  }
}

resource "aws_iam_role" "lambda" {
  for_each = local.functions

  name                 = var.iam_role_use_name_prefix ? null : local.role_names[each.key]
  name_prefix          = var.iam_role_use_name_prefix ? "${local.role_names[each.key]}-" : null
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role" "state_machine" {
  name                 = var.iam_role_use_name_prefix ? null : local.role_names.state_machine
  name_prefix          = var.iam_role_use_name_prefix ? "${local.role_names.state_machine}-" : null
  assume_role_policy   = data.aws_iam_policy_document.states_assume.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = !var.iam_role_use_name_prefix || length(var.name) <= 32
      error_message = "iam_role_use_name_prefix = true needs a name of at most 32 characters: IAM's name_prefix holds at most 38 (\"<name>-emit-\")."
    }
  }
}

data "aws_iam_policy_document" "lambda_logs" {
  for_each = local.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
  }
}

data "aws_iam_policy_document" "tracing" {
  statement {
    sid = "WriteTraces"
    # X-Ray trace ingestion and sampling have no resource-level permissions: AWS requires "*".
    actions = [
      "xray:PutTraceSegments",
      "xray:PutTelemetryRecords",
      "xray:GetSamplingRules",
      "xray:GetSamplingTargets",
    ]
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "start_execution" {
  statement {
    sid       = "StartTaskExecutions"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.this.arn]
  }
}

locals {
  # Executions of this state machine: arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>.
  execution_arns = "${replace(aws_sfn_state_machine.this.arn, ":stateMachine:", ":execution:")}:*"

  # The emit function cannot name aws_sfn_state_machine.this: the state machine names the
  # function, so its role's policy (created before it) would close a cycle. The same ARNs are
  # built from the name, with the account read from a role the module creates (no STS call).
  account_id              = element(split(":", aws_iam_role.state_machine.arn), 4)
  built_state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.name}"
}

# api: GET /schedule/{id} reads the message of a task scheduled before time slots from its
# own execution's input. Nothing in the module stops executions.
data "aws_iam_policy_document" "read_executions" {
  statement {
    sid       = "ReadTaskExecutions"
    actions   = ["states:DescribeExecution"]
    resources = [local.execution_arns]
  }
}

# api: POST registers a task (and deletes it again when nothing could be started to carry it),
# GET reads it, PATCH and DELETE update it; GET /schedule lists tasks of one status through the
# index, or every task with a Scan.
data "aws_iam_policy_document" "register_tasks" {
  statement {
    sid       = "RegisterTasks"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  statement {
    sid       = "ListTasksByStatus"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.this.arn}/index/${local.status_index_name}"]
  }

  statement {
    sid       = "ListAllTasks"
    actions   = ["dynamodb:Scan"]
    resources = [aws_dynamodb_table.this.arn]
  }
}

# api and emit: a task joins its slot (the slot's counter, an update), its entry is written
# once and read back (GET /schedule/{id} reads the message there); the emit function seals a
# shard and records what it published (updates) and reads a shard (a Query of its partition).
data "aws_iam_policy_document" "place_tasks" {
  statement {
    sid       = "PlaceTasksInSlots"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.slots.arn]
  }
}

data "aws_iam_policy_document" "read_shards" {
  statement {
    sid       = "ReadShards"
    actions   = ["dynamodb:Query"]
    resources = [aws_dynamodb_table.slots.arn]
  }
}

# emit: claims a task before publishing it, or marks it failed (conditional updates), and reads
# it when a segment of a task scheduled before time slots ends.
data "aws_iam_policy_document" "claim_tasks" {
  statement {
    sid       = "ClaimTasks"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }
}

# emit: a hop of a far-future shard starts the next one; a task scheduled before time slots
# whose segment ends starts its shard's execution.
data "aws_iam_policy_document" "continue_executions" {
  statement {
    sid       = "StartNextExecutions"
    actions   = ["states:StartExecution"]
    resources = [local.built_state_machine_arn]
  }
}

# emit: a task that cannot be published is parked alone, with its error.
data "aws_iam_policy_document" "dead_letter_tasks" {
  statement {
    sid       = "DeadLetterTasks"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }
}

# state machine: MarkFailed, in executions started before time slots (they keep the definition
# they started with), records a dead-lettered task as failed.
data "aws_iam_policy_document" "mark_failed" {
  statement {
    sid       = "MarkTasksFailed"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }
}

# Empty without a customer managed key. DynamoDB decrypts the table key with the key of the
# table on behalf of the principal who accesses the table
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html),
# so every role that reads or writes items may decrypt with it, through DynamoDB only (the
# slot table uses the same key).
data "aws_iam_policy_document" "table_key" {
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptTableKey"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }
}

# Empty without a customer managed key. With one, Step Functions encrypts the definition and
# each execution's data with it, on behalf of whoever starts or reads an execution and of the
# state machine's role, in the encryption context of the state machine's ARN
# ("Data at rest encryption in Step Functions",
# https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html): StartExecution
# needs GenerateDataKey, DescribeExecution Decrypt, only for this state machine.
data "aws_iam_policy_document" "execution_data_key" {
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "EncryptExecutionData"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:aws:states:stateMachineArn"
        values   = [local.built_state_machine_arn]
      }
    }
  }
}

# Empty without a customer managed key. With one, the state machine's role also encrypts the
# execution logs it delivers (the console's policy for a customer key with logging; the CDK
# grants the same, https://github.com/aws/aws-cdk/pull/30959): for log groups of this account
# and region only.
data "aws_iam_policy_document" "execution_log_key" {
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "EncryptExecutionLogs"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:EncryptionContext:SourceArn"
        values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:*"]
      }
    }
  }
}

data "aws_iam_policy_document" "publish" {
  statement {
    sid       = "PublishTasks"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
  }
}

# Empty without a customer managed key: AWS managed keys authorise through their key policies.
data "aws_iam_policy_document" "encrypt" {
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "EncryptTasks"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

data "aws_iam_policy_document" "orchestrate" {
  statement {
    sid       = "InvokeEmit"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.emit.arn, "${aws_lambda_function.emit.arn}:*"]
  }

  statement {
    sid       = "DeadLetterTasks"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }
}

locals {
  # What the state machine's role may call to deliver its execution logs.
  log_delivery_actions = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
  ]
}

data "aws_iam_policy_document" "state_machine_logs" {
  statement {
    sid = "DeliverExecutionLogs"
    # CloudWatch Logs delivery for Step Functions is configured through these
    # account-level APIs, which support no resource-level permissions: AWS requires "*".
    actions   = local.log_delivery_actions
    resources = ["*"]
  }
}

locals {
  tracing_policies = var.tracing_enabled ? [data.aws_iam_policy_document.tracing.json] : []
}

data "aws_iam_policy_document" "api" {
  source_policy_documents = concat([
    data.aws_iam_policy_document.lambda_logs["api"].json,
    data.aws_iam_policy_document.start_execution.json,
    data.aws_iam_policy_document.read_executions.json,
    data.aws_iam_policy_document.register_tasks.json,
    data.aws_iam_policy_document.place_tasks.json,
    data.aws_iam_policy_document.table_key.json,
    data.aws_iam_policy_document.execution_data_key.json,
  ], local.tracing_policies)
}

data "aws_iam_policy_document" "emit" {
  source_policy_documents = concat([
    data.aws_iam_policy_document.lambda_logs["emit"].json,
    data.aws_iam_policy_document.publish.json,
    data.aws_iam_policy_document.encrypt.json,
    data.aws_iam_policy_document.claim_tasks.json,
    data.aws_iam_policy_document.place_tasks.json,
    data.aws_iam_policy_document.read_shards.json,
    data.aws_iam_policy_document.continue_executions.json,
    data.aws_iam_policy_document.dead_letter_tasks.json,
    data.aws_iam_policy_document.table_key.json,
    data.aws_iam_policy_document.execution_data_key.json,
  ], local.tracing_policies)
}

data "aws_iam_policy_document" "state_machine" {
  source_policy_documents = concat([
    data.aws_iam_policy_document.orchestrate.json,
    data.aws_iam_policy_document.state_machine_logs.json,
    data.aws_iam_policy_document.encrypt.json,
    data.aws_iam_policy_document.mark_failed.json,
    data.aws_iam_policy_document.table_key.json,
    data.aws_iam_policy_document.execution_data_key.json,
    data.aws_iam_policy_document.execution_log_key.json,
  ], local.tracing_policies)
}

resource "aws_iam_role_policy" "api" {
  name   = "schedule-tasks"
  role   = aws_iam_role.lambda["api"].id
  policy = data.aws_iam_policy_document.api.json
}

resource "aws_iam_role_policy" "emit" {
  name   = "emit-tasks"
  role   = aws_iam_role.lambda["emit"].id
  policy = data.aws_iam_policy_document.emit.json
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "run-tasks"
  role   = aws_iam_role.state_machine.id
  policy = data.aws_iam_policy_document.state_machine.json
}
