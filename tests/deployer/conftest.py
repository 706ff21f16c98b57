"""One recorded apply/refresh/update/destroy of the module per session (about 90 s)."""

from __future__ import annotations

import pytest

from tests.deployer.lifecycle import Lifecycle, record_lifecycle


@pytest.fixture(scope="package")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    return record_lifecycle(tmp_path_factory.mktemp("deployer"))
