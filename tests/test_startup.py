"""Quick start: the first page is drawn without torch or Dask, the torch-free modules load alone, and the packages'
``__init__`` import nothing."""

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
        "from explorer.models.config import ResNetConfig\n"
        "summarize_config(ResNetConfig('imagenet', 50))\n"
        "print(sorted(m for m in ('captum', 'torchvision', 'distributed', 'torch._dynamo') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# Records and helpers that pages, caches and run loaders use without torch: every module the first page loads outside
# explorer.ui, and the records their docstrings promise torch-free.
TORCH_FREE = (
    "explorer",
    "explorer.errors",
    "explorer.i18n",
    "explorer.progress",
    "explorer.charts.gradients",
    "explorer.charts.inside",
    "explorer.charts.misconceptions",
    "explorer.charts.model",
    "explorer.charts.spec",
    "explorer.charts.style",
    "explorer.charts.training",
    "explorer.data.info",
    "explorer.engine.records",
    "explorer.experiments.landscape_records",
    "explorer.experiments.misconceptions",
    "explorer.experiments.precompute",
    "explorer.experiments.relu_place",
    "explorer.interpret.gradient_results",
    "explorer.interpret.model_cards",
    "explorer.models.config",
    "explorer.models.locks",
    "explorer.models.summary_records",
    "explorer.training.config",
    "explorer.training.history",
    "explorer.training.jsonable",
    "explorer.training.runs",
)


@pytest.mark.parametrize("module", TORCH_FREE)
def test_torch_free_module_imports_without_torch(module):
    """Imported alone in a fresh interpreter, the module leaves torch unimported (a top-level ``import torch``
    anywhere below it would fail here, not only on the first page)."""
    code = f"import sys, {module}; assert 'torch' not in sys.modules, 'torch imported'"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


PACKAGES = sorted(".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "explorer").glob("*/**/__init__.py"))


def test_every_package_is_checked():
    """The list below is the folders of explorer/ with an ``__init__.py``: a package added later is checked too."""
    assert {"explorer.models", "explorer.engine", "explorer.ui.caches"} <= set(PACKAGES)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_init_imports_nothing(package):
    """A package's ``__init__`` loads no other module of ours nor anything heavy: ``import explorer.models`` costs
    nothing, and each name has one import path, the module that defines it."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"import {package}\n"
        "new = sorted(m for m in set(sys.modules) - before if m.startswith('explorer') or m in "
        "('torch', 'numpy', 'pandas', 'plotly', 'streamlit', 'distributed'))\n"
        "print(new)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    parents = [".".join(package.split(".")[: i + 1]) for i in range(package.count(".") + 1)]
    assert out.stdout.strip() == str(sorted(parents))


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
assert len(at.expander) == int(sys.argv[2]), [e.label for e in at.expander]  # Learn's steps, closed
for e in at.expander:  # then every step opened: Learn drawn whole
    at.session_state[e.key] = True
at.run()
assert not at.exception, at.exception
assert len(at.get("plotly_chart")) >= 10, len(at.get("plotly_chart"))
print(first)
"""


@pytest.mark.parametrize("lang, headers", [("en", 7), ("zh", 7)])  # the seventh step: the myths, in both languages
def test_first_page_draws_without_torch_or_dask(lang, headers):
    """The Learn page (at /) is drawn from precomputed assets: app.py and everything it runs on the first page,
    every step opened, import neither torch (about 1 CPU-s of start-up) nor Dask's job engine."""
    cmd = [sys.executable, "-c", FIRST_PAGE, lang, str(headers)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "{}", out.stdout  # who imported what, if anything did


PANDAS_LATE = """
import importlib.abc, sys, traceback
from streamlit.testing.v1 import AppTest

first = []

class Watch(importlib.abc.MetaPathFinder):  # records where pandas is first imported; imports nothing itself
    def find_spec(self, name, path, target=None):
        if name == "pandas" and not first:
            first.extend(f"{f.filename.rpartition('/explorer/')[2]}:{f.name}" for f in traceback.extract_stack()
                         if "/explorer/" in f.filename)
        return None

sys.meta_path.insert(0, Watch())
at = AppTest.from_file("app.py", default_timeout=300)
at.run()
assert not at.exception, at.exception
print(first)  # the first page, its steps closed
at.session_state[at.expander[0].key] = True  # the first step opened
at.run()
assert not at.exception, at.exception
print(first)
"""


def test_pandas_loads_with_the_first_table_not_before_the_title():
    """pandas is about a third of the Learn page's script run: the first page, its steps closed, draws no table and
    does not import it; it is imported when the first table is drawn, so the title and the first chart of a step
    reach the browser first and it draws them meanwhile."""
    out = subprocess.run([sys.executable, "-c", PANDAS_LATE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    closed, frames = out.stdout.strip().splitlines()[-2:]
    assert closed == "[]", closed
    assert "ui/widgets.py:show_table" in frames and "ui/lesson_sections.py:degradation_section" in frames, frames
