"""Pretrained loading from real state_dicts made by torchvision (randomly initialised); never the network."""

import io
import pickle

import pytest
import torch
import torchvision

from explorer.models.pretrained import (
    NO_PLAIN_WEIGHTS,
    WeightsError,
    WeightsUnavailable,
    guess_depth,
    imagenet_classes,
    imagenet_transform,
    load_local_weights,
    load_pretrained,
    weights_info,
)


@pytest.fixture(scope="module")
def tv_resnet18():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None)
    with torch.no_grad():  # non-trivial BN statistics, so eval-mode outputs test the buffers too
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _same_logits(ours, reference):
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), rtol=1e-4, atol=1e-4)


def test_local_state_dict_matches_torchvision(tmp_path, tv_resnet18):
    path = tmp_path / "r18.pth"
    torch.save(tv_resnet18.state_dict(), path)
    model = load_local_weights(path, depth=18)
    assert not model.training and model.config.depth == 18 and model.config.residual
    _same_logits(model, tv_resnet18)


def test_local_depth_guessed_and_wrapped_checkpoint(tv_resnet18):
    wrapped = {"state_dict": {f"module.{k}": v for k, v in tv_resnet18.state_dict().items()}, "epoch": 3}
    model = load_local_weights(_bytes(wrapped))  # DataParallel prefix and checkpoint dict unwrapped
    assert model.config.depth == 18
    _same_logits(model, tv_resnet18)


def test_wrong_depth_names_keys_and_guesses(tv_resnet18):
    with pytest.raises(WeightsError) as e:
        load_local_weights(_bytes(tv_resnet18.state_dict()), depth=34)
    msg = str(e.value)
    assert "missing keys" in msg and "layer1.2.conv1.weight" in msg and "ResNet-18" in msg


def test_wrong_shapes_named():
    sd = torchvision.models.resnet18(weights=None).state_dict()
    sd["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)
    with pytest.raises(WeightsError, match=r"wrong shapes.*layer1\.0\.conv1\.weight"):
        load_local_weights(_bytes(sd), depth=18)


class NotWeights:
    pass


def test_non_state_dict_pickles_refused(tmp_path):
    with pytest.raises(WeightsError, match="weights_only"):
        load_local_weights(_bytes({"a": NotWeights()}), depth=18)  # arbitrary object: weights_only refuses
    with pytest.raises(WeightsError, match="not a state_dict"):
        load_local_weights(_bytes([torch.zeros(2)]), depth=18)  # loads, but is a list
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"conv1.weight": [1, 2, 3]}))
    with pytest.raises(WeightsError):
        load_local_weights(path, depth=18)


def test_garbage_and_size_cap(tmp_path):
    path = tmp_path / "garbage.pth"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(WeightsError, match="not a PyTorch state_dict"):
        load_local_weights(path, depth=18)
    with pytest.raises(WeightsError, match="over the"):
        load_local_weights(path, depth=18, max_bytes=1000)


def test_pretrained_from_hub_cache_without_network(tmp_path, tv_resnet18):
    # torch.hub.load_state_dict_from_url looks in its cache folder first; a file named as torchvision's URL
    # names it is loaded without any download: the real code path, offline
    info = weights_info(18, cache_dir=tmp_path)
    assert info["path"].name == "resnet18-f37072fd.pth" and not info["cached"]
    with pytest.raises(WeightsUnavailable, match="downloading is off"):
        load_pretrained(18, download=False, cache_dir=tmp_path)
    torch.save(tv_resnet18.state_dict(), info["path"])
    assert weights_info(18, cache_dir=tmp_path)["cached"]
    model = load_pretrained(18, download=False, cache_dir=tmp_path)
    _same_logits(model, tv_resnet18)


def test_plain_has_no_weights():
    with pytest.raises(WeightsUnavailable, match="no published pretrained weights"):
        load_pretrained(18, residual=False)
    assert "torchvision" in NO_PLAIN_WEIGHTS


def test_metadata_offline():
    classes = imagenet_classes(50)
    assert len(classes) == 1000 and classes[0] == "tench" and classes[207] == "golden retriever"
    t = imagenet_transform(50)
    assert (t.size, t.resize_size) == (224, 232)  # IMAGENET1K_V2 recipe
    assert imagenet_transform(18).resize_size == 256
    assert t.mean == pytest.approx((0.485, 0.456, 0.406))
    with pytest.raises(ValueError, match="depths"):
        imagenet_classes(20)


def test_guess_depth_from_torchvision_keys():
    for depth in (18, 50):
        keys = getattr(torchvision.models, f"resnet{depth}")(weights=None).state_dict().keys()
        assert guess_depth(keys) == depth
    assert guess_depth(["conv1.weight"]) is None
