"""The shared caches: figures built once per distinct input, views keyed by what they compute, and the
check that no view leaves a hook, a mode or a changed weight on a shared model."""

import sys
import types

import numpy as np
import torch

from explorer.charts.model import block_figure
from explorer.interpret import gradcam as attr
from explorer.interpret import model_cards
from explorer.models.config import ResNetConfig
from explorer.ui.caches import models as shared_models
from explorer.ui.caches import results as cache
from explorer.ui.widgets import _Spec

TINY = ResNetConfig(depth=8, width=8)


def test_figure_is_built_once_per_distinct_input_and_is_plotly_dict():
    calls = []

    def counted(kind: str, shortcut: str):
        calls.append((kind, shortcut))
        return block_figure(kind, shortcut)

    a = cache.figure(counted, "basic", "identity")
    b = cache.figure(counted, "basic", "identity")
    c = cache.figure(counted, "basic", "A")
    assert calls == [("basic", "identity"), ("basic", "A")]
    assert a == b == block_figure("basic", "identity").to_dict()
    assert a != c
    assert _Spec(a).to_dict() is a  # st.plotly_chart takes it as it is, without re-validating


def test_figure_keys_need_no_torch_and_survive_a_half_imported_one(monkeypatch):
    """While the preload thread imports torch, sys.modules holds it half initialised (no Tensor yet): another
    session's page, drawing a figure of a training history, must not trip over it."""
    history = {"loss": [2.3, 1.1]}  # any argument that is not a plain value is keyed by its pickle
    expected = cache._key(history)
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))  # torch mid-import: no attributes yet
    assert cache._key(history) == expected
    monkeypatch.undo()
    t = torch.arange(6.0).reshape(2, 3)
    assert cache._key(t) == cache._key(t.numpy()) == cache._key(torch.nn.Parameter(t))


def test_view_keys_on_the_image_and_options_and_leaves_the_shared_model_clean():
    card = model_cards.untrained_card(TINY)
    model = shared_models.cached_card_model(card)
    x1 = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    x2 = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    r1 = cache.view(attr.grad_cam, card, model, x1, "layer2", None, raw=False)
    again = cache.view(attr.grad_cam, card, model, x1.clone(), "layer2", None, raw=False)
    r2 = cache.view(attr.grad_cam, card, model, x2, "layer2", None, raw=False)
    direct = attr.grad_cam(model, x2, "layer2", None, raw=False)
    np.testing.assert_allclose(r1.map, again.map)
    np.testing.assert_allclose(r2.map, direct.map, atol=1e-6)
    assert not np.allclose(r1.map, r2.map)
    report = shared_models.shared_models_report()
    assert report["models"] >= 1
    assert report["hooks"] == report["training"] == report["changed"] == 0


def test_report_sees_a_hook_a_mode_and_a_change_left_on_a_shared_model():
    card = model_cards.untrained_card(ResNetConfig(depth=8, width=4))
    model = shared_models.cached_card_model(card)
    handle = model.layer1.register_forward_hook(lambda *a: None)
    try:
        assert shared_models.shared_models_report()["hooks"] == 1
    finally:
        handle.remove()
    model.fc.train()
    try:
        assert shared_models.shared_models_report()["training"] == 1
    finally:
        model.fc.eval()
    model.fc.bias.requires_grad_(False)
    try:
        assert shared_models.shared_models_report()["changed"] == 1
    finally:
        model.fc.bias.requires_grad_(True)
    assert shared_models.shared_models_report() == {
        **shared_models.shared_models_report(),
        "hooks": 0,
        "training": 0,
        "changed": 0,
    }


def test_probe_batch_has_the_size_asked_for_and_is_shared_per_size():
    card = model_cards.untrained_card(TINY)
    model = shared_models.cached_card_model(card)
    x16, y16 = cache.cached_probe_batch(card, model, n=16)
    x32, _ = cache.cached_probe_batch(card, model)
    assert x16.shape == (16, 3, 32, 32) and y16.shape == (16,) and x32.shape[0] == 32
    assert cache.cached_probe_batch(card, model, n=16)[0] is not x16  # cache_data hands out copies
    assert torch.equal(cache.cached_probe_batch(card, model, n=16)[0], x16)


def test_release_freed_memory_gives_a_threads_freed_heap_back():
    import ctypes
    import threading

    import psutil
    import pytest

    try:
        ctypes.CDLL("libc.so.6")
    except OSError:
        pytest.skip("not glibc: release_freed_memory does nothing there, by design")
    proc = psutil.Process()

    kept = []

    def churn():  # 360 MB in blocks from this thread's own arena, every other one freed: holes glibc keeps
        blocks = [bytearray(60_000) for _ in range(6000)]
        kept.extend(blocks[1::2])

    t = threading.Thread(target=churn)
    t.start()
    t.join()
    before = proc.memory_info().rss
    cache._TRIM["last"] = 0.0
    cache.release_freed_memory()
    after = proc.memory_info().rss
    assert before - after > 100 * 2**20, (before, after)  # without the trim: 0 MB given back
    assert len(kept) == 3000
    cache.release_freed_memory(every_s=3600)  # within the interval: no second trim (and no error)


