################################################################################
# Optional operations dashboard (var.dashboard_enabled): one screen of the metrics the
# alarms watch, with the module's own emission metrics beside them. Every metric is one the
# module's functions emit (namespace local.powertools_environment.POWERTOOLS_METRICS_NAMESPACE,
# dimension service = var.name, Powertools' default) or one AWS publishes, by the same names
# and namespaces as the alarms in alarms.tf; each period is the alarms' (alarms.period_seconds).
################################################################################

locals {
  metrics_namespace = local.powertools_environment.POWERTOOLS_METRICS_NAMESPACE
  module_metric     = { namespace = local.metrics_namespace, dimensions = ["service", var.name] }
  state_machine_dim = ["StateMachineArn", aws_sfn_state_machine.this.arn]
  api_dims          = ["ApiId", aws_apigatewayv2_api.this.id, "Stage", aws_apigatewayv2_stage.this.name]

  # AWS's default quota of open executions per account and region (Step Functions quotas,
  # https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
  default_open_executions_quota = 1000000

  # Each widget: a title, its metrics ([namespace, metric name, dimension name, value, ...,
  # {options}], CloudWatch's dashboard body format), and where it sits on the 24-column grid.
  dashboard_widgets = [
    {
      title = "Tasks emitted", x = 0, y = 0, stat = "Sum", annotations = null
      metrics = [
        [local.module_metric.namespace, "TasksEmitted", local.module_metric.dimensions[0], local.module_metric.dimensions[1], { label = "Emitted" }],
      ]
    },
    {
      title = "Emission lateness (ms)", x = 8, y = 0, stat = "p50", annotations = null
      metrics = [
        [local.module_metric.namespace, "EmissionLateness", local.module_metric.dimensions[0], local.module_metric.dimensions[1], { stat = "p50", label = "p50" }],
        [local.module_metric.namespace, "EmissionLateness", local.module_metric.dimensions[0], local.module_metric.dimensions[1], { stat = "p99", label = "p99" }],
      ]
    },
    {
      title = "Lambda throttles", x = 16, y = 0, stat = "Sum", annotations = null
      metrics = [
        ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.emit.function_name, { label = "emit" }],
        ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.api.function_name, { label = "api" }],
      ]
    },
    {
      title = "Dead-letter queue depth", x = 0, y = 6, stat = "Maximum", annotations = null
      metrics = [
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dead_letter.name, { label = "Messages visible" }],
      ]
    },
    {
      title = "Failed, aborted and timed-out executions", x = 8, y = 6, stat = "Sum", annotations = null
      metrics = [
        ["AWS/States", "ExecutionsFailed", local.state_machine_dim[0], local.state_machine_dim[1], { label = "Failed" }],
        ["AWS/States", "ExecutionsAborted", local.state_machine_dim[0], local.state_machine_dim[1], { label = "Aborted" }],
        ["AWS/States", "ExecutionsTimedOut", local.state_machine_dim[0], local.state_machine_dim[1], { label = "Timed out" }],
      ]
    },
    {
      # Dimensionless: the account's open executions in this region and its quota, as the
      # open-executions alarm reads them.
      title = "Open executions (account and region) against the quota", x = 16, y = 6, stat = "Maximum"
      annotations = {
        horizontal = [{ label = "Default quota: 1,000,000 open executions", value = local.default_open_executions_quota }]
      }
      metrics = [
        ["AWS/States", "OpenExecutionCount", { label = "Open executions" }],
        ["AWS/States", "OpenExecutionLimit", { label = "Quota (this account)" }],
      ]
    },
    {
      title = "API 4xx and 5xx (every route)", x = 0, y = 12, stat = "Sum", annotations = null
      metrics = [
        ["AWS/ApiGateway", "4xx", local.api_dims[0], local.api_dims[1], local.api_dims[2], local.api_dims[3], { label = "4xx" }],
        ["AWS/ApiGateway", "5xx", local.api_dims[0], local.api_dims[1], local.api_dims[2], local.api_dims[3], { label = "5xx" }],
      ]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.dashboard_enabled ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for widget in local.dashboard_widgets : {
        type   = "metric"
        x      = widget.x
        y      = widget.y
        width  = 8
        height = 6
        properties = merge(
          {
            title   = widget.title
            view    = "timeSeries"
            region  = local.region
            stat    = widget.stat
            period  = local.alarm_period
            metrics = widget.metrics
          },
          { for key, value in { annotations = widget.annotations } : key => value if value != null },
        )
      }
    ]
  })
}
