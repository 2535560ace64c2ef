"""What a process asks the scheduler at most every so often, shared by the threads (sessions) that ask it."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class Recent:
    """Answers kept for ``max_age_s``, the ``size`` most recent keys: ``get(key, ask)`` calls ``ask()`` only when
    the kept answer is older. The lock guards the table, never a call to ``ask`` (a network call)."""

    def __init__(self, max_age_s: float, size: int = 1) -> None:
        self.max_age_s, self.size = max_age_s, size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable, ask: Callable[[], Any]) -> Any:
        with self._lock:
            kept = self._items.get(key)
        if kept is not None and time.monotonic() - kept[0] < self.max_age_s:
            return kept[1]
        value = ask()
        self.put(key, value)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, key: Hashable | None = None) -> None:
        """Forget ``key``'s answer (every answer if None)."""
        with self._lock:
            if key is None:
                self._items.clear()
            else:
                self._items.pop(key, None)
