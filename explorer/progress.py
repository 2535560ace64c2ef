"""How long computations report progress: ``progress(done, total)`` after each unit of work.

Training reports more (loss, speed, the history so far): see ``explorer.training.Progress``.
"""

from collections.abc import Callable

ProgressFn = Callable[[int, int], None]  # progress(done, total)
