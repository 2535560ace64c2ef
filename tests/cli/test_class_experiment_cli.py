"""``python -m explorer class-experiment`` without a cluster: new prints the code, a wrong or closed code is one
plain line and a non-zero exit (the pair on a cluster: tests/tasks/test_class_experiment.py)."""

from tests.support.cli import run_cli


def test_new_show_close_and_wrong_codes(tmp_path):
    root = ["--root", str(tmp_path)]
    r = run_cli("class-experiment", "new", "--depths", "20", "56", "--steps", "40", *root)
    assert r.returncode == 0, r.stderr
    code = r.stdout.splitlines()[-1]
    assert len(code) == 6 and "depths 20, 56, 40 steps on shapes" in r.stdout
    r = run_cli("class-experiment", "show", code, *root)
    assert r.returncode == 0 and "20 layers: no pairs yet." in r.stdout
    r = run_cli("class-experiment", "show", "NOPE99", *root)
    assert (
        r.returncode == 2
        and r.stderr.strip() == "error: No class experiment has the code NOPE99: check the code and try again."
    )
    assert run_cli("class-experiment", "close", code, *root).returncode == 0
    r = run_cli("class-experiment", "run", code, "--depth", "20", "--seed", "1", *root)
    assert r.returncode == 2 and r.stderr.strip().endswith("is closed: the teacher is not taking new runs.")
    assert "Traceback" not in r.stderr
