"""Run the HCL suite in hcl/: a mocked apply that renders what a plan cannot show.

The state machine definition and the functions' environment embed ARNs known only
after apply; `terraform test` with a mocked provider renders them offline, and the
assertions there check the Wait, Retry, Catch and dead-letter path.
"""

import re
from collections.abc import Callable

import tftest


def test_mocked_apply_renders_and_checks_the_state_machine(
    terraform: Callable[[str], tftest.TerraformTest],
) -> None:
    result = terraform(".").execute_command("test", "-no-color")
    summary = re.search(r"(\d+) passed, (\d+) failed", result.out)
    assert summary, result.out
    passed, failed = map(int, summary.groups())
    assert (passed, failed) == (3, 0), result.out
