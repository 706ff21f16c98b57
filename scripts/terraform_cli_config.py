"""Print a Terraform CLI config that installs hashicorp/aws from a local mirror if one exists.

Offline machines carry the provider in a filesystem mirror; everywhere else the
config falls back to Terraform's normal registry download, so it is harmless on a
developer laptop.
"""

import os
import sys
from pathlib import Path

PROVIDER = "registry.terraform.io/hashicorp/aws"
CANDIDATE_MIRRORS = (
    os.environ.get("TF_PROVIDER_MIRROR", ""),
    "/opt/tf-plugins",
    str(Path.home() / ".terraform.d" / "plugins"),
)


def find_mirror() -> str | None:
    for candidate in filter(None, CANDIDATE_MIRRORS):
        if (Path(candidate) / PROVIDER).is_dir():
            return candidate
    return None


def render(mirror: str | None) -> str:
    if mirror is None:
        return "# No local provider mirror found: providers download from the registry.\n"
    return (
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{PROVIDER}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{PROVIDER}"]\n  }}\n'
        "}\n"
    )


if __name__ == "__main__":
    sys.stdout.write(render(find_mirror()))
