################################################################################
# Migrations
################################################################################

# Resources whose address changed: each moved block carries a deployment of the earlier
# layout over to the new address, so that upgrading changes nothing.

# The module first had one route, POST /schedule, at the bare address
# aws_apigatewayv2_route.this. When the list, status, cancel and reschedule routes were
# added, the routes became a map keyed by what they do: the existing route is the
# "schedule" instance, kept in place instead of being replaced.
moved {
  from = aws_apigatewayv2_route.this
  to   = aws_apigatewayv2_route.this["schedule"]
}

# Likewise the API Gateway permission on the api function: one statement, at the bare
# address aws_lambda_permission.this, until the permissions became one per route (keyed
# like the routes); the existing statement is the "schedule" instance.
moved {
  from = aws_lambda_permission.this
  to   = aws_lambda_permission.this["schedule"]
}

# The dead-letter queue was aws_sqs_queue.this, the module's only queue; it was renamed for
# what it holds when the Terraform files were split by component, so that its address reads
# in IAM, alarms and outputs as what it is. The queue itself (name, settings) is unchanged.
moved {
  from = aws_sqs_queue.this
  to   = aws_sqs_queue.dead_letter
}
