"""A class experiment: thirty students, thirty seeds, one chart. Is the gap between plain and residual networks
(He et al. 2015, Fig. 4) larger than the spread across seeds?

Every student trains one plain-and-residual pair at a depth with a seed of their own; the experiment gathers the
pairs' final training losses and held-out accuracies, and says per depth whether the gap between the plain and the
residual medians is larger than the spread across seeds. Its record lives on disk beside the runs, so every server
process of the class set-up (they share the runs folder) and a restarted server see the same experiment::

    runs/class/K7QX2P/
        experiment.json          # code, depths, steps, dataset, open/closed, created, the training recipe
        assignments/0001.json    # a student: an anonymous number, a depth and a seed (created once, O_EXCL)
        results/d56-s3.json      # one finished pair: each network's final loss, held-out accuracy, steps
        pairs/<title>-<id>/      # the pairs' runs (``explorer.training.runs``)

Every file is written whole or not at all (a temporary file in the same folder, then ``os.replace``, as runs are
saved), and each assignment and result is its own file, so two processes never overwrite each other's. A folder
edited by hand or half-written is refused with one plain message (``ExperimentDamaged``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from explorer.errors import PlainError
from explorer.i18n import N_, message
from explorer.models.config import ResNetConfig
from explorer.training.config import TrainConfig
from explorer.training.history import History
from explorer.training.presets import PRESETS

DEFAULT_DEPTHS = (20, 32, 44, 56)
DEPTH_CHOICES = (8, 14, 20, 26, 32, 44, 56, 110)  # 6n+2 depths of the CIFAR family
# The degradation demo's recipe, shorter: at 60 steps a pair costs about 18 CPU-seconds averaged over the four
# default depths (10 at 20 layers, 27 at 56; measured with one torch thread), so thirty pairs take about 4.6
# minutes of a 2-core machine.
DEFAULT_STEPS = 60
# held-out accuracy once, at the last step (``new_experiment`` keeps it so); no block responses recorded
RECIPE = replace(PRESETS["degradation"], steps=DEFAULT_STEPS, warmup=5, eval_every=DEFAULT_STEPS, record_every=0)
LOSS_WINDOW = 10  # "final training loss": the mean over this many last steps
MIN_SEEDS = 3  # pairs per depth before the spread across seeds is worth comparing with anything
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read off a projector
CODE_LENGTH = 6
KINDS = ("plain", "residual")

UNKNOWN = N_("No class experiment has the code {code}: check the code and try again.")
CLOSED = N_("The class experiment {code} is closed: the teacher is not taking new runs.")
DAMAGED = N_(
    "The class experiment {code} cannot be read: its folder was edited by hand or not written whole. "
    "Start a new experiment."
)
BAD_DEPTH = N_("The class experiment {code} measures depths {depths}, not {depth}.")


class UnknownExperiment(PlainError):
    """No experiment with this code (a typing mistake, or another server's)."""


class ExperimentClosed(PlainError):
    """The teacher closed the experiment: no new runs."""


class ExperimentDamaged(PlainError):
    """The experiment's folder was edited by hand or half-written."""


@dataclass(frozen=True)
class Assignment:
    """A student: an anonymous number, and the pair they train."""

    number: int
    depth: int
    seed: int


@dataclass(frozen=True)
class PairResult:
    """One finished pair: per network (``plain``, ``residual``) its final loss and held-out accuracy."""

    depth: int
    seed: int
    steps: int
    final_loss: dict[str, float]
    heldout_acc: dict[str, float]
    recorded: float = 0.0  # time.time() when it was recorded: the order the class produced them


@dataclass(frozen=True)
class Experiment:
    """An experiment's record and what it has gathered so far."""

    code: str
    depths: tuple[int, ...]
    steps: int
    dataset: str
    open: bool
    created: str
    path: Path = field(compare=False)
    recipe: TrainConfig = RECIPE
    results: tuple[PairResult, ...] = ()
    assignments: tuple[Assignment, ...] = ()

    def train_config(self, seed: int) -> TrainConfig:
        """The recipe every pair of this experiment trains with, for ``seed``."""
        return replace(self.recipe, steps=self.steps, dataset=self.dataset, seed=int(seed))

    def rows(self) -> list[dict]:
        """One row per run (a network of a pair), in the order the pairs finished: the JSON's ``runs``."""
        return [
            {
                "depth": r.depth,
                "residual": kind == "residual",
                "seed": r.seed,
                "final_loss": r.final_loss[kind],
                "heldout_acc": r.heldout_acc[kind],
                "steps": r.steps,
            }
            for r in self.results
            for kind in KINDS
        ]


def pair_configs(depth: int) -> list[ResNetConfig]:
    """The pair a student trains: the plain network and its residual twin, ``depth`` layers."""
    return [ResNetConfig(depth=int(depth), residual=False), ResNetConfig(depth=int(depth), residual=True)]


# ---- where things are, and writing them whole -------------------------------------------------------


def experiments_dir(root: str | Path) -> Path:
    """The folder of every class experiment under the runs folder ``root``."""
    return Path(root) / "class"


def normal_code(code: str) -> str:
    """A code as typed ('k7qx 2p') in its one spelling ('K7QX2P'); UnknownExperiment for one that cannot be."""
    text = re.sub(r"[\s-]+", "", str(code or "")).upper()
    if len(text) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in text):
        raise UnknownExperiment(message(UNKNOWN, code=str(code or "").strip()[:20] or "''"))
    return text


