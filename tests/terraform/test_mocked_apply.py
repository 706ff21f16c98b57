"""Run the HCL suite in hcl/: a mocked apply that renders what a plan cannot show.

The state machine definition and the functions' environment embed ARNs known only
after apply; `terraform test` with a mocked provider renders them offline, and the
assertions there check the Wait, Retry, Catch and dead-letter path. test_rendered.py
checks the rest on the state of each run.
"""

from tests.terraform.conftest import MockedApply

RUNS = ("definition", "custom_horizon", "long_horizon", "alarms", "jwt")


def test_mocked_apply_renders_and_checks_the_state_machine(mocked_apply: MockedApply) -> None:
    assert mocked_apply.outcomes == dict.fromkeys(RUNS, "pass"), mocked_apply.output
    assert (mocked_apply.summary["passed"], mocked_apply.summary["failed"]) == (len(RUNS), 0)
    assert set(mocked_apply.states) == set(RUNS)
