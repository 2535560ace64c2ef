"""Torch, loaded in the background after the first page (explorer/ui/caches/preload.py), once per process."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import sys, threading, time
from explorer.ui.caches import preload
assert not any(m in sys.modules for m in preload.MODULES)  # nothing yet: the first page is drawn without them
preload.preload_later(0.2)
preload.preload_later(0.2)  # a second page run in the same process starts nothing more
timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
assert len(timers) == 1 and timers[0].daemon, timers
timers[0].join(120)
print(sorted(m for m in preload.MODULES if m in sys.modules))
"""


def test_preload_imports_torch_and_the_network_code_once_on_a_daemon_thread():
    r = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    from explorer.ui.caches.preload import MODULES

    assert r.stdout.strip() == str(sorted(MODULES))
