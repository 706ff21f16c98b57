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

resource "aws_iam_role" "lambda" {
  for_each = local.functions

  name               = "${var.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = var.tags
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name}-state-machine"
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = var.tags
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
  ], local.tracing_policies)
}

data "aws_iam_policy_document" "emit" {
  source_policy_documents = concat([
    data.aws_iam_policy_document.lambda_logs["emit"].json,
    data.aws_iam_policy_document.publish.json,
    data.aws_iam_policy_document.encrypt.json,
  ], local.tracing_policies)
}

data "aws_iam_policy_document" "state_machine" {
  source_policy_documents = concat([
    data.aws_iam_policy_document.orchestrate.json,
    data.aws_iam_policy_document.state_machine_logs.json,
    data.aws_iam_policy_document.encrypt.json,
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

data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "ScheduleTasks"
    actions   = ["execute-api:Invoke"]
    resources = [local.schedule_route_arn]
  }
}

locals {
  # The deployer policy is rendered at plan time without an STS call, so the account
  # is a wildcard; every ARN is pinned to this partition, region and name prefix.
  arn_prefix = {
    iam    = "arn:${local.partition}:iam::*"
    states = "arn:${local.partition}:states:${local.region}:*"
    sns    = "arn:${local.partition}:sns:${local.region}:*"
    sqs    = "arn:${local.partition}:sqs:${local.region}:*"
    lambda = "arn:${local.partition}:lambda:${local.region}:*"
    logs   = "arn:${local.partition}:logs:${local.region}:*"
  }
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
  role_arns = [
    for role in concat(values(aws_iam_role.lambda)[*].name, [aws_iam_role.state_machine.name]) :
    "${local.arn_prefix.iam}:role/${role}"
  ]
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
}

data "aws_iam_policy_document" "deployer" {
  # The first statements carry the action list of the product's documented policy,
  # each scoped to this module's names instead of account-wide wildcards.
  statement {
    sid = "ManageRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:TagRole", "iam:UntagRole",
      "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:UpdateAssumeRolePolicy",
    ]
    resources = local.role_arns
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

  statement {
    sid       = "ManageExecutions"
    actions   = ["states:StartExecution", "states:StopExecution", "states:DescribeExecution"]
    resources = ["${local.arn_prefix.states}:execution:${var.name}:*", "${local.arn_prefix.states}:stateMachine:${var.name}"]
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
    sid       = "ManageSubscriptions"
    actions   = ["sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:SetSubscriptionAttributes"]
    resources = ["${local.arn_prefix.sns}:${var.name}:*"]
  }

  statement {
    sid = "ManageDeadLetterQueue"
    actions = [
      "sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
      "sqs:GetQueueUrl", "sqs:TagQueue", "sqs:UntagQueue", "sqs:ListQueueTags",
    ]
    resources = ["${local.arn_prefix.sqs}:${var.name}-dead-letter"]
  }

  statement {
    sid = "ManageFunctions"
    actions = [
      "lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
      "lambda:GetFunctionConfiguration", "lambda:GetFunctionCodeSigningConfig",
      "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:ListVersionsByFunction",
      "lambda:AddPermission", "lambda:RemovePermission", "lambda:GetPolicy",
      "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags",
    ]
    resources = local.function_arns
  }

  statement {
    sid       = "UsePowertoolsLayer"
    actions   = ["lambda:GetLayerVersion"]
    resources = [local.powertools_layer_arn]
  }

  statement {
    sid = "ManageLogGroups"
    actions = [
      "logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
      "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource",
      "logs:ListTagsForResource", "logs:TagLogGroup", "logs:ListTagsLogGroup",
    ]
    resources = local.log_group_arns
  }

  statement {
    sid = "DescribeLogGroupsAndDeliveries"
    # Listing log groups and the Step Functions log-delivery APIs have no
    # resource-level permissions: AWS requires "*".
    actions   = local.log_delivery_actions
    resources = ["*"]
  }

  statement {
    sid     = "ManageHttpApi"
    actions = ["apigateway:GET", "apigateway:POST", "apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE", "apigateway:TagResource", "apigateway:UntagResource"]
    # API ids are generated by AWS, so the module's API cannot be named in advance.
    resources = [
      "arn:${local.partition}:apigateway:${local.region}::/apis",
      "arn:${local.partition}:apigateway:${local.region}::/apis/*",
      "arn:${local.partition}:apigateway:${local.region}::/tags/*",
    ]
  }
}
