"""Plain JSON in and out: the one place that cleans values for ``json.dumps`` and restores them.

Runs (``explorer.training.runs``) and precomputed experiments (``explorer.experiments.precompute``) both write
with ``to_json`` and read number lists back with ``nan_for_none``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np


def to_json(obj):
    """Standard JSON values: dataclasses -> dicts, numpy arrays and tuples -> lists, numpy scalars ->
    numbers, nan and inf -> None; ``None``, bools and strings stay as they are."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    return obj


def nan_for_none(obj):
    """None inside lists -> nan (the inverse of ``to_json`` for number lists); other values unchanged."""
    if isinstance(obj, dict):
        return {k: nan_for_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [math.nan if v is None else nan_for_none(v) for v in obj]
    return obj
