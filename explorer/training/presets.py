"""The named recipes (``PRESETS``) and the networks each trains side by side (``PRESET_MODELS``): plain data, no torch,
so the command line's parser and the pages can offer them before a network is built."""

from __future__ import annotations

from explorer.models.config import ResNetConfig
from explorer.training.config import TrainConfig

PRESETS: dict[str, TrainConfig] = {
    # The classroom demo: see PRESET_MODELS; tuned to finish in about 2 minutes on 2 CPU cores.
    "degradation": TrainConfig(
        steps=160,
        batch_size=32,
        optimizer="adamw",
        lr=3e-3,
        schedule="cosine",
        warmup=10,
        weight_decay=5e-4,
        eval_every=40,
        record_every=10,
        seed=0,
        dataset="shapes",
        train_size=6_000,
        eval_size=500,
        image_size=24,
    ),
    # He et al. 2015, section 4.2: SGD 0.1, momentum 0.9, wd 1e-4, batch 128, /10 at 32k and 48k, stop at 64k,
    # flip + crop augmentation (warm-up at 0.01 for ResNet-110: set warmup=400, warmup_lr=0.01).
    "paper": TrainConfig(
        steps=64_000,
        batch_size=128,
        optimizer="sgd",
        lr=0.1,
        schedule="step",
        milestones=(32_000, 48_000),
        weight_decay=1e-4,
        momentum=0.9,
        eval_every=1_000,
        record_every=100,
        augment=True,
        dataset="cifar10",
        train_size=None,
        eval_size=10_000,
    ),
    # A gentle default for a page's "train briefly" button.
    "quick": TrainConfig(steps=100, batch_size=32, lr=2e-3, warmup=5, eval_every=25, train_size=3_000, eval_size=500),
}
# Where the ReLU goes: He et al. 2015's ResNet-56 against He et al. 2016's pre-activation ResNet-56 (their Fig. 4(a)
# against 4(e)) on the degradation demo's recipe: same batches, same seed, conv weights shared by name.
PRESETS["preact"] = PRESETS["degradation"]
PRESET_MODELS: dict[str, tuple[ResNetConfig, ...]] = {
    "degradation": tuple(ResNetConfig(depth=d, residual=r) for d in (20, 56) for r in (False, True)),
    "paper": tuple(ResNetConfig(depth=d, residual=r) for d in (20, 56) for r in (False, True)),
    "quick": (ResNetConfig(depth=20, residual=False), ResNetConfig(depth=20, residual=True)),
    "preact": (ResNetConfig(depth=56), ResNetConfig(depth=56, preact=True)),
}
