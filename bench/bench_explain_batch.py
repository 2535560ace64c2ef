"""Batched Grad-CAM for a gallery: 64 photos at 224 px, ResNet-50 (random weights), the last block, on 2 cores.

Three timings, best of ``--rounds`` each, interleaved, with torch at ``--threads`` threads:

- ``ours``: ``explorer.interpret.batch.explain_batch`` on the 64 prepared images in batches of ``--batch``
  (top-5, targets, one forward and one backward per batch, the maps upsampled and scaled);
- ``floor``: the least any Grad-CAM of these images must do, one batched forward and backward pass: the network
  up to its last block without autograd, then the head with it, and the backward pass of the summed top-1 logits
  to the last block (no hooks, no map), in the same batches;
- ``pytorch-grad-cam``: its ``GradCAM`` one image at a time, as its README runs it (``targets=None``: the top-1),
  timed on the first ``--reference-images`` images and scaled to all of them (one image at a time, so per-image
  time is what it is; the whole 64 take minutes on 2 cores).

Prints the ratios ours / floor (goal at most 1.3) and ours / pytorch-grad-cam (goal at most 0.5).

    .venv/bin/python -m bench.bench_explain_batch
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from explorer.interpret.batch import explain_batch
from explorer.interpret.model_cards import load_model, prepare_image, untrained_card
from explorer.models.config import ResNetConfig
from explorer.models.resnet import eval_mode


def photos(n: int, seed: int = 0) -> list[Image.Image]:
    """n seeded 'photos' of 320 x 240: smooth colour fields with noise (not all one class at random weights)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        low = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(low).resize((320, 240), Image.Resampling.BICUBIC)
        a = np.asarray(img).astype(np.int16) + rng.integers(-20, 20, (240, 320, 3))
        out.append(Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)))
    return out


def ours(model, x: torch.Tensor, batch: int) -> None:
    for i in range(0, len(x), batch):
        explain_batch(model, x[i : i + batch], "gradcam", "layer4.2")


def floor(model, x: torch.Tensor, batch: int) -> None:
    with eval_mode(model, freeze=True):
        for i in range(0, len(x), batch):
            with torch.no_grad():
                h = model.maxpool(model.relu(model.bn1(model.conv1(x[i : i + batch]))))
                a = model.layer4(model.layer3(model.layer2(model.layer1(h))))
            a.requires_grad_(True)
            logits = model.fc(torch.flatten(model.avgpool(a), 1))
            score = logits.gather(1, logits.argmax(dim=1, keepdim=True)).sum()
            torch.autograd.grad(score, [a])


def reference(model, x: torch.Tensor) -> None:
    from pytorch_grad_cam import GradCAM

    with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
        for i in range(len(x)):
            cam(input_tensor=x[i : i + 1], targets=None)


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reference-images", type=int, default=16)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    card = untrained_card(ResNetConfig("imagenet", 50))
    model = load_model(card)
    x = torch.cat([prepare_image(card, img)[0] for img in photos(args.images)])  # (N, 3, 224, 224)
    ours(model, x[:2], args.batch)  # warm-up: captum-free, but the first pass allocates
    reference(model, x[:1])
    results = {"ours": [], "floor": [], "pytorch-grad-cam": []}
    for _ in range(args.rounds):  # interleaved, so a busy neighbour slows all three alike
        results["floor"].append(best(lambda: floor(model, x, args.batch), 1))
        results["ours"].append(best(lambda: ours(model, x, args.batch), 1))
        sub = x[: args.reference_images]
        results["pytorch-grad-cam"].append(best(lambda sub=sub: reference(model, sub), 1) * len(x) / len(sub))
    t = {k: min(v) for k, v in results.items()}
    print(f"{args.images} images at 224 px, ResNet-50 random weights, Grad-CAM at layer4.2, {args.threads} threads")
    print(f"  (pytorch-grad-cam timed on {min(args.reference_images, args.images)} images, scaled to {args.images})")
    for k, v in t.items():
        print(f"  {k:<18} {v:7.2f} s  ({args.images / v:5.1f} images/s)")
    print(f"ours / floor:            {t['ours'] / t['floor']:.2f}  (goal at most 1.3)")
    print(f"ours / pytorch-grad-cam: {t['ours'] / t['pytorch-grad-cam']:.2f}  (goal at most 0.5)")


if __name__ == "__main__":
    main()
