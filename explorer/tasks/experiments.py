"""What the job engine's workers run for the experiments: the lesion study, the randomisation check, the sweeps at
initialisation, loss landscapes and the saliency benchmark (training is ``explorer.tasks.training``).

Each ``*_job`` function returns an ``engine.records.Job`` as ``explorer.tasks.training`` describes: the function to run,
``fn(spec, ctx)`` (module level: a worker imports it from here by name), its ``spec`` and its identity (a hash of
what it computes, so identical requests share one job). Phases cross processes as ``i18n.message`` pairs, shown in
each viewer's language. The CLI and the pages call the same functions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from explorer.engine.records import Job, make_job
from explorer.i18n import N_, message
from explorer.models.config import ResNetConfig
from explorer.models.resnet import build_resnet
from explorer.training import runs

NETWORK_OF = N_("network {i} of {n}")
LANDSCAPE_OF = N_("{name} ({i} of {n})")


def state_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """A hash of a network's weights: two sessions looking at the same network share one job."""
    h = hashlib.sha256()
    for k, v in state_dict.items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:24]


# ---- the lesion study and the randomisation check ------------------------------------------------


def _network(entry: dict) -> torch.nn.Module:
    model = build_resnet(entry["config"])
    model.load_state_dict(entry["state_dict"])
    return model.eval()


def lesion_job(models: list[tuple[ResNetConfig, dict]], image_size: int) -> Job:
    """A lesion study (Veit et al. 2016) of each (config, state_dict) on held-out shapes."""
    entries = [{"config": c, "state_dict": sd} for c, sd in models]
    what = {"models": [(c, state_digest(sd)) for c, sd in models], "size": image_size}
    return make_job("lesion", lesion_task, {"title": "lesion study", "models": entries, "image_size": image_size}, what)


def lesion_task(spec: dict, ctx) -> list:
    """One ``LesionResult`` per network; stops between evaluations when asked (results so far come back)."""
    from explorer.experiments.lesion import lesion_study
    from explorer.experiments.precompute import lesion_data

    x, y = lesion_data(spec["image_size"])
    results, n = [], len(spec["models"])
    for i, entry in enumerate(spec["models"]):
        if ctx.stop.is_set():
            break

        def progress(done, total, i=i):
            ctx.report(phase=message(NETWORK_OF, i=i + 1, n=n), step=i * total + done, total=n * total)

        results.append(lesion_study(_network(entry), (x, y), progress=progress, stop=ctx.stop))
    return results


def randomisation_job(
    models: list[tuple[str, ResNetConfig, dict, torch.Tensor, str | None, int | None, torch.Tensor | None]],
    methods: tuple[str, ...] | None = None,
) -> Job:
    """Adebayo et al.'s cascading randomisation check of each (name, config, state_dict, image, layer, target,
    calibration batch), every method on the same randomised copies."""
    from explorer.interpret.trust import CHECK_METHODS

    methods = tuple(methods or CHECK_METHODS)
    entries = [
        {"name": n, "config": c, "state_dict": sd, "x": x, "layer": layer, "target": t, "calibration": cal}
        for n, c, sd, x, layer, t, cal in models
    ]
    digest = [
        (n, c, state_digest(sd), state_digest({"x": x, "calibration": cal if cal is not None else x}), layer, t)
        for n, c, sd, x, layer, t, cal in models
    ]
    spec = {"title": "randomisation check", "models": entries, "methods": methods}
    return make_job("randomise", randomisation_task, spec, {"models": digest, "methods": methods})


def randomisation_task(spec: dict, ctx) -> dict:
    """name -> method -> ``RandomisationResult``; stops between randomisation steps when asked."""
    from explorer.interpret.gradcam import target_layers
    from explorer.interpret.trust import randomisation_check

    out, n = {}, len(spec["models"])
    for i, entry in enumerate(spec["models"]):
        if ctx.stop.is_set():
            break
        model = _network(entry)
        layer = entry["layer"] if entry["layer"] in target_layers(model) else None

        def progress(done, total, i=i):
            ctx.report(phase=message(NETWORK_OF, i=i + 1, n=n), step=i * total + done, total=n * total)

        out[entry["name"]] = randomisation_check(
            model,
            entry["x"],
            spec["methods"],
            layer=layer,
            target=entry["target"],
            calibration=entry.get("calibration"),
            progress=progress,
            stop=ctx.stop,
        )
    return out


SWEEPS = ("depth", "shattered")


