import pytest

from tests.support.cli import run_cli


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A plain and residual ResNet-8 pair trained 4 steps on the built-in shapes by the CLI, saved as a run."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    r = run_cli(
        "train", "--depth", "8", "--width", "4", "--plain-and-residual", "--steps", "4", "--batch-size", "8",
        "--train-size", "48", "--eval-size", "16", "--image-size", "16", "--seed", "3", "--threads", "1",
        "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out
