"""The progress log's two ends and the scheduler-answer cache, without a cluster."""

import threading
import time

from explorer.engine.progress import PAGE, ProgressLog
from explorer.engine.recent import Recent


class Metadata:
    """``get_metadata``/``set_metadata`` as the scheduler does them (nested dicts), counting the messages."""

    def __init__(self) -> None:
        self.root: dict = {}
        self.messages = 0

    def set_metadata(self, keys, value) -> None:
        self.messages += 1
        d = self.root
        for k in keys[:-1]:
            if not isinstance(d.get(k), dict):
                d[k] = {}
            d = d[k]
        d[keys[-1]] = value

    def get_metadata(self, keys, default=None):
        self.messages += 1
        d = self.root
        for k in keys:
            if not isinstance(d, dict) or k not in d:
                return default
            d = d[k]
        return d


def read_all(c, key: str, start: int = 0) -> list:
    snap = ProgressLog(c, key).snapshot()
    return [p for chunk in ProgressLog(c, key).chunks(start, snap["chunks"]) for p in chunk]


def test_points_written_in_chunks_read_back_in_order_across_folded_pages():
    c = Metadata()
    log = ProgressLog(c, "explorer-count-0123456789abcdef/1")
    assert log.open() == {}
    written = []
    for step in range(1, 2 * PAGE + 5):  # two folded pages and part of a third
        points = [[step, step * step]]
        written += points
        log.write({"step": step}, points)
        assert read_all(c, log.key) == written
    page0 = c.root[log.key]["p"]["0"]
    assert len(page0) == PAGE and c.root[log.key]["c"]["0"] is None  # folded: one entry, its chunks gone
    assert ProgressLog(c, log.key).snapshot() == {"step": 2 * PAGE + 4, "chunks": 2 * PAGE + 4}


def test_a_reader_reads_only_the_chunks_it_has_not_read():
    c = Metadata()
    log = ProgressLog(c, "k")
    for step in range(PAGE + 3):
        log.write({"step": step}, [[step]])
    reader = ProgressLog(c, "k")
    c.messages = 0
    assert reader.chunks(PAGE + 1, PAGE + 3) == [[[PAGE + 1]], [[PAGE + 2]]]
    assert c.messages == 1  # the page being written, once
    assert reader.chunks(0, 2) == [[[0]], [[1]]]  # from a folded page


def test_a_snapshot_without_points_sends_no_chunk_and_a_new_worker_carries_on():
    c = Metadata()
    first = ProgressLog(c, "k")
    first.write({"step": 1}, [[1]])
    first.write({"step": 2}, [])
    assert ProgressLog(c, "k").snapshot()["chunks"] == 1
    again = ProgressLog(c, "k")  # the execution runs again on another worker
    assert again.open()["step"] == 2
    again.write({"step": 3}, [[3]])
    assert read_all(c, "k") == [[1], [3]]


def test_recent_asks_at_most_once_per_age_and_never_under_its_lock():
    asked = []
    cache = Recent(0.2, size=2)

    def ask():
        assert cache._lock.acquire(blocking=False)  # free while asking: others read meanwhile
        cache._lock.release()
        asked.append(time.monotonic())
        return len(asked)

    assert cache.get("a", ask) == 1 and cache.get("a", ask) == 1
    time.sleep(0.25)
    assert cache.get("a", ask) == 2
    cache.get("b", ask), cache.get("c", ask)
    assert cache.get("a", ask) == 5  # only the 2 most recent keys are kept
    cache.forget("a")
    assert cache.get("a", ask) == 6
    threads = [threading.Thread(target=cache.get, args=("b", ask)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
