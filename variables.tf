################################################################################
# General
################################################################################

variable "name" {
  description = "Name prefix of every resource the module creates (functions, roles, topic, queue, state machine, API): 1 to 40 letters, digits or hyphens, starting with a letter."
  type        = string
  default     = "task-scheduler"

  validation {
    # Leaves room for the longest suffix ("-state-machine") within IAM's 64-character role names.
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,39}$", var.name))
    error_message = "name must start with a letter and hold 1 to 40 letters, digits or hyphens."
  }
}

variable "tags" {
  description = "Tags applied to every resource that supports them."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer managed KMS key that encrypts the topic, the dead-letter queue, the tables, the state machine and the log groups; null (the default) leaves them to AWS managed or owned keys. See docs/security.md for its key policy."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "tracing_enabled" {
  description = "Enable AWS X-Ray tracing on the functions and the state machine."
  type        = bool
  default     = true
}

################################################################################
# Logs
################################################################################

variable "log_retention_in_days" {
  description = "Retention of every log group the module creates (functions, state machine, API access logs), in days: one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "log_level" {
  description = "Log level of the Lambda functions (Powertools Logger): DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

################################################################################
# Lambda functions (both)
################################################################################

variable "lambda_runtime" {
  description = "Python runtime of both functions: python3.12 or python3.13."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.12 or python3.13."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of both functions: arm64 (20% cheaper per GB-second for this pure-Python code) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "powertools_layer_version" {
  description = "Version of the AWS-published Powertools for AWS Lambda (Python) V3 layer attached to both functions."
  type        = number
  default     = 27

  validation {
    condition     = var.powertools_layer_version >= 1 && floor(var.powertools_layer_version) == var.powertools_layer_version
    error_message = "powertools_layer_version must be a positive whole number."
  }
}

variable "powertools_layer_arn" {
  description = "Full ARN of a Powertools V3 layer to use instead of the AWS-published one (for partitions or accounts where that layer is not shared). Null uses the published layer."
  type        = string
  default     = null

  validation {
    condition     = var.powertools_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", var.powertools_layer_arn))
    error_message = "powertools_layer_arn must be a Lambda layer version ARN."
  }
}

variable "lambda_reserved_concurrent_executions" {
  description = "Reserved concurrency of the emit function, and of the api function unless api_reserved_concurrent_executions is set: -1 (the default) reserves none, 0 stops them, more reserves that many. See docs/operations.md."
  type        = number
  default     = -1

  validation {
    condition     = var.lambda_reserved_concurrent_executions >= -1 && floor(var.lambda_reserved_concurrent_executions) == var.lambda_reserved_concurrent_executions
    error_message = "lambda_reserved_concurrent_executions must be a whole number, -1 (no reservation) or more."
  }
}

################################################################################
# Task registry and time slots
################################################################################

variable "slot_shard_size" {
  description = "How many tasks (of up to 16 KiB of message; a larger one counts as several) one execution and one emit invocation carry for a second: 1 to 1000. A denser second is split into shards of this size. See docs/design.md."
  type        = number
  default     = 500
  nullable    = false

  validation {
    condition     = var.slot_shard_size >= 1 && var.slot_shard_size <= 1000 && floor(var.slot_shard_size) == var.slot_shard_size
    error_message = "slot_shard_size must be a whole number from 1 to 1000."
  }
}

################################################################################
# Emission
################################################################################

variable "subscriptions" {
  description = "Subscriptions to the task topic, keyed by a name of your choice. filter_policy is a JSON string; filter_policy_scope is MessageAttributes (default) or MessageBody."
  type = map(object({
    protocol             = string
    endpoint             = string
    raw_message_delivery = optional(bool, false)
    filter_policy        = optional(string)
    filter_policy_scope  = optional(string)
  }))
  default = {}

  validation {
    condition = alltrue([
      for subscription in values(var.subscriptions) :
      contains(["sqs", "lambda", "https", "http", "email", "email-json", "sms", "application", "firehose"], subscription.protocol)
    ])
    error_message = "Each subscription protocol must be one of sqs, lambda, https, http, email, email-json, sms, application, firehose."
  }

  validation {
    condition = alltrue([
      for subscription in values(var.subscriptions) :
      subscription.filter_policy == null || can(jsondecode(subscription.filter_policy))
    ])
    error_message = "Each subscription filter_policy must be a JSON document."
  }

  validation {
    condition = alltrue([
      for subscription in values(var.subscriptions) :
      subscription.filter_policy_scope == null ? true : contains(["MessageAttributes", "MessageBody"], subscription.filter_policy_scope)
    ])
    error_message = "Each subscription filter_policy_scope must be MessageAttributes or MessageBody."
  }
}

variable "dead_letter_retention_seconds" {
  description = "How long tasks that could not be emitted stay in the dead-letter queue, in seconds from 60 to 1209600 (14 days, the most SQS allows)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dead_letter_retention_seconds >= 60 && var.dead_letter_retention_seconds <= 1209600
    error_message = "dead_letter_retention_seconds must be from 60 to 1209600 (14 days)."
  }
}

