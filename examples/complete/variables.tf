variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "alarm_actions" {
  description = "ARNs notified when a task lands in the dead-letter queue (an SNS topic that pages your on-call, say)."
  type        = list(string)
  default     = []
}
