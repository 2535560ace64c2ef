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


def test_a_teacher_s_commands_start_without_torch(tmp_path):
    """new, show, csv, close and open read and write the experiment's folder only: they import no torch (about
    1.7 s of every command's start-up before); run and train still import it, when they train."""
    import subprocess
    import sys

    script = (
        "import sys; from explorer.cli.parser import main; "
        "rcs = [main(a.split() + ['--root', sys.argv[1]]) for a in sys.argv[2:]]; print(rcs, 'torch' in sys.modules)"
    )
    r = run_cli("class-experiment", "new", "--depths", "20", "--steps", "40", "--root", str(tmp_path))
    code = r.stdout.splitlines()[-1]
    commands = [f"class-experiment {c} {code}" for c in ("show", "csv", "close", "open")]
    r = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *commands], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "[0, 0, 0, 0] False", r.stdout