variable "emit_memory_size" {
  description = "Memory of the emit function, in MB from 128 to 10240: small by default, since it is billed while it holds for the exact millisecond (up to emission_lead_seconds + 1 s). See docs/design.md (precision)."
  type        = number
  default     = 128

  validation {
    condition     = var.emit_memory_size >= 128 && var.emit_memory_size <= 10240 && floor(var.emit_memory_size) == var.emit_memory_size
    error_message = "emit_memory_size must be a whole number from 128 to 10240."
  }
}

variable "emission_lead_seconds" {
  description = "Whole seconds, 0 to 60, before a task's timestamp at which the state machine invokes the emit function, which then holds until the exact millisecond. See docs/design.md (precision) for latency, cold starts and cost."
  type        = number
  default     = 1

  validation {
    condition     = var.emission_lead_seconds >= 0 && var.emission_lead_seconds <= 60 && floor(var.emission_lead_seconds) == var.emission_lead_seconds
    error_message = "emission_lead_seconds must be a whole number from 0 to 60."
  }
}

variable "emit_idempotency_enabled" {
  description = "Record what each emit invocation published in the slot table, so that a retried invocation publishes nothing twice; false saves those writes, and a retry may publish again (at-least-once). See docs/design.md."
  type        = bool
  default     = true
  nullable    = false
}

variable "emit_retry" {
  description = "Retry of a failed emission before the task is dead-lettered: max_attempts after the first (0 to 10), interval_seconds (1 to 300) and backoff_rate (1 to 10), waiting at most 900 s in all. See docs/design.md."
  type = object({
    max_attempts     = optional(number, 3)
    interval_seconds = optional(number, 2)
    backoff_rate     = optional(number, 2)
  })
  default = {}

  validation {
    condition     = var.emit_retry.max_attempts >= 0 && var.emit_retry.max_attempts <= 10 && floor(var.emit_retry.max_attempts) == var.emit_retry.max_attempts
    error_message = "emit_retry.max_attempts must be a whole number from 0 to 10."
  }

  validation {
    condition     = var.emit_retry.interval_seconds >= 1 && var.emit_retry.interval_seconds <= 300 && floor(var.emit_retry.interval_seconds) == var.emit_retry.interval_seconds
    error_message = "emit_retry.interval_seconds must be a whole number from 1 to 300."
  }

  validation {
    condition     = var.emit_retry.backoff_rate >= 1 && var.emit_retry.backoff_rate <= 10
    error_message = "emit_retry.backoff_rate must be from 1 to 10."
  }

  validation {
    # A task due at the end of the horizon must still reach the dead-letter queue before its
    # execution hits Step Functions' one-year limit (see the Emit state in state_machine.tf).
    condition = sum(concat([0], [
      for attempt in range(max(0, floor(var.emit_retry.max_attempts))) :
      var.emit_retry.interval_seconds * pow(var.emit_retry.backoff_rate, attempt)
    ])) <= 900
    error_message = "emit_retry may wait at most 900 seconds in all (interval_seconds * backoff_rate^n summed over the attempts)."
  }
}

################################################################################
# State machine
################################################################################

variable "execution_segment_seconds" {
  description = "Longest time one execution holds a task before it emits it or starts its follow-on execution, in whole seconds from 1 to 31449600 (364 days). See docs/design.md (long horizon)."
  type        = number
  default     = 31449600
  # A caller passing null (examples/local does when unset) gets the default.
  nullable = false

  validation {
    condition     = var.execution_segment_seconds >= 1 && var.execution_segment_seconds <= 31449600 && floor(var.execution_segment_seconds) == var.execution_segment_seconds
    error_message = "execution_segment_seconds must be a whole number from 1 to 31449600 (364 days)."
  }
}

variable "state_machine_log_level" {
  description = "Execution log level of the state machine: ALL, ERROR, FATAL or OFF. Execution data (task messages) is never logged."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.state_machine_log_level)
    error_message = "state_machine_log_level must be ALL, ERROR, FATAL or OFF."
  }
}

################################################################################
# API
################################################################################

