variable "endpoint_url" {
  description = "URL of the local AWS emulator (set by `make run` and the tests)."
  type        = string
  default     = "http://127.0.0.1:5000"
}

variable "authorization_type" {
  description = "Authorization of the API's routes: NONE for `make run` (127.0.0.1 only), AWS_IAM to test SigV4 signing and invoke_policy_json, JWT (with jwt_issuer and jwt_audience) to test bearer tokens."
  type        = string
  default     = "NONE"
}

variable "jwt_issuer" {
  description = "With authorization_type = JWT: the token issuer's URL (the tests use the emulator's local OpenID Connect issuer); null otherwise."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "With authorization_type = JWT: the audiences a token may be for; empty otherwise."
  type        = list(string)
  default     = []
}

variable "jwt_scopes" {
  description = "With authorization_type = JWT: scopes required by the write routes (schedule, cancel, reschedule) and the read routes (list, status); empty lists check none."
  type = object({
    read  = optional(list(string), [])
    write = optional(list(string), [])
  })
  default = {}
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
