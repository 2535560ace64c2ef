"""Device choice (CUDA, then MPS, then CPU), the CLI flag, and GPU results equal to the CPU's when a GPU is here."""

import numpy as np
import pytest
import torch

from explorer.devices import available_devices, model_device, pick_device
from explorer.interpret.gradcam import filmstrip, grad_cam
from explorer.interpret.probes import all_feature_maps
from explorer.models.resnet import build_resnet

GPUS = [d for d in available_devices() if d != "cpu"]


def test_choice_and_unknown_devices():
    assert available_devices()[-1] == "cpu"
    assert pick_device("auto") == torch.device(available_devices()[0])
    assert pick_device(None) == pick_device("auto")
    assert pick_device("CPU") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be one of"):
        pick_device("tpu")
    for kind in ("cuda", "mps"):
        if kind not in available_devices():
            with pytest.raises(ValueError, match=f"no '{kind}' device"):
                pick_device(kind)


def test_model_device_follows_parameters(tiny_model):
    assert model_device(tiny_model) == torch.device("cpu")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")  # no parameters: the CPU


def test_cli_refuses_a_missing_device(tmp_path, capsys):
    from explorer.cli.parser import main

    missing = next((k for k in ("cuda", "mps") if k not in available_devices()), None)
    if missing is None:
        pytest.skip("this machine has every kind of device")
    assert main(["train", "--steps", "1", "--device", missing, "--root", str(tmp_path)]) != 0
    assert "no " in capsys.readouterr().err


def test_training_on_the_cpu_device_keeps_networks_where_they_were():
    from explorer.data.datasets import load_dataset
    from explorer.training.config import TrainConfig
    from explorer.training.lockstep import train_lockstep

    data = load_dataset("shapes", "train", n=64, size=16)
    model = build_resnet(depth=8, width=4)
    config = TrainConfig(steps=2, batch_size=16, eval_every=0, record_every=0)
    history = train_lockstep({"net": model}, data, config, device="cpu")
    assert history.step == 2 and model_device(model) == torch.device("cpu")


@pytest.mark.skipif(not GPUS, reason="no GPU on this machine")
def test_gpu_results_equal_the_cpu():
    device = torch.device(GPUS[0])
    cpu = build_resnet(depth=14, width=8).eval()
    gpu = build_resnet(depth=14, width=8).eval().to(device)
    x = torch.randn(3, 32, 32, generator=torch.Generator().manual_seed(0))
    for (name, a), (_, b) in zip(filmstrip(cpu, x, target=2), filmstrip(gpu, x, target=2), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3, err_msg=name)
    np.testing.assert_allclose(grad_cam(cpu, x).map, grad_cam(gpu, x).map, atol=1e-3)
    fa, fb = all_feature_maps(cpu, x), all_feature_maps(gpu, x)
    for name in fa:
        np.testing.assert_allclose(fa[name].mean, fb[name].mean, atol=1e-4, rtol=1e-3, err_msg=name)
        np.testing.assert_allclose(fa[name].maps, fb[name].maps, atol=1e-4, rtol=1e-3, err_msg=name)

    from explorer.data.datasets import load_dataset
    from explorer.training.config import TrainConfig
    from explorer.training.lockstep import train_lockstep

    data = load_dataset("shapes", "train", n=128, size=16)
    config = TrainConfig(steps=3, batch_size=32, eval_every=0, record_every=0)
    a, b = build_resnet(depth=8, width=4), build_resnet(depth=8, width=4)
    ha = train_lockstep({"net": a}, data, config, device="cpu")
    hb = train_lockstep({"net": b}, data, config, device=device)
    assert model_device(b) == torch.device("cpu")  # back where it was
    np.testing.assert_allclose(ha.models["net"].loss, hb.models["net"].loss, rtol=1e-3, atol=1e-4)