variable "authorization_type" {
  description = "Authorization of every route: AWS_IAM (the default; SigV4 with execute-api:Invoke, see invoke_policy_json), JWT (a bearer token from jwt_issuer) or NONE (anyone who knows the URL; opt in explicitly). See docs/security.md."
  type        = string
  default     = "AWS_IAM"

  validation {
    condition     = contains(["AWS_IAM", "JWT", "NONE"], var.authorization_type)
    error_message = "authorization_type must be AWS_IAM, JWT or NONE."
  }
}

variable "jwt_issuer" {
  description = "With authorization_type = JWT, the OpenID Connect issuer whose tokens the routes accept: its https URL, with no query or fragment, exactly as in the tokens' iss claim; null (the default) otherwise. See docs/security.md."
  type        = string
  default     = null

  validation {
    condition     = var.jwt_issuer == null || can(regex("^https://[^/?#\\s]+(/[^?#\\s]*)?$", var.jwt_issuer))
    error_message = "jwt_issuer must be an https URL with no query or fragment (https://cognito-idp.<region>.amazonaws.com/<user pool id>, or any OpenID Connect issuer)."
  }
}

variable "jwt_audience" {
  description = "With authorization_type = JWT, the audiences a token may be for (its aud claim, or client_id without one), e.g. a Cognito app client id: at least one with JWT, empty (the default) otherwise. See docs/security.md."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for audience in var.jwt_audience : trimspace(audience) != ""])
    error_message = "Each jwt_audience entry must be a non-empty string."
  }
}

variable "jwt_scopes" {
  description = "With authorization_type = JWT, OAuth 2.0 scopes a token must hold: write on schedule, cancel and reschedule, read on list and status (any one of a route's scopes; empty, the default, checks none). See docs/security.md."
  type = object({
    read  = optional(list(string), [])
    write = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition = alltrue([
      for scope in concat(var.jwt_scopes.read, var.jwt_scopes.write) :
      can(regex("^[!#-\\[\\]-~]+$", scope))
    ])
    error_message = "Each jwt_scopes entry must be an OAuth 2.0 scope-token: one or more printable ASCII characters other than space, double quote and backslash."
  }
}

variable "max_schedule_horizon_days" {
  description = "How far ahead a task may be scheduled, in whole days from 1 to 3650 (10 years); beyond a year a task continues in follow-on executions. See docs/design.md (long horizon)."
  type        = number
  default     = 365

  validation {
    condition     = var.max_schedule_horizon_days >= 1 && var.max_schedule_horizon_days <= 3650 && floor(var.max_schedule_horizon_days) == var.max_schedule_horizon_days
    error_message = "max_schedule_horizon_days must be a whole number from 1 to 3650."
  }
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the API stage accepts before answering 429 (more than 0, at most 10000)."
  type        = number
  default     = 50

  validation {
    condition     = var.api_throttling_rate_limit > 0 && var.api_throttling_rate_limit <= 10000
    error_message = "api_throttling_rate_limit must be greater than 0 and at most 10000."
  }
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the API stage accepts before answering 429 (1 to 5000)."
  type        = number
  default     = 100

  validation {
    condition     = var.api_throttling_burst_limit >= 1 && var.api_throttling_burst_limit <= 5000 && floor(var.api_throttling_burst_limit) == var.api_throttling_burst_limit
    error_message = "api_throttling_burst_limit must be a whole number from 1 to 5000."
  }
}

variable "api_route_throttling" {
  description = "Per-route limits by route (schedule, list, status, cancel, reschedule): rate_limit (over 0, at most 10000 a second) and burst_limit (1 to 5000), never above the stage's. Replaces the default (list: 10/s, burst 20). See docs/api.md."
  type = map(object({
    rate_limit  = number
    burst_limit = number
  }))
  default = {
    list = { rate_limit = 10, burst_limit = 20 }
  }
  nullable = false

  validation {
    condition     = alltrue([for route in keys(var.api_route_throttling) : contains(["schedule", "list", "status", "cancel", "reschedule"], route)])
    error_message = "api_route_throttling keys must be routes: schedule, list, status, cancel or reschedule."
  }

  validation {
    condition = alltrue([
      for limits in values(var.api_route_throttling) :
      limits.rate_limit > 0 && limits.rate_limit <= 10000 && limits.burst_limit >= 1 && limits.burst_limit <= 5000 && floor(limits.burst_limit) == limits.burst_limit
    ])
    error_message = "Each api_route_throttling entry needs rate_limit greater than 0 and at most 10000, and burst_limit a whole number from 1 to 5000."
  }
}

variable "api_memory_size" {
  description = "Memory of the api function, in MB from 128 to 10240 (CPU grows with it: 256 MB keeps its cold start short)."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = var.api_memory_size >= 128 && var.api_memory_size <= 10240 && floor(var.api_memory_size) == var.api_memory_size
    error_message = "api_memory_size must be a whole number from 128 to 10240."
  }
}

