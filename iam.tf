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
  # What the deployer policy names each role by: its exact name, or its prefix and any suffix.
  role_name_patterns = [
    for role in values(local.role_names) : var.iam_role_use_name_prefix ? "${role}-*" : role
  ]
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
    resources = [aws_sqs_queue.this.arn]
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
    resources = [aws_sqs_queue.this.arn]
  }
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

################################################################################
# Policies for other principals, published as outputs
################################################################################

# Every route: schedule, list, status, reschedule and cancel.
data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "ManageTasks"
    actions   = ["execute-api:Invoke"]
    resources = values(local.route_arns)
  }
}

# Status and list only: GET /schedule and GET /schedule/{id}.
data "aws_iam_policy_document" "invoke_read_only" {
  statement {
    sid       = "ReadTasks"
    actions   = ["execute-api:Invoke"]
    resources = [local.route_arns.list, local.route_arns.status]
  }
}

locals {
  # The deployer policy is rendered at plan time without an STS call, so the account
  # is a wildcard; every ARN is pinned to this partition, region and name prefix.
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
  # The task and slot tables, and the idempotency table of earlier releases, so that a deployer
  # can still delete it on upgrade.
  table_arns = [
    for table in [aws_dynamodb_table.this.name, aws_dynamodb_table.slots.name, "${var.name}-idempotency"] :
    "${local.arn_prefix.dynamodb}:table/${table}"
  ]
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
  # Exact names, so that the deployer cannot touch other resources sharing the prefix.
  role_arns = [for role in local.role_name_patterns : "${local.arn_prefix.iam}:role/${role}"]
  function_arns = [
    for function in [aws_lambda_function.api.function_name, aws_lambda_function.emit.function_name] :
    "${local.arn_prefix.lambda}:function:${function}"
  ]
  log_group_arns = [
    for group in concat(values(aws_cloudwatch_log_group.lambda)[*].name, [
      aws_cloudwatch_log_group.state_machine.name,
      aws_cloudwatch_log_group.api_access.name,
    ]) : "${local.arn_prefix.logs}:log-group:${group}"
  ]
  # Every alarm the module can create, whether or not alarm_topic_arn is set now, so that a
  # deployer can still delete them after the alarms are turned off.
  alarm_arns               = [for key in keys(local.alarm_definitions) : "${local.arn_prefix.alarm}:${var.name}-${key}"]
  api_access_log_group_arn = "${local.arn_prefix.logs}:log-group:${aws_cloudwatch_log_group.api_access.name}"
  # API Gateway names a tagged resource by its URL-encoded ARN: /tags/<encoded ARN>.
  apigateway_arn_prefix = "arn:${local.partition}:apigateway:${local.region}::"
  apigateway_tags_arn   = "${local.apigateway_arn_prefix}/tags/${urlencode("${local.apigateway_arn_prefix}/apis/")}*"
}