def experiment_dir(root: str | Path, code: str) -> Path:
    return experiments_dir(root) / normal_code(code)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file in the same folder, then ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _create_json(path: Path, data: dict) -> bool:
    """Write ``data`` to ``path`` whole only if ``path`` does not exist yet (``os.link`` of a finished temporary
    file: atomic, and refused when the name is taken); False if it was taken."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1))
        os.link(tmp, path)
        return True
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)


# ---- making, opening, closing ---------------------------------------------------------------------


def new_experiment(
    root: str | Path,
    depths=DEFAULT_DEPTHS,
    steps: int = DEFAULT_STEPS,
    dataset: str = "shapes",
    recipe: TrainConfig | None = None,
) -> Experiment:
    """A new, open experiment under ``root`` with a fresh code; its pairs train with ``recipe`` (its steps and
    dataset set to ``steps`` and ``dataset``), kept in its record."""
    depths = tuple(sorted({int(d) for d in depths}))
    if not depths:
        raise ValueError("choose at least one depth")
    for d in depths:
        ResNetConfig(depth=d)  # ValueError for a depth that is not 6n+2
    steps = int(steps)
    recipe = replace(
        recipe or RECIPE, steps=steps, eval_every=steps, dataset=str(dataset), seed=0
    )  # ValueError for steps < 1
    experiments_dir(root).mkdir(parents=True, exist_ok=True)
    record = {
        "code": "",
        "depths": list(depths),
        "steps": steps,
        "dataset": str(dataset),
        "open": True,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "recipe": recipe.to_dict(),
    }
    for _attempt in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        path = experiments_dir(root) / code
        try:
            path.mkdir()
        except FileExistsError:
            continue
        for sub in ("assignments", "results", "pairs"):
            (path / sub).mkdir()
        write_json(path / "experiment.json", {**record, "code": code})
        return load(root, code)
    raise OSError("could not find a free code for a new class experiment")


_cache: dict[Path, tuple[tuple, Experiment]] = {}  # folder -> (its files' stamps, the experiment read then)
RACY_S = 2.0  # a stamp this fresh may hide a change made within the file system's clock tick: read again


def _stamp(path: Path) -> tuple | None:
    """What changes when the experiment does: its record and its folders of assignments and results; None while
    one of them changed too recently for its time to tell a later change apart (as git treats a racy index)."""
    stamps = tuple(os.stat(p).st_mtime_ns for p in (path / "experiment.json", path / "assignments", path / "results"))
    return None if time.time_ns() - max(stamps) < RACY_S * 1e9 else stamps


def load(root: str | Path, code: str) -> Experiment:
    """The experiment with ``code`` as it is on disk now (read again only when its files changed: a poll of an
    unchanged experiment costs three ``stat`` calls).

    UnknownExperiment for a code there is no folder for; ExperimentDamaged for a folder that is not whole.
    """
    code = normal_code(code)
    path = experiments_dir(root) / code
    if not path.is_dir():
        raise UnknownExperiment(message(UNKNOWN, code=code))
    try:
        stamp = _stamp(path)
    except OSError:
        raise ExperimentDamaged(message(DAMAGED, code=code)) from None
    kept = _cache.get(path)
    if stamp is not None and kept is not None and kept[0] == stamp:
        return kept[1]
    try:
        experiment = _read(path, code)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExperimentDamaged(message(DAMAGED, code=code)) from e
    if stamp is not None:
        _cache[path] = (stamp, experiment)
    return experiment


def _files(folder: Path) -> list[Path]:
    """The whole files of a folder (temporary ones of a write in progress start with a dot)."""
    return sorted(p for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))


def _read(path: Path, code: str) -> Experiment:
    rec = json.loads((path / "experiment.json").read_text())
    depths = tuple(int(d) for d in rec["depths"])
    if rec["code"] != code or not depths or not isinstance(rec["open"], bool) or int(rec["steps"]) < 1:
        raise ValueError("not this experiment's record")
    results = tuple(sorted((_result(p) for p in _files(path / "results")), key=lambda r: (r.recorded, r.depth)))
    assignments = tuple(_assignment(p) for p in _files(path / "assignments"))
    recipe = TrainConfig.from_dict(rec["recipe"])
    return Experiment(
        code, depths, int(rec["steps"]), str(rec["dataset"]), rec["open"], str(rec["created"]), path, recipe,
        results, assignments,
    )  # fmt: skip


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    return float(value)


def _result(p: Path) -> PairResult:
    d = json.loads(p.read_text())
    r = PairResult(
        int(d["depth"]),
        int(d["seed"]),
        int(d["steps"]),
        {k: _number(d["final_loss"][k]) for k in KINDS},
        {k: _number(d["heldout_acc"][k]) for k in KINDS},
        _number(d.get("recorded", 0.0)),
    )
    if p.name != _result_name(r.depth, r.seed):
        raise ValueError(f"{p.name} holds another pair")
    return r


def _assignment(p: Path) -> Assignment:
    d = json.loads(p.read_text())
    a = Assignment(int(d["number"]), int(d["depth"]), int(d["seed"]))
    if p.name != f"{a.number:04d}.json":
        raise ValueError(f"{p.name} holds another assignment")
    return a


def set_open(root: str | Path, code: str, is_open: bool) -> Experiment:
    """Close the experiment (no new runs) or open it again."""
    path = load(root, code).path
    rec = json.loads((path / "experiment.json").read_text())
    write_json(path / "experiment.json", {**rec, "open": bool(is_open)})
    return load(root, code)


def open_experiment(root: str | Path, code: str) -> Experiment:
    """The experiment, if it takes runs: ExperimentClosed if the teacher closed it."""
    exp = load(root, code)
    if not exp.open:
        raise ExperimentClosed(message(CLOSED, code=exp.code))
    return exp


def check_pair(exp: Experiment, depth: int) -> None:
    """ValueError (plain words) for a depth the experiment does not measure."""
    if int(depth) not in exp.depths:
        depths = ", ".join(str(d) for d in exp.depths)
        raise PlainError(message(BAD_DEPTH, code=exp.code, depths=depths, depth=int(depth)))


# ---- assignments ------------------------------------------------------------------------------------


def assign(root: str | Path, code: str) -> Assignment:
    """A new student's assignment: the next anonymous number, and a depth and seed that give every depth its
    share (round robin over the depths; each depth's seeds count up). The number is taken with an exclusive
    create, so two server processes never hand out the same one."""
    exp = open_experiment(root, code)
    folder = exp.path / "assignments"
    n = len(_files(folder)) + 1
    while True:
        k = len(exp.depths)
        a = Assignment(n, exp.depths[(n - 1) % k], (n - 1) // k + 1)
        if _create_json(folder / f"{n:04d}.json", asdict(a)):
            return a
        n += 1


def choose(root: str | Path, code: str, number: int, depth: int, seed: int) -> Assignment:
    """Student ``number`` picked their own depth and seed: their assignment says so from now on."""
    exp = open_experiment(root, code)
    check_pair(exp, depth)
    a = Assignment(int(number), int(depth), int(seed))
    write_json(exp.path / "assignments" / f"{a.number:04d}.json", asdict(a))
    return a


# ---- results ----------------------------------------------------------------------------------------


def _result_name(depth: int, seed: int) -> str:
    return f"d{int(depth)}-s{int(seed)}.json"


def pair_result(depth: int, seed: int, history: dict) -> PairResult:
    """A finished pair from its run's history (``History.to_dict()``): each network's final training loss (the
    mean of the last LOSS_WINDOW steps) and its last held-out accuracy."""
    h = History.from_dict(history)
    by_kind = {("residual" if m.config.get("residual") else "plain"): m for m in h.models.values()}
    if set(by_kind) != set(KINDS):
        raise ValueError("a pair is one plain and one residual network")
    acc = {k: (m.eval_accuracy[-1] if m.eval_accuracy else float("nan")) for k, m in by_kind.items()}
    loss = {k: m.final_loss(LOSS_WINDOW) for k, m in by_kind.items()}
    return PairResult(int(depth), int(seed), int(h.step), loss, acc, time.time())


def record_result(root_or_dir: str | Path, result: PairResult, code: str | None = None) -> Path:
    """Write a finished pair into its experiment (the folder, or ``root`` and ``code``); a pair recorded already
    keeps its first record (the same inputs gave the same numbers)."""
    path = Path(root_or_dir) if code is None else load(root_or_dir, code).path
    target = path / "results" / _result_name(result.depth, result.seed)
    if not target.exists():  # a page records its finished pair on every run: a stat, not a write, once it is there
        _create_json(target, asdict(result))
    return target
