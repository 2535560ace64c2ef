"""AppTest runs the app in this process: runs it saves go to a temporary folder, never ./runs."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def runs_root(tmp_path_factory):
    """$EXPLORER_RUNS for the whole session (a training job may save after its test has returned)."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_RUNS", str(root))
        yield root
