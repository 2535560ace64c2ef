"""Where the ReLU goes: the 2015 and 2016 blocks in lock-step, summarised per seed."""

import math
from dataclasses import replace

import pytest

from explorer.data.datasets import load_dataset
from explorer.experiments.relu_place import load_relu_place, save_relu_place, seed_rows, verdict
from explorer.models.config import ResNetConfig
from explorer.training.config import TrainConfig
from explorer.training.lockstep import build_models, train_lockstep
from explorer.training.presets import PRESET_MODELS, PRESETS
from explorer.training.runs import load_run, save_run

CFG = TrainConfig(steps=3, batch_size=8, eval_every=3, record_every=2, train_size=32, eval_size=8, image_size=16)


def _run(root, seed: int, cfg: TrainConfig = CFG):
    cfg = replace(cfg, seed=seed)
    data = load_dataset("shapes", "train", n=32, size=16)
    models = build_models([ResNetConfig(depth=8, width=4, preact=p) for p in (False, True)], seed=seed)
    history = train_lockstep(models, data, cfg)
    return save_run(models, history, cfg, root=root, name=f"seed{seed}", dataset_info=data.info)


def test_the_preset_trains_the_2015_and_2016_resnet_56():
    assert [c.name for c in PRESET_MODELS["preact"]] == ["ResNet-56", "ResNet-56 (pre-act)"]
    assert PRESETS["preact"] == PRESETS["degradation"]


def test_verdict_counts_the_seeds_where_2016_fits_better():
    rows = [
        {"seed": 0, "preact": False, "train_loss": 0.5, "train_accuracy": 0.8, "heldout_accuracy": 0.7},
        {"seed": 0, "preact": True, "train_loss": 0.7, "train_accuracy": 0.6, "heldout_accuracy": 0.6},
        {"seed": 1, "preact": False, "train_loss": 0.9, "train_accuracy": 0.5, "heldout_accuracy": 0.5},
        {"seed": 1, "preact": True, "train_loss": 0.8, "train_accuracy": 0.7, "heldout_accuracy": 0.8},
    ]
    v = verdict(rows)
    assert v["seeds"] == [0, 1] and v["wins_2016"] == [1]
    assert v["2015"]["train_loss"] == pytest.approx(0.7) and v["2016"]["heldout_accuracy"] == pytest.approx(0.7)


def test_save_and_load_round_trip(tmp_path):
    dirs = [_run(tmp_path / "runs", s) for s in (0, 1)]
    path = save_relu_place(dirs, tmp_path / "out")
    data = load_relu_place(tmp_path / "out")
    assert path.name == "relu_place.json"
    for got, want in zip(data["rows"], seed_rows([load_run(d) for d in dirs]), strict=True):
        assert got["network"] == want["network"] and got["preact"] == want["preact"]
        assert got["train_loss"] == pytest.approx(want["train_loss"])
    assert [(r["seed"], r["network"]) for r in data["rows"]] == [
        (0, "ResNet-8"),
        (0, "ResNet-8 (pre-act)"),
        (1, "ResNet-8"),
        (1, "ResNet-8 (pre-act)"),
    ]
    assert all(not math.isnan(r["train_loss"]) for r in data["rows"])
    assert load_relu_place(tmp_path / "nowhere") is None
    other = _run(tmp_path / "runs", 2, replace(CFG, lr=0.5))
    with pytest.raises(ValueError, match="different recipes"):
        save_relu_place([dirs[0], other], tmp_path / "out")


def test_a_saved_preact_run_reloads_and_every_view_takes_it(tmp_path):
    """Landscapes, Grad-CAM and the lesion bypass on a pre-activation network of a saved run."""
    from explorer.experiments.landscape import run_landscape
    from explorer.interpret.gradcam import grad_cam, target_layers

    path = _run(tmp_path / "runs", 0)
    run = load_run(path)
    assert run.model_configs["ResNet-8 (pre-act)"].preact is True
    model = run.load_models()["ResNet-8 (pre-act)"]
    surface = run_landscape(path, "ResNet-8 (pre-act)", grid=3, images=8)
    assert surface.loss.shape == (3, 3) and all(math.isfinite(v) for v in surface.loss.flatten())
    line = run_landscape(path, "ResNet-8 (pre-act)", grid=3, images=8, line="init")
    assert len(line.loss) == 3
    x = load_dataset("shapes", "train", n=1, size=16).images[0]
    cam = grad_cam(model, x, layer=target_layers(model)[-1])
    assert cam.map.shape == (16, 16)
    model.set_bypass(["layer3.0"])  # a projection block: skipping F(x) keeps its shortcut
    assert model(x[None]).shape == (1, 10)