# Proven against every call the AWS provider makes while applying, refreshing, updating (an
# upgrade that changes every resource the module can change in place) and destroying the
# module with every option on (tests/deployer). Actions no recorded call uses carry
# "# unused: <reason>" on their line; the test fails on any other unused grant. Statements
# that come from AWS's documentation rather than from a recorded call (checks AWS makes
# inside a call, which no recording can show) carry "# documented: <page>" after their sid.
data "aws_iam_policy_document" "deployer" {
  statement {
    sid = "ManageRoles"
    actions = [
      "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole",
      "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
      "iam:UpdateAssumeRolePolicy",        # unused: a module upgrade that changes a trust policy updates it in place
      "iam:DeleteRolePermissionsBoundary", # unused: only when role_permissions_boundary is removed
    ]
    resources = local.role_arns
  }

  # With role_permissions_boundary set, the deployer may create the roles, or change their
  # boundary, only with that boundary.
  statement {
    sid = "CreateRoles"
    actions = [
      "iam:CreateRole",
      "iam:PutRolePermissionsBoundary", # unused: only when role_permissions_boundary changes
    ]
    resources = local.role_arns
    dynamic "condition" {
      for_each = var.role_permissions_boundary == null ? [] : [var.role_permissions_boundary]
      content {
        test     = "StringEquals"
        variable = "iam:PermissionsBoundary"
        values   = [condition.value]
      }
    }
  }

  statement {
    sid       = "PassRolesToServices"
    actions   = ["iam:PassRole"]
    resources = local.role_arns
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com", "states.amazonaws.com"]
    }
  }

  statement {
    sid = "ManageStateMachine"
    actions = [
      "states:CreateStateMachine", "states:DeleteStateMachine", "states:DescribeStateMachine",
      "states:UpdateStateMachine", "states:ListStateMachineVersions", "states:TagResource",
      "states:UntagResource", "states:ListTagsForResource",
    ]
    resources = ["${local.arn_prefix.states}:stateMachine:${var.name}"]
  }

  # The principal who creates, updates or reads a state machine with a customer managed key
  # encrypts and decrypts its definition with it, through Step Functions.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid = "EncryptStateMachine"
      # documented: https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html
      actions   = ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["states.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid = "ValidateDefinitions"
    # ValidateStateMachineDefinition acts on no resource: AWS requires "*".
    actions   = ["states:ValidateStateMachineDefinition"]
    resources = ["*"]
  }

  statement {
    sid = "ManageTopic"
    actions = [
      "sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes",
      "sns:Subscribe", "sns:TagResource", "sns:UntagResource", "sns:ListTagsForResource",
      "sns:ListSubscriptionsByTopic",
    ]
    resources = ["${local.arn_prefix.sns}:${var.name}"]
  }

  statement {
    sid = "ManageSubscriptions"
    # The Service Authorization Reference lists no resource type for these three actions, so
    # AWS authorises them against "*": a subscription ARN in Resource never matches.
    actions   = ["sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes"]
    resources = ["*"]
  }

  statement {
    sid = "ManageDeadLetterQueue"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
      "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
    ]
    resources = ["${local.arn_prefix.sqs}:${var.name}-dead-letter"]
  }

  statement {
    sid = "ManageFunctions"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
      "lambda:GetFunctionCodeSigningConfig", "lambda:UpdateFunctionConfiguration",
      "lambda:ListVersionsByFunction", "lambda:AddPermission", "lambda:RemovePermission",
      "lambda:GetPolicy", "lambda:TagResource", "lambda:UntagResource",
      "lambda:PutFunctionConcurrency",
      "lambda:UpdateFunctionCode",
      "lambda:DeleteFunctionConcurrency",
    ]
    resources = local.function_arns
  }

  statement {
    sid = "ManageTables"
    actions = [
      "dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable",
      "dynamodb:DescribeContinuousBackups", "dynamodb:UpdateContinuousBackups",
      "dynamodb:DescribeTimeToLive", "dynamodb:UpdateTimeToLive",
      "dynamodb:ListTagsOfResource", "dynamodb:TagResource", "dynamodb:UntagResource",
      "dynamodb:UpdateTable", # unused: only when kms_key_arn changes, or a module upgrade changes the table's index
    ]
    resources = local.table_arns
  }

  # The provider reads the AWS managed key for DynamoDB (DescribeKey on alias/aws/dynamodb) each
  # time it reads the table, to tell it from a customer key: that key's metadata only.
  statement {
    sid       = "DescribeDynamoDBManagedKey"
    actions   = ["kms:DescribeKey"]
    resources = ["arn:${local.partition}:kms:${local.region}:*:key/*"]
    condition {
      test     = "StringEquals"
      variable = "kms:RequestAlias"
      values   = ["alias/aws/dynamodb"]
    }
  }

  # DynamoDB uses a customer managed key on behalf of the principal who selects it for a table,
  # who must hold these permissions on it ("Key policy for a customer managed key",
  # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html):
  # only for requests DynamoDB makes in this region.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid = "EncryptTables"
      actions = [
        "kms:DescribeKey", "kms:CreateGrant", "kms:Encrypt", "kms:Decrypt",
        "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
      ]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "UsePowertoolsLayer"
    actions   = ["lambda:GetLayerVersion"]
    resources = [local.powertools_layer_arn]
  }

  statement {
    sid = "ManageLogGroups"
    # CloudWatch Logs authorises actions that name a log group by its name against
    # "log-group:NAME:*" and those that take its ARN (tagging) against the bare ARN.
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
      "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource",
      "logs:AssociateKmsKey",    # unused: only when kms_key_arn changes on existing log groups
      "logs:DisassociateKmsKey", # unused: only when kms_key_arn is removed
    ]
    resources = concat(local.log_group_arns, [for arn in local.log_group_arns : "${arn}:*"])
  }

  statement {
    sid = "DescribeLogGroups"
    # The provider lists log groups to read each one; DescribeLogGroups has no resource-level
    # permission: AWS requires "*".
    actions   = ["logs:DescribeLogGroups"]
    resources = ["*"]
  }

  # HTTP API access logging: what API Gateway's page lists for the user who turns it on
  # ("Permissions to activate logging"), statement by statement, with the page's resources
  # (its region and account pinned to this region and any account). AWS checks these inside
  # CreateStage and UpdateStage: no recorded call shows them.
  statement {
    sid = "AccessLoggingReadLogGroups"
    # documented: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html
    actions = [
      "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:GetLogEvents",
      "logs:FilterLogEvents",
    ]
    resources = ["${local.arn_prefix.logs}:log-group:*"]
  }

  statement {
    sid = "AccessLoggingDeliveries"
    # documented: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html
    # The page grants these on "*": the log-delivery APIs have no resource-level permissions.
    actions = [
      "logs:CreateLogDelivery", "logs:PutResourcePolicy", "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery", "logs:CreateLogGroup", "logs:DescribeResourcePolicies",
      "logs:GetLogDelivery", "logs:ListLogDeliveries",
    ]
    resources = ["*"]
  }

  # In an account where API Gateway has not run yet, creating an API creates its
  # service-linked role AWSServiceRoleForAPIGateway, as the caller: only that role, only for
  # ops.apigateway.amazonaws.com ("Service-linked role permissions for API Gateway").
  statement {
    sid = "CreateApiGatewayServiceLinkedRole"
    # documented: https://docs.aws.amazon.com/apigateway/latest/developerguide/using-service-linked-roles.html
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.arn_prefix.iam}:role/aws-service-role/ops.apigateway.amazonaws.com/AWSServiceRoleForAPIGateway"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["ops.apigateway.amazonaws.com"]
    }
  }

  # HTTP API: its id is generated by AWS, so it is named through API Gateway's condition
  # keys (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonapigatewaymanagementv2.html).
  statement {
    sid       = "CreateHttpApi"
    actions   = ["apigateway:POST"]
    resources = ["${local.apigateway_arn_prefix}/apis"]
    condition {
      test     = "StringEquals"
      variable = "apigateway:Request/ApiName"
      values   = [var.name]
    }
  }

  # UpdateApi: an in-place change of the API, such as its description in a module upgrade.
  statement {
    sid       = "UpdateHttpApi"
    actions   = ["apigateway:PATCH"]
    resources = ["${local.apigateway_arn_prefix}/apis/*"]
    condition {
      test     = "StringEquals"
      variable = "apigateway:Resource/ApiName"
      values   = [var.name]
    }
  }

  statement {
    sid       = "DeleteHttpApi"
    actions   = ["apigateway:DELETE"]
    resources = ["${local.apigateway_arn_prefix}/apis/*"]
    condition {
      test     = "StringEquals"
      variable = "apigateway:Resource/ApiName"
      values   = [var.name]
    }
  }

  statement {
    sid = "ManageHttpApiStage"
    # Only a stage that logs to this module's access log group.
    actions   = ["apigateway:POST"]
    resources = ["${local.apigateway_arn_prefix}/apis/*/stages"]
    condition {
      test     = "ArnLike"
      variable = "apigateway:Request/AccessLoggingDestination"
      values   = [local.api_access_log_group_arn]
    }
  }

  statement {
    sid       = "UpdateHttpApiStage"
    actions   = ["apigateway:PATCH", "apigateway:DELETE"]
    resources = ["${local.apigateway_arn_prefix}/apis/*/stages/*"]
    condition {
      test     = "ArnLike"
      variable = "apigateway:Resource/AccessLoggingDestination"
      values   = [local.api_access_log_group_arn]
    }
  }

  # Changing or removing a route's entry in api_route_throttling deletes its route settings
  # first (DeleteRouteSettings). The Service Authorization Reference gives route settings no
  # access-logging condition key (UpdateHttpApiStage's would never match), so this stays scoped
  # to the region's HTTP APIs, like routes; it can only drop a route's override of its stage's
  # throttling.
  statement {
    sid = "ResetHttpApiRouteSettings"
    actions = [
      "apigateway:DELETE", # unused: only when api_route_throttling changes; the emulator does not implement DeleteRouteSettings
    ]
    resources = ["${local.apigateway_arn_prefix}/apis/*/stages/*/routesettings/*"]
  }

  statement {
    sid = "ManageHttpApiRoutes"
    # Routes and integrations carry no tags and no API name key in API Gateway V2 (tag
    # inheritance is V1 only), so these stay scoped to the region's HTTP APIs.
    actions = ["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"]
    resources = [
      "${local.apigateway_arn_prefix}/apis/*/integrations",
      "${local.apigateway_arn_prefix}/apis/*/integrations/*",
      "${local.apigateway_arn_prefix}/apis/*/routes",
      "${local.apigateway_arn_prefix}/apis/*/routes/*",
    ]
  }

  # The JWT authorizer (authorization_type = JWT), whether or not it exists now, so that a
  # deployer can delete it when the routes leave JWT; like routes, it has no name key or tags.
  statement {
    sid     = "ManageHttpApiAuthorizer"
    actions = ["apigateway:POST", "apigateway:PATCH", "apigateway:DELETE"]
    resources = [
      "${local.apigateway_arn_prefix}/apis/*/authorizers",
      "${local.apigateway_arn_prefix}/apis/*/authorizers/*",
    ]
  }

  statement {
    sid       = "ReadHttpApis"
    actions   = ["apigateway:GET"]
    resources = ["${local.apigateway_arn_prefix}/apis/*"]
  }

  statement {
    sid       = "TagHttpApi"
    actions   = ["apigateway:POST", "apigateway:DELETE"]
    resources = [local.apigateway_tags_arn]
  }

  # CloudWatch alarms (alarm_topic_arn): exact alarm ARNs
  # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html).
  # PutMetricAlarm with Tags also needs cloudwatch:TagResource (PutMetricAlarm API reference).
  statement {
    sid = "ManageAlarms"
    actions = [
      "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms", "cloudwatch:ListTagsForResource",
      "cloudwatch:TagResource", "cloudwatch:UntagResource",
    ]
    resources = local.alarm_arns
  }

  # The operations dashboard (dashboard_enabled), whether or not it exists now, so that a
  # deployer can delete it after it is turned off. Dashboard ARNs carry no region.
  statement {
    sid       = "ManageDashboard"
    actions   = ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard", "cloudwatch:DeleteDashboards"]
    resources = ["arn:${local.partition}:cloudwatch::*:dashboard/${var.name}"]
  }

  # Only alarms whose actions notify the alarm topic: cloudwatch:AlarmActions holds the
  # actions a request sets, for any state
  # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-alarm-actions.html),
  # so an EC2, Lambda or Systems Manager action is refused.
  dynamic "statement" {
    for_each = local.create_alarms ? [var.alarm_topic_arn] : []
    content {
      sid       = "PutAlarms"
      actions   = ["cloudwatch:PutMetricAlarm"]
      resources = local.alarm_arns
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "cloudwatch:AlarmActions"
        values   = [statement.value]
      }
    }
  }
}
