variable "endpoint_url" {
  description = "URL of the local AWS emulator (set by `make run` and the tests)."
  type        = string
  default     = "http://127.0.0.1:5000"
}

variable "authorization_type" {
  description = "Authorization of the API's routes: NONE for `make run` (127.0.0.1 only), AWS_IAM to test SigV4 signing and invoke_policy_json."
  type        = string
  default     = "NONE"
}

variable "execution_segment_seconds" {
  description = "Longest time one execution holds a task (null: the module's default, 364 days); the tests shorten it to test follow-on executions."
  type        = number
  default     = null
}

variable "region" {
  description = "Region the emulator pretends to be."
  type        = string
  default     = "us-east-1"
}