def test_network_cost_comes_from_the_asset_and_falls_back_to_the_summary():
    learn_net = ResNetConfig("imagenet", 50)
    assert cache._network_costs()  # the asset ships with the app
    s = cache.cached_summary(learn_net)
    assert cache.network_cost(learn_net) == (s.params, s.macs)
    other = ResNetConfig(depth=14, width=8)  # not on the Learn page: counted by its summary
    assert cache.network_cost(other) == (cache.cached_summary(other).params, cache.cached_summary(other).macs)


def test_report_sees_a_training_step_a_small_write_and_running_statistics_changed():
    card = model_cards.untrained_card(ResNetConfig(depth=8, width=4, residual=False))
    model = shared_models.cached_card_model(card)
    weight, mean = model.layer1[0].conv1.weight, model.layer1[0].bn1.running_mean
    saved = (weight.clone(), mean.clone(), model.layer1[0].bn1.num_batches_tracked.clone())
    try:
        opt = torch.optim.SGD(model.parameters(), lr=1e-9)  # one step far below any sum's rounding
        model(torch.rand(2, 3, 32, 32)).sum().backward()
        opt.step()
        assert shared_models.shared_models_report()["changed"] == 1
        with torch.no_grad():
            weight.copy_(saved[0])
        model.zero_grad(set_to_none=True)
        shared_models._SHARED[model] = shared_models._fingerprint(model)  # the step put back: clean again
        assert shared_models.shared_models_report()["changed"] == 0
        mean.data.add_(0.5)  # through .data: no version counter moves, the norms do
        assert shared_models.shared_models_report()["changed"] == 1
        mean.data.sub_(0.5)
        assert shared_models.shared_models_report()["changed"] == 0
        model.train()  # a forward pass in training mode moves the batch-norm statistics
        with torch.no_grad():
            model(torch.rand(2, 3, 32, 32))
        model.eval()
        assert shared_models.shared_models_report()["changed"] == 1
    finally:
        with torch.no_grad():
            weight.copy_(saved[0])
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.reset_running_stats()
        model.zero_grad(set_to_none=True)
        shared_models._SHARED[model] = shared_models._fingerprint(model)
    assert shared_models.shared_models_report()["changed"] == 0


def test_a_twin_loaded_after_its_network_has_its_own_weights_and_never_a_changed_ones():
    def same(a, b) -> bool:
        return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))

    for shortcut, width in (("A", 6), ("B", 10)):
        card = model_cards.untrained_card(ResNetConfig(depth=14, width=width, shortcut=shortcut))
        twin = model_cards.twin_card(card)
        assert shared_models._loaded_twin(twin) is None  # nothing loaded yet to copy from
        model = shared_models.cached_card_model(card)
        assert shared_models._loaded_twin(twin) is model
        assert same(shared_models.cached_card_model(twin), model_cards.load_model(twin))
    card = model_cards.untrained_card(ResNetConfig(depth=14, width=12, residual=False))
    model = shared_models.cached_card_model(card)
    saved = model.conv1.weight.detach().clone()
    with torch.no_grad():
        model.conv1.weight.add_(1.0)  # someone changed the shared network: its twin must not copy it
    try:
        twin = model_cards.twin_card(card)
        assert shared_models._loaded_twin(twin) is None
        assert same(shared_models.cached_card_model(twin), model_cards.load_model(twin))
    finally:
        with torch.no_grad():
            model.conv1.weight.copy_(saved)
        shared_models._SHARED[model] = shared_models._fingerprint(model)


_RUNNING = {"now": 0, "most": 0}
_RUNNING_GUARD = __import__("threading").Lock()


def _busy_view(model, x):
    """A view that records how many views compute at this moment."""
    import time

    with _RUNNING_GUARD:
        _RUNNING["now"] += 1
        _RUNNING["most"] = max(_RUNNING["most"], _RUNNING["now"])
    time.sleep(0.05)
    with _RUNNING_GUARD:
        _RUNNING["now"] -= 1
    return float(x.sum())


def test_views_of_many_sessions_compute_at_most_as_many_at_once_as_there_are_cores():
    """Thirty students' own views at once run in at most one slot per core (cache.compute_slot), each one whole."""
    import threading

    slots = cache._SLOTS._initial_value
    cards = [model_cards.untrained_card(TINY, seed=1000 + i) for i in range(3 * slots + 1)]
    models = [shared_models.cached_card_model(c) for c in cards]
    results: list[float] = []

    def student(i: int) -> None:
        results.append(cache.view(_busy_view, cards[i], models[i], torch.full((1,), float(i))))

    threads = [threading.Thread(target=student, args=(i,)) for i in range(len(cards))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [float(i) for i in range(len(cards))]
    assert _RUNNING["most"] == slots  # never more at once, and as many as that (the sleeps overlap)
