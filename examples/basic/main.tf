provider "aws" {
  region = var.region
}

# Every input has a secure default: IAM-authorized API, encrypted topic and queue.
module "task_scheduler" {
  source = "../../"
}