variable "lambda_memory_size" {
  description = "Deprecated: use api_memory_size. When set (128 to 10240 MB), it still sizes the api function and wins over api_memory_size; null (the default) leaves api_memory_size in charge."
  type        = number
  default     = null

  validation {
    condition     = var.lambda_memory_size == null || try(var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size, false)
    error_message = "lambda_memory_size must be a whole number from 128 to 10240, or null (deprecated: use api_memory_size)."
  }
}

variable "api_reserved_concurrent_executions" {
  description = "Reserved concurrency of the api function alone, so that API traffic cannot take the concurrency emission needs: null (the default) applies lambda_reserved_concurrent_executions, -1 reserves none, 0 stops it. See docs/operations.md."
  type        = number
  default     = null

  validation {
    condition     = var.api_reserved_concurrent_executions == null || try(var.api_reserved_concurrent_executions >= -1 && floor(var.api_reserved_concurrent_executions) == var.api_reserved_concurrent_executions, false)
    error_message = "api_reserved_concurrent_executions must be null, or a whole number, -1 (no reservation) or more."
  }
}

################################################################################
# IAM
################################################################################

variable "iam_role_use_name_prefix" {
  description = "Name the roles with IAM's name_prefix (<name>-api-, -emit-, -sfn- plus a unique suffix), so that one name fits several regions of an account; name then holds at most 32 characters. Changing it replaces the roles. See docs/security.md."
  type        = bool
  default     = false
  nullable    = false
}

variable "role_permissions_boundary" {
  description = "ARN of a managed policy set as the permissions boundary of the three roles the module creates (api, emit, state machine). Null sets none."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.role_permissions_boundary))
    error_message = "role_permissions_boundary must be an IAM managed policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
}

################################################################################
# Alarms
################################################################################

variable "alarm_topic_arn" {
  description = "SNS topic the module's CloudWatch alarms notify on ALARM and OK; null (the default) creates no alarms. A topic created in the same configuration needs alarms.enabled = true as well. See docs/operations.md."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be a standard SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)."
  }
}

variable "alarms" {
  description = "Alarm settings: enabled (null: when alarm_topic_arn is set), period_seconds (a multiple of 60, at most 86400), evaluation_periods, thresholds (whole numbers from 0), open_executions_percent (10 to 99), open_executions_alarm. See docs/operations.md."
  type = object({
    enabled                 = optional(bool)
    period_seconds          = optional(number, 300)
    evaluation_periods      = optional(number, 1)
    api_5xx_threshold       = optional(number, 0)
    emit_errors_threshold   = optional(number, 0)
    open_executions_percent = optional(number, 50)
    open_executions_alarm   = optional(bool, true)
  })
  default = {}

  validation {
    condition     = var.alarms.period_seconds >= 60 && var.alarms.period_seconds <= 86400 && var.alarms.period_seconds % 60 == 0
    error_message = "alarms.period_seconds must be a multiple of 60 from 60 to 86400."
  }

  validation {
    # CloudWatch: EvaluationPeriods multiplied by Period cannot be more than 86,400 seconds.
    condition     = var.alarms.evaluation_periods >= 1 && floor(var.alarms.evaluation_periods) == var.alarms.evaluation_periods && var.alarms.evaluation_periods * var.alarms.period_seconds <= 86400
    error_message = "alarms.evaluation_periods must be a whole number from 1, and evaluation_periods * period_seconds at most 86400 (one day)."
  }

  validation {
    condition = alltrue([
      for threshold in [var.alarms.api_5xx_threshold, var.alarms.emit_errors_threshold] :
      threshold >= 0 && floor(threshold) == threshold
    ])
    error_message = "alarms.api_5xx_threshold and alarms.emit_errors_threshold must be whole numbers from 0."
  }

  validation {
    condition     = var.alarms.open_executions_percent >= 10 && var.alarms.open_executions_percent <= 99
    error_message = "alarms.open_executions_percent must be from 10 to 99."
  }
}

################################################################################
# Dashboard
################################################################################

variable "dashboard_enabled" {
  description = "Create a CloudWatch dashboard named <name> of the alarms' metrics and the functions' own, each over alarms.period_seconds; false (the default) creates none. See docs/operations.md."
  type        = bool
  default     = false
  nullable    = false
}
