terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.x and 6.x: the module uses only arguments and attributes both majors support and
      # neither deprecates (tests/terraform/test_provider_compatibility.py).
      version = ">= 5.70, < 7.0"
    }
  }
}
