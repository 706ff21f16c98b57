variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}
