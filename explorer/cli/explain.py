"""``python -m explorer explain IMAGES_OR_FOLDER_OR_ZIP... (--network NAME | --run RUN) --out DIR``.

The pictures go through ``explorer.data.gather`` (every file checked, a refused one skipped with its reason),
are explained in batches by ``explorer.interpret.batch`` and written by ``explorer.interpret.bundle``: the same
files as the Explain page's gallery download. Exit status: 0 every file explained, 3 some skipped, 2 a network
or an option that cannot be used (one plain line, never a traceback).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

EXIT_SKIPPED, EXIT_NO_NETWORK = 3, 2
IMAGENET_DEPTHS = (18, 34, 50, 101, 152)


def add_parser(sub) -> None:
    """Register ``explain`` on the parser's sub-commands."""
    p = sub.add_parser("explain", help="explain a folder of your own images: overlays, raw maps, predictions.csv")
    p.add_argument("inputs", nargs="+", metavar="IMAGES_OR_FOLDER_OR_ZIP", help="image files, folders or .zip files")
    net = p.add_mutually_exclusive_group(required=True)
    net.add_argument(
        "--network",
        metavar="NAME",
        help="ResNet-18/34/50/101/152 (torchvision's ImageNet weights), a .pth or a run's checkpoints .zip, "
        "or with --untrained any network (ResNet-20, Plain-56, ResNet-50)",
    )
    net.add_argument("--run", metavar="RUN_DIR", help="a saved run (e.g. assets/runs/shapes)")
    p.add_argument("--run-network", metavar="NAME", help="with --run: which of its networks (default the first)")
    p.add_argument("--untrained", action="store_true", help="the named network with fresh random weights (seed 0)")
    p.add_argument("--download", action="store_true", help="fetch ImageNet weights that are not on this machine")
    p.add_argument("--method", default="gradcam", help="grad-cam (default), or any method the Explain page offers")
    p.add_argument("--layer", default=None, help="the layer to explain at (default the last residual block)")
    p.add_argument("--target", default="top1", help="top1 (each image's own top class), or a class name or index")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write (made if needed)")
    p.set_defaults(func=cmd_explain)


def _key(name: str) -> str:
    return re.sub(r"[-_ ]", "", name.lower().replace("+", "p"))


def method_name(text: str) -> str:
    """The registry's name for a method as a user types it: 'grad-cam', 'Grad-CAM++', 'integrated_gradients'."""
    from explorer.interpret.methods import METHOD_LABELS, METHODS

    for name in METHODS:
        if _key(text) in (_key(name), _key(METHOD_LABELS.get(name, name))):
            return name
    labels = ", ".join(METHOD_LABELS.get(n, n).lower() for n in METHODS)
    raise ValueError(f"unknown method {text!r}; choose one of: {labels}")


def _named_card(name: str, untrained: bool, download: bool):
    from explorer.interpret import model_cards
    from explorer.models.config import ResNetConfig

    m = re.fullmatch(r"(resnet|plain)-?(\d+)(?: \(imagenet\))?", name.strip().lower())
    if m is None:
        raise ValueError(f"{name!r} is neither a file nor a network name like ResNet-50 or Plain-20")
    depth, residual = int(m.group(2)), m.group(1) == "resnet"
    if untrained:
        family = "imagenet" if depth in IMAGENET_DEPTHS else "cifar"
        card = model_cards.untrained_card(ResNetConfig(family, depth, residual=residual))
        return card, model_cards.load_model(card)
    if depth not in IMAGENET_DEPTHS or not residual:
        raise ValueError(f"{name} has no pretrained weights: add --untrained, or name a run with --run")
    card = model_cards.pretrained_card(depth)
    return card, model_cards.load_model(card, download=download)


def load_network(args: argparse.Namespace):
    """(card, model) the flags name; any failure is an exception with a message for the user."""
    from explorer.interpret import model_cards

    if args.run:
        from explorer.training.runs import load_run

        cards = model_cards.run_cards(load_run(args.run))
        wanted = args.run_network
        chosen = [c for c in cards if wanted is None or c.config.name.lower() == wanted.lower()]
        if not chosen:
            names = ", ".join(c.config.name for c in cards)
            raise ValueError(f"the run has no network {wanted!r}; it has {names}")
        return chosen[0], model_cards.load_model(chosen[0])
    path = Path(args.network)
    if path.is_file():
        from explorer.interpret.network_files import load_network_file

        return load_network_file(path.read_bytes(), path.name)[0]
    return _named_card(args.network, args.untrained, args.download)


def target_index(text: str, classes: tuple[str, ...]) -> int | None:
    """None for 'top1'; a class index from a class name (any case) or a number."""
    if text.lower() in ("top1", "top-1"):
        return None
    lowered = [c.lower() for c in classes]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    if text.isdigit() and int(text) < len(classes):
        return int(text)
    raise ValueError(f"--target must be top1, a class name or an index below {len(classes)}, got {text!r}")


def _bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(1, total))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} images")
    sys.stderr.write("\n" if done == total else "")
    sys.stderr.flush()


def cmd_explain(args: argparse.Namespace) -> int:
    method = method_name(args.method)
    try:
        card, model = load_network(args)
    except Exception as e:  # a missing file, no weights here, a damaged checkpoint: one line, exit 2
        text = str(e).strip().splitlines()[0] if str(e).strip() else "no details"
        print(f"error: cannot load the network: {text}", file=sys.stderr)
        return EXIT_NO_NETWORK
    target = target_index(args.target, card.classes)
    import torch

    from explorer.charts.colors import overlay_rgb
    from explorer.data.gather import gather, path_sources
    from explorer.interpret.batch import explain_pictures
    from explorer.interpret.bundle import bundle_entries, write_bundle

    if args.threads:
        torch.set_num_threads(args.threads)
    found = gather(path_sources(args.inputs))
    for s in found.skipped:
        print(f"skipped {s.name}: {s.message}")
    print(f"{len(found.pictures)} images, {card.label}, {method} at {args.layer or 'the last block'}")
    results = explain_pictures(card, model, found.pictures, method, args.layer, target, args.batch_size, _bar)
    entries = bundle_entries(results, card.classes, card.label, overlay_rgb, found.skipped)
    written = write_bundle(args.out, entries)
    print(f"wrote {len(written)} files to {args.out} ({len(results)} overlays and maps, predictions.csv)")
    return EXIT_SKIPPED if found.skipped else 0
