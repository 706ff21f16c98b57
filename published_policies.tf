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

################################################################################
# Deployer policy: what a CI identity needs to apply and destroy the module
################################################################################

locals {
  # What the deployer policy names each role by: its exact name, or its prefix and any suffix.
  role_name_patterns = [
    for role in values(local.role_names) : var.iam_role_use_name_prefix ? "${role}-*" : role
  ]
  # The task and slot tables, and the idempotency table of earlier releases, so that a deployer
  # can still delete it on upgrade.
  table_arns = [
    for table in [aws_dynamodb_table.this.name, aws_dynamodb_table.slots.name, "${var.name}-idempotency"] :
    "${local.arn_prefix.dynamodb}:table/${table}"
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
