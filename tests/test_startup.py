"""Quick start: the modules the first page needs leave captum, torchvision, Dask (the job engine) and torch._dynamo unimported."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_heavy_modules_load_when_first_used():
    code = (
        "import sys\n"
        "import explorer.interpret.gradcam, explorer.interpret.methods, explorer.data.datasets, explorer.models.pretrained,"
        " explorer.models.summary, explorer.ui.caches.results, explorer.ui.caches.models, explorer.ui.caches.assets\n"
        "from explorer.models.summary import summarize_config\n"
        "from explorer.models.resnet import ResNetConfig\n"
        "summarize_config(ResNetConfig('imagenet', 50))\n"
        "print(sorted(m for m in ('captum', 'torchvision', 'distributed', 'torch._dynamo') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


FIRST_PAGE = """
import importlib.abc, sys, traceback
from streamlit.testing.v1 import AppTest

HEAVY = ("torch", "distributed", "dask")
first = {}

class Watch(importlib.abc.MetaPathFinder):  # records who imports a heavy module first; imports nothing itself
    def find_spec(self, name, path, target=None):
        if name in HEAVY and name not in first:
            first[name] = [f"{f.filename}:{f.lineno}" for f in traceback.extract_stack() if "/explorer/" in f.filename]
        return None

sys.meta_path.insert(0, Watch())
at = AppTest.from_file("app.py", default_timeout=300)
at.query_params["lang"] = sys.argv[1]
at.run()
assert not at.exception, at.exception
assert len(at.header) == int(sys.argv[2]), [h.value for h in at.header]  # Learn, drawn whole
print(first)
"""


@pytest.mark.parametrize("lang, headers", [("en", 7), ("zh", 7)])  # the seventh section: the myths, in both languages
def test_first_page_draws_without_torch_or_dask(lang, headers):
    """The Learn page (at /) is drawn from precomputed assets: app.py and everything it runs on the first page
    import neither torch (about 1 CPU-s of start-up) nor Dask's job engine."""
    cmd = [sys.executable, "-c", FIRST_PAGE, lang, str(headers)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "{}", out.stdout  # who imported what, if anything did
