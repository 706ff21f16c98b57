variable "endpoint_url" {
  description = "URL of the local AWS emulator (set by `make run` and the tests)."
  type        = string
  default     = "http://127.0.0.1:5000"
}

variable "region" {
  description = "Region the emulator pretends to be."
  type        = string
  default     = "us-east-1"
}
