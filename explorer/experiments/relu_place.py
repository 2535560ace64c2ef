"""Where the ReLU goes: the 2015 block against the 2016 pre-activation block, trained in lock-step on several seeds.

He et al. 2016, "Identity Mappings in Deep Residual Networks", Table 3: at 110 layers the pre-activation
block gains little on CIFAR-10 (6.61% -> 6.37% error); at 164 layers 5.93% -> 5.46%; at 1001 layers 7.61% ->
4.92%. Here the app's own short runs (``python -m explorer train --preset preact --seed S``) are summarised
per seed, and ``verdict`` says which block fitted the training data better, as measured.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from explorer.training.jsonable import nan_for_none, to_json
from explorer.training.runs import Run, load_run

RELU_PLACE_FILE = "relu_place.json"


def seed_rows(runs: list[Run]) -> list[dict]:
    """One row per network and run: ``seed``, ``network``, ``preact``, the final ``train_loss`` and
    ``train_accuracy`` (mean of the last 10 recorded steps) and the last ``heldout_accuracy`` (nan if none)."""
    rows = []
    for run in runs:
        for name, h in run.history.models.items():
            rows.append(
                {
                    "seed": run.train.seed,
                    "network": name,
                    "preact": run.model_configs[name].preact,
                    "train_loss": h.final_loss(),
                    "train_accuracy": h.final_accuracy(),
                    "heldout_accuracy": h.eval_accuracy[-1] if h.eval_accuracy else math.nan,
                }
            )
    return rows


def verdict(rows: list[dict]) -> dict:
    """Means per block over the seeds and the seeds on which the 2016 block reached the lower training loss.

    Returns ``seeds`` (sorted), ``wins_2016`` (seeds where the pre-activation net's loss is lower), and for
    "2015" and "2016" the mean ``train_loss``, ``train_accuracy`` and ``heldout_accuracy``.
    """
    by_seed: dict[int, dict[bool, dict]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], {})[bool(r["preact"])] = r
    pairs = {s: p for s, p in sorted(by_seed.items()) if len(p) == 2}
    out: dict = {
        "seeds": list(pairs),
        "wins_2016": [s for s, p in pairs.items() if p[True]["train_loss"] < p[False]["train_loss"]],
    }
    for label, preact in (("2015", False), ("2016", True)):
        out[label] = {
            k: sum(p[preact][k] for p in pairs.values()) / max(1, len(pairs))
            for k in ("train_loss", "train_accuracy", "heldout_accuracy")
        }
    return out


def save_relu_place(run_dirs: list[str | Path], out: str | Path) -> Path:
    """Summarise the runs (one per seed) into ``out``/relu_place.json with the recipe they share."""
    runs = [load_run(d) for d in run_dirs]
    recipes = {json.dumps(to_json({**r.train.to_dict(), "seed": 0})) for r in runs}
    if len(recipes) != 1:
        raise ValueError("the runs were trained with different recipes; pass runs of one preset")
    path = Path(out) / RELU_PLACE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    networks = {name: to_json(c) for r in runs for name, c in r.model_configs.items()}
    data = {"train": to_json(runs[0].train.to_dict()), "networks": networks, "rows": to_json(seed_rows(runs))}
    path.write_text(json.dumps(data, indent=1))
    return path


def load_relu_place(folder: str | Path) -> dict | None:
    """The saved summary (``train``, ``networks``, ``rows``), or None if it is not there."""
    path = Path(folder) / RELU_PLACE_FILE
    if not path.is_file():
        return None
    return nan_for_none(json.loads(path.read_text()))
