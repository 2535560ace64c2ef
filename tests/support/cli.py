"""``python -m explorer ...`` in a fresh interpreter from the repository, as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def two_at_a_time(calls: Iterable[Callable[[], T]]) -> list[T]:
    """Each call's result, in order, two running at once. A CLI's start-up is mostly one core importing torch:
    independent commands, each still in its own fresh interpreter, use both cores of the test machine."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda call: call(), calls))
