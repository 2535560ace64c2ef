"""A job execution's progress on the scheduler, as bounded messages: both ends of the log.

Under the execution's key (``set_metadata``, dropped by Dask with the task): the latest snapshot (``snap``) and the
points added since, one chunk per message (``c/<page>/<i>``), folded into one page (``p/<page>``) every ``PAGE``
chunks. The worker writes (``open``, ``write``); any process reads (``snapshot``, ``chunks``).
"""

from __future__ import annotations

PAGE = 16  # chunks of points folded into one page


class ProgressLog:
    """The progress log of execution ``key`` through client ``c`` (``get_metadata``/``set_metadata``)."""

    def __init__(self, c, key: str) -> None:
        self.c, self.key = c, key
        self._chunks = 0  # chunks written (the writer's side)
        self._page: list = []  # chunks of the page being written

    # ---- the worker's side

    def open(self) -> dict:
        """Carry on from what a previous run of this execution wrote (a lost worker); returns its snapshot."""
        previous = self.snapshot()
        self._chunks = int(previous.get("chunks", 0))
        page = self.c.get_metadata([self.key, "c", str(self._chunks // PAGE)], default=None) or {}
        self._page = [page[str(j)] for j in range(self._chunks % PAGE) if str(j) in page]
        return previous

    def write(self, snapshot: dict, points: list | None = None) -> None:
        """Send ``points`` (one chunk, if any) and then ``snapshot``, which gets the count of chunks."""
        if points:
            self._append(points)
        snapshot["chunks"] = self._chunks
        self.c.set_metadata([self.key, "snap"], snapshot)

    def _append(self, points: list) -> None:
        page, i = divmod(self._chunks, PAGE)
        self.c.set_metadata([self.key, "c", str(page), str(i)], points)
        self._page.append(points)
        self._chunks += 1
        if i == PAGE - 1:  # fold the page's chunks into one entry
            self.c.set_metadata([self.key, "p", str(page)], self._page)
            self.c.set_metadata([self.key, "c", str(page)], None)
            self._page = []

    # ---- a reader's side

    def snapshot(self) -> dict:
        return self.c.get_metadata([self.key, "snap"], default=None) or {}

    def chunks(self, start: int, n: int) -> list:
        """Chunks ``start`` to ``n`` (``n``: a snapshot's count, exclusive), in order; fewer if some are not there."""
        out: list = []
        read = start
        while read < n:
            page, i = divmod(read, PAGE)
            got = None
            if (page + 1) * PAGE > n:  # the page being written: its chunks one by one
                partial = self.c.get_metadata([self.key, "c", str(page)], default=None)
                if partial:
                    got = [partial[str(j)] for j in range(i, n - page * PAGE) if str(j) in partial]
                    if len(got) != n - read:
                        got = None
            if got is None:  # a whole page (or one folded since the snapshot was read)
                folded = self.c.get_metadata([self.key, "p", str(page)], default=None)
                if folded is None:
                    break
                got = folded[i : i + n - read]
            out += got
            read += len(got)
        return out
