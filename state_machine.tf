################################################################################
# State machine
################################################################################

locals {
  # How long the Emit Task waits for an invocation beyond the function's own timeout.
  emit_task_timeout_margin_seconds = 10

  # With a customer key, Step Functions calls GenerateDataKey again when a data key is this old:
  # the longest period it allows (60 to 900 s), so the fewest KMS requests.
  # https://docs.aws.amazon.com/step-functions/latest/apireference/API_EncryptionConfiguration.html
  state_machine_data_key_reuse_seconds = 900

  # Throttling and Lambda service errors: a burst of due tasks can outrun the account's
  # concurrency or its scaling rate, so these are retried long enough that such a burst is
  # late, never dead-lettered for throttling alone. FULL jitter spreads the retries of tasks
  # throttled together (without it they retry in lock-step); each wait is at most 60 s and all
  # of them together at most 1 + 2 + ... + 32 + 9 x 60 = 603 s (about 300 s on average).
  # https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (Retrying
  # after an error: MaxDelaySeconds, JitterStrategy) and
  # https://docs.aws.amazon.com/step-functions/latest/dg/sfn-best-practices.html (handle
  # transient Lambda service exceptions).
  emit_throttle_retry = {
    ErrorEquals = [
      "Lambda.ServiceException",
      "Lambda.AWSLambdaException",
      "Lambda.SdkClientException",
      "Lambda.TooManyRequestsException",
      "Lambda.ClientExecutionTimeoutException",
    ]
    IntervalSeconds = 1
    MaxAttempts     = 15
    BackoffRate     = 2
    MaxDelaySeconds = 60
    JitterStrategy  = "FULL"
  }
}

resource "aws_sfn_state_machine" "this" {
  #checkov:skip=CKV_AWS_285:include_execution_data stays false on purpose: execution input and output carry the task message, user data kept out of the logs (README, Security).
  name     = var.name
  type     = "STANDARD"
  role_arn = aws_iam_role.state_machine.arn

  definition = jsonencode({
    Comment = "Waits until a time slot's release second, emits its shard's tasks at their timestamps (or starts the next hop of a far-future shard), and parks what cannot be emitted in the dead-letter queue, marked failed."
    StartAt = "WaitUntilRelease"
    States = {
      # The Wait truncates a timestamp's milliseconds, so it waits until release_at: a whole
      # second at least emission_lead_seconds before the slot, or the end of this hop, at most
      # execution_segment_seconds after its start. The emit function holds until each task's
      # millisecond. Two states per execution when all goes well.
      WaitUntilRelease = {
        Type          = "Wait"
        TimestampPath = "$.release_at"
        Next          = "Emit"
      }
      Emit = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        # What to emit (a shard, one late task, or a task scheduled before time slots), and
        # this execution's ARN: the emit function claims each task for this execution.
        Parameters = {
          FunctionName = aws_lambda_function.emit.arn
          Payload = {
            "task.$"          = "$"
            "execution_arn.$" = "$$.Execution.Id"
          }
        }
        # A few counts: the state stays far below 256 KiB however large the shard.
        OutputPath = "$.Payload"
        # An invocation whose answer never comes (lost, or the function hung past its own
        # timeout) fails with States.Timeout and is retried by the States.ALL retrier below.
        TimeoutSeconds = local.functions.emit.timeout + local.emit_task_timeout_margin_seconds
        # Worst case after the Wait, all retries failing: about 10 minutes of throttling and
        # Lambda service errors (local.emit_throttle_retry), 900 s (emit_retry, see its
        # validation) and up to 11 Task timeouts (the first attempt and emit_retry's 10) of at
        # most 100 s, then the dead-letter path's own retries (minutes): under an hour, inside
        # the day a segment (at most 364 days) leaves of the one-year limit.
        Retry = [
          local.emit_throttle_retry,
          {
            ErrorEquals     = ["States.ALL"]
            IntervalSeconds = var.emit_retry.interval_seconds
            MaxAttempts     = var.emit_retry.max_attempts
            BackoffRate     = var.emit_retry.backoff_rate
          },
        ]
        Catch = [
          {
            ErrorEquals = ["States.ALL"]
            ResultPath  = "$.error"
            Next        = "DeadLetter"
          },
        ]
        End = true
      }
      # The emit function marks every task of the input not yet published failed, and parks
      # each alone, with its message and the error, in the dead-letter queue.
      DeadLetter = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::lambda:invoke"
        Parameters = {
          FunctionName = aws_lambda_function.emit.arn
          Payload = {
            "dead_letter.$"   = "$"
            "execution_arn.$" = "$$.Execution.Id"
          }
        }
        ResultPath     = null
        TimeoutSeconds = local.functions.emit.timeout + local.emit_task_timeout_margin_seconds
        Retry = [
          local.emit_throttle_retry,
          {
            ErrorEquals     = ["States.ALL"]
            IntervalSeconds = 2
            MaxAttempts     = 6
            BackoffRate     = 2
          },
        ]
        # Last resort: the input itself (which names the shard, whose entries keep the
        # messages), with both errors.
        Catch = [
          {
            ErrorEquals = ["States.ALL"]
            ResultPath  = "$.dead_letter_error"
            Next        = "SendToDeadLetterQueue"
          },
        ]
        Next = "EmissionFailed"
      }
      SendToDeadLetterQueue = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::sqs:sendMessage"
        Parameters = {
          QueueUrl        = aws_sqs_queue.dead_letter.url
          "MessageBody.$" = "$"
        }
        ResultPath = null
        Retry = [
          {
            ErrorEquals     = ["States.ALL"]
            IntervalSeconds = 1
            MaxAttempts     = 8
            BackoffRate     = 2
          },
        ]
        Next = "EmissionFailed"
      }
      EmissionFailed = {
        Type  = "Fail"
        Error = "EmissionFailed"
        Cause = "Tasks could not be emitted: they were sent to the dead-letter queue and marked failed in the task registry."
      }
    }
  })

  logging_configuration {
    log_destination = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    # Messages may carry user data: keep them out of the logs.
    include_execution_data = false
    level                  = var.state_machine_log_level
  }

  tracing_configuration {
    enabled = var.tracing_enabled
  }

  # With var.kms_key_arn, the definition and every execution's history (task ids, shard names,
  # errors) are encrypted with the customer key; without it, with a key AWS owns.
  encryption_configuration {
    type                              = var.kms_key_arn == null ? "AWS_OWNED_KEY" : "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = var.kms_key_arn
    kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : local.state_machine_data_key_reuse_seconds
  }

  tags = var.tags
  # CreateStateMachine checks that the role may deliver logs and traces.
  depends_on = [aws_iam_role_policy.state_machine]
}
