################################################################################
# Task registry
################################################################################

locals {
  # The task registry's secondary index: tasks of one status, oldest timestamp first.
  status_index_name = "status-timestamp"
}

# One item per task (status, version, placement, claimant); the message itself is in the
# slot table. Conditional writes on it order cancel, reschedule and emission (README, How it
# works).
resource "aws_dynamodb_table" "this" {
  name         = "${var.name}-tasks"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "id"

  attribute {
    name = "id"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  attribute {
    name = "timestamp"
    type = "S"
  }

  # GET /schedule?status=...: a Query per status, in timestamp order.
  global_secondary_index {
    name            = local.status_index_name
    hash_key        = "status"
    range_key       = "timestamp"
    projection_type = "ALL"
  }

  # A closed task (emitted, cancelled) expires 90 days after it closed: as long as Step
  # Functions keeps its execution name, so an id cannot be reused while it would collide.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # With var.kms_key_arn, the customer key; without it, the AWS managed key alias/aws/dynamodb
  # (as the topic uses alias/aws/sns).
  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

################################################################################
# Time slots
################################################################################

# Time slots (lambda_src/task_scheduler/aws/slot_store.py): per slot, a counter of the tasks that
# joined it and the shards already read; per shard, its entries (each task version with its
# message, written once) and what its emit invocations published. The emit function reads a
# shard by its partition key, strongly consistent: no index on the emission path.
resource "aws_dynamodb_table" "slots" {
  name         = "${var.name}-slots"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "N"
  }

  # Items expire 91 days after their slot: longer than the registry keeps a closed task.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  # The entries hold the messages of tasks not yet emitted.
  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}
