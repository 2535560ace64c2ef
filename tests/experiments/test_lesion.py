"""Lesion study: one entry per block, removal changes accuracy, the given model is untouched."""

import threading

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from explorer.experiments.lesion import CANNOT, default_ks, lesion_study
from explorer.models.resnet import build_resnet


def own_labels(model, n=64, seed=0):
    """Random images labelled with the model's own predictions: baseline accuracy is exactly 1."""
    x = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    model.eval()
    with torch.no_grad():
        y = model(x).argmax(1)
    model.train()
    return x, y


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}, [b.bypass for _, b in model.blocks()]


@pytest.mark.parametrize("residual", [True, False])
def test_one_entry_per_block_and_model_untouched(residual):
    model = build_resnet(depth=14, width=8, residual=residual)
    x, y = own_labels(model)
    state, bypass = snapshot(model)
    res = lesion_study(model, (x, y), ks=[1, 2], samples=2)
    assert [b.name for b in res.blocks] == [n for n, _ in model.blocks()]
    assert res.baseline == 1.0 and res.n_examples == 64 and res.complete
    assert res.residual is residual and res.model_name == model.config.name
    for b, (_, block) in zip(res.blocks, model.blocks(), strict=True):
        if block.can_bypass:
            assert b.removable and 0.0 <= b.accuracy <= 1.0 and b.drop == pytest.approx(1.0 - b.accuracy)
        else:  # the plain twin's downsampling blocks
            assert not b.removable and b.note == CANNOT
    assert any(b.removable and b.accuracy < 1.0 for b in res.blocks)  # bypassing changes predictions
    if not residual:
        assert [b.name for b in res.blocks if not b.removable] == ["layer2.0", "layer3.0"]
    assert [p.k for p in res.removed] == [1, 2] and all(len(p.accuracies) == 2 for p in res.removed)
    new_state, new_bypass = snapshot(model)
    assert new_bypass == bypass and model.training
    for k, v in new_state.items():
        assert torch.equal(v, state[k]), k


def test_zero_init_residual_blocks_are_free_to_remove():
    # with the last BN of every branch at 0, F(x) = 0: removing any set of blocks changes nothing
    model = build_resnet(depth=14, width=8, zero_init_residual=True)
    x, y = own_labels(model)
    res = lesion_study(model, (x, y), ks=[6], samples=1)
    assert all(b.accuracy == 1.0 and b.drop == 0.0 for b in res.blocks)
    assert res.removed[0].accuracies == [1.0] and len(res.removed[0].subsets[0]) == 6


def test_loader_and_tensors_agree_and_seeded(tiny_model):
    model = tiny_model  # three blocks: three distinct pairs of blocks
    x, y = own_labels(model, n=16)
    a = lesion_study(model, (x, y), ks=[2], samples=3, seed=1, batch_size=16)
    b = lesion_study(model, DataLoader(TensorDataset(x, y), batch_size=7), ks=[2], samples=3, seed=1)
    c = lesion_study(model, ((x[i : i + 8], y[i : i + 8]) for i in range(0, 16, 8)), ks=[2], samples=3, seed=1)
    for r in (b, c):
        assert [bl.accuracy for bl in r.blocks] == [bl.accuracy for bl in a.blocks]
        assert r.removed[0].subsets == a.removed[0].subsets
        assert r.removed[0].accuracies == a.removed[0].accuracies
    assert len(set(a.removed[0].subsets)) == 3


def test_progress_stop_and_errors(tiny_model):
    x, y = own_labels(tiny_model, n=8)
    stop = threading.Event()
    seen = []

    def progress(d, t):
        seen.append((d, t))
        if d == 2:
            stop.set()

    res = lesion_study(tiny_model, (x, y), ks=[1], samples=1, progress=progress, stop=stop)
    assert not res.complete and len(res.blocks) == 1 and seen[-1] == (2, 1 + 3 + 1)
    with pytest.raises(ValueError, match="k must be"):
        lesion_study(tiny_model, (x, y), ks=[4])
    with pytest.raises(ValueError, match="labels"):
        lesion_study(tiny_model, (x, y[:3]))
    assert default_ks(3) == [1, 2, 3] and default_ks(54)[0] == 1 and default_ks(54)[-1] == 54


def test_lesion_chart_names_every_block_by_stage_and_index():
    """The 27 blocks of a ResNet-56 on one axis: each tick is the block's index under its stage (a full name per
    tick was cut to "layer1"), the full name is in the hover, and a block that cannot be removed gets a cross in
    its network's place, one legend entry for all."""
    from explorer.charts.lesion import lesion_figure
    from explorer.charts.style import block_ticks
    from explorer.experiments.lesion import BlockLesion, LesionResult

    names = [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(9)]
    fixed = ("layer2.0", "layer3.0")  # a plain net's blocks that change the shape
    plain = LesionResult(
        "Plain-56",
        False,
        0.5,
        100,
        [BlockLesion(n, None, None) if n in fixed else BlockLesion(n, 0.4, 0.1) for n in names],
    )
    res = LesionResult("ResNet-56", True, 0.8, 100, [BlockLesion(n, 0.7, 0.1) for n in names])
    fig = lesion_figure([plain, res])
    bars = [t for t in fig.data if t.type == "bar"]
    assert [list(t.x) for t in bars] == [block_ticks(names)] * 2
    assert block_ticks(names)[0][9:11] == ["layer2", "layer2"] and block_ticks(names)[1][9:11] == ["0", "1"]
    assert list(bars[0].customdata) == names and fig.layout.xaxis.tickangle == 0
    (cross,) = [t for t in fig.data if t.type == "scatter"]
    assert list(cross.customdata) == list(fixed) and cross.offsetgroup == bars[0].offsetgroup
    assert [t.name for t in fig.data if t.showlegend is not False] == [t.name for t in fig.data]
