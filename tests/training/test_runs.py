"""Run directories: save, list, load, extend; checkpoints refuse anything that is not a state_dict."""

import os
import pickle

import pytest
import torch

from explorer.data.datasets import load_dataset
from explorer.models.config import ResNetConfig
from explorer.training.config import TrainConfig
from explorer.training.lockstep import build_models, train_lockstep
from explorer.training.runs import list_runs, load_checkpoint, load_run, save_run

CFG = TrainConfig(steps=3, batch_size=8, eval_every=3, record_every=2, train_size=32, eval_size=8, image_size=16)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    data = load_dataset("shapes", "train", n=32, size=16)
    models = build_models([ResNetConfig(depth=8, width=4, residual=r) for r in (False, True)])
    optimizers = {}
    history = train_lockstep(models, data, CFG, optimizers=optimizers)
    path = save_run(models, history, CFG, root=tmp_path_factory.mktemp("runs"), name="unit test", optimizers=optimizers,
                    dataset_info=data.info)  # fmt: skip
    return path, models, history


def test_save_and_load_round_trip(saved):
    path, models, history = saved
    assert path.name.endswith("unit-test")
    run = load_run(path)
    assert run.train == CFG and run.history.to_dict() == history.to_dict()
    assert run.model_configs["Plain-8"] == ResNetConfig(depth=8, width=4, residual=False)
    reloaded = run.load_models()
    x = torch.randn(2, 3, 16, 16)
    for name, model in models.items():
        model.eval()
        reloaded[name].eval()
        assert torch.equal(model(x), reloaded[name](x))


def test_list_runs_finds_runs_and_skips_junk(saved):
    path = saved[0]
    (path.parent / "not-a-run").mkdir()
    broken = path.parent / "broken-run"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    runs = list_runs(path.parent)
    assert [r.path for r in runs] == [path]
    assert list_runs(path.parent / "missing") == []


def test_checkpoint_is_a_plain_state_dict(saved):
    path = saved[0]
    sd = load_checkpoint(path / "checkpoints" / "resnet-8.pt")
    assert "fc.weight" in sd and all(isinstance(v, torch.Tensor) for v in sd.values())


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_checkpoint_refuses_arbitrary_pickles(tmp_path):
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"fc.weight": Payload()}, f)
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(evil)


def test_checkpoint_refuses_things_that_are_not_state_dicts(tmp_path):
    p = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], p)
    with pytest.raises(ValueError, match="state_dict"):
        load_checkpoint(p)
    p = tmp_path / "mixed.pt"
    torch.save({"w": torch.zeros(2), "epoch": 3}, p)
    with pytest.raises(ValueError, match="state_dict of tensors"):
        load_checkpoint(p)
    p = tmp_path / "text.pt"
    p.write_text("hello")
    with pytest.raises(ValueError, match="not a checkpoint"):
        load_checkpoint(p)


def test_a_save_swaps_in_a_whole_run_and_keeps_what_it_does_not_rewrite(saved, tmp_path):
    import shutil

    from explorer.training import runs

    path, models, history = saved
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    run = runs.load_run(copy)
    models2, optimizers, history2 = runs.resume(run)  # what a resumed job holds: no step-0 weights in memory
    assert not history2.initial_states and set(optimizers) == {"Plain-8", "ResNet-8"}
    inode = (copy / "checkpoints" / "resnet-8.init.pt").stat().st_ino
    runs.save_run(models2, history2, run.train, out=copy, optimizers=optimizers, dataset_info=run.dataset)
    again = runs.load_run(copy)
    assert again.meta["models"]["ResNet-8"]["initial"] == "checkpoints/resnet-8.init.pt"  # kept from the last save
    assert (copy / "checkpoints" / "resnet-8.init.pt").stat().st_ino == inode  # linked, not copied
    assert again.meta["created"] == run.meta["created"] and again.history.to_dict() == history.to_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]  # no temporary folder left behind


def test_a_save_killed_between_its_two_renames_leaves_the_last_whole_run(saved, tmp_path):
    import os
    import shutil

    from explorer.training import runs

    path = saved[0]
    run_dir = tmp_path / "run"
    shutil.copytree(path, run_dir)
    os.rename(run_dir, tmp_path / ".run.old-0badcafe")  # the first rename of a save, then the process died
    (tmp_path / ".run.saving-0badcafe" / "checkpoints").mkdir(parents=True)  # its half-written new run
    assert runs.list_runs(tmp_path) == []  # nothing half-written is listed
    run = runs.load_run(run_dir)  # the last whole run is put back
    assert run.history.step == 3 and (run_dir / "config.json").is_file()
    assert [r.path for r in runs.list_runs(tmp_path)] == [run_dir]


def test_a_finished_jobs_result_writes_the_same_run_elsewhere(saved, tmp_path):
    from explorer.training import runs

    path, models, history = saved
    run = runs.load_run(path)
    result = runs.run_result(
        tmp_path / "gone" / "unit-test-0123456789abcdef", run.name, models, history, CFG, run.dataset
    )
    written = runs.save_result(result, tmp_path)  # the job's folder is another machine's path: write it here
    assert written == tmp_path / "unit-test-0123456789abcdef"
    assert runs.find_job_run(tmp_path, "0123456789abcdef") == written
    again = runs.load_run(written)
    assert again.history.to_dict() == history.to_dict() and again.load_initial("Plain-8") is not None
    assert runs.save_result(result, tmp_path) == written  # already here: not written twice


def test_shipped_runs_are_named_as_make_assets_names_them():
    """Every run under assets/runs is what the Makefile's ``assets`` target would write: its folder comes from a
    ``train --out`` there and its recorded name from the same command's ``--name`` (the shipped pre-activation run
    was named preact-seed0 while the Makefile said preact)."""
    import json
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    made = dict(re.findall(r"train .*--out assets/runs/(\S+) --name (\S+)", (root / "Makefile").read_text()))
    shipped = {
        p.parent.name: json.loads(p.read_text())["name"] for p in (root / "assets" / "runs").glob("*/config.json")
    }
    if not shipped:
        pytest.skip("no runs under assets/runs (make assets)")
    assert shipped == {folder: made.get(folder) for folder in shipped}


def test_a_run_saved_with_the_older_word_cancelled_loads_as_stopped(saved, tmp_path):
    import json
    import shutil

    path = tmp_path / "old"
    shutil.copytree(saved[0], path)
    metrics = json.loads((path / "metrics.json").read_text())
    metrics["stopped_reason"] = "cancelled"  # what a stopped run wrote before the one word became "stopped"
    (path / "metrics.json").write_text(json.dumps(metrics))
    assert load_run(path).history.stopped_reason == "stopped"
    assert load_run(saved[0]).history.stopped_reason is None  # a reason that is not the older word stays as it is