def sweep_job(sweep: str, depths: tuple[int, ...] | None = None) -> Job:
    """A sweep at initialisation: gradient norms across depths, or the shattered-gradients probe."""
    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {SWEEPS}, got {sweep!r}")
    spec = {"title": f"{sweep} sweep", "sweep": sweep, "depths": list(depths) if depths else None}
    return make_job("sweep", sweep_task, spec, {k: v for k, v in spec.items() if k != "title"})


def sweep_task(spec: dict, ctx) -> list:
    """The sweep's results (one per network); stops between networks when asked."""
    from explorer.interpret.gradients import depth_sweep, shattered_sweep

    fn = depth_sweep if spec["sweep"] == "depth" else shattered_sweep
    kwargs = {"depths": tuple(spec["depths"])} if spec.get("depths") else {}

    def progress(done, total):
        ctx.report(phase=message(NETWORK_OF, i=done, n=total), step=done, total=total)

    return fn(**kwargs, progress=progress, stop=ctx.stop)


def landscape_job(
    run_dir: str | Path, networks: list[str], grid: int, images: int, precision: str = "float32", seed: int = 0
) -> Job:
    """The loss landscapes (Li et al. 2018) of some networks of a saved run, one after another.

    The identity names the run by its folder and its state (steps, last save), so a run that trained on is measured
    afresh. The worker reads the run from ``run_dir``: the embedded cluster, or workers sharing the folder.
    """
    run = runs.load_run(run_dir)
    options = {"grid": grid, "images": images, "precision": precision, "seed": seed}
    what = {"run": Path(run_dir).resolve().name, "step": run.history.step, "updated": run.meta.get("updated")}
    spec = {"title": "loss landscape", "run_dir": str(Path(run_dir).resolve()), "networks": list(networks), **options}
    return make_job("landscape", landscape_task, spec, {**what, "networks": list(networks), **options})


def landscape_task(spec: dict, ctx) -> list:
    """The ``Landscape`` of each network, in order; a stop ends the current one with the points done so far."""
    from explorer.experiments.landscape import run_landscape

    out, names = [], spec["networks"]
    for i, name in enumerate(names):
        if ctx.stop.is_set():
            break

        def progress(p, i=i, name=name) -> None:
            phase = message(LANDSCAPE_OF, name=name, i=i + 1, n=len(names))
            ctx.report(phase=phase, step=p.done, total=p.total, eta_s=p.eta_s)

        out.append(
            run_landscape(
                spec["run_dir"],
                name,
                grid=spec["grid"],
                images=spec["images"],
                seed=spec["seed"],
                precision=spec["precision"],
                progress=progress,
                stop=ctx.stop,
            )
        )
    return out


SALIENCY_OF = {
    "trained": N_("{name}, trained ({i} of {n})"),
    "randomised": N_("{name}, randomised weights ({i} of {n})"),
}


def saliency_job(
    run_dir: str | Path, networks: list[str], images: int = 256, seed: int = 0, randomised: bool = True
) -> Job:
    """The saliency benchmark of some networks of a saved run (and, with ``randomised``, of each with its weights
    randomised), one after another. The identity names the run by its folder and state, as ``landscape_job``."""
    run = runs.load_run(run_dir)
    what = {"run": Path(run_dir).resolve().name, "step": run.history.step, "updated": run.meta.get("updated")}
    weights = ["trained", "randomised"] if randomised else ["trained"]
    options = {"networks": list(networks), "weights": weights, "images": images, "seed": seed}
    spec = {"title": "saliency benchmark", "run_dir": str(Path(run_dir).resolve()), **options}
    return make_job("saliency", saliency_task, spec, {**what, **options})


def saliency_task(spec: dict, ctx) -> list:
    """The benchmark's result (``experiments.saliency.run_saliency``) of each network and weights, in order;
    a stop ends the current one with the images done so far."""
    from explorer.experiments.saliency import run_saliency

    todo = [(name, w) for name in spec["networks"] for w in spec["weights"]]
    out, n = [], spec["images"]
    for i, (name, weights) in enumerate(todo):
        if ctx.stop.is_set():
            break

        def progress(done, total, i=i, name=name, weights=weights) -> None:
            phase = message(SALIENCY_OF[weights], name=name, i=i + 1, n=len(todo))
            ctx.report(phase=phase, step=i * n + done, total=len(todo) * n)

        result = run_saliency(spec["run_dir"], name, n, spec["seed"], weights, progress, ctx.stop)
        if result is not None:
            out.append(result)
    return out
