"""Quick start: the modules the first page needs leave captum, torchvision, Dask (the job engine) and torch._dynamo unimported."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_heavy_modules_load_when_first_used():
    code = (
        "import sys\n"
        "import explorer.attribution, explorer.datasets, explorer.pretrained, explorer.summary, explorer.ui.cache\n"
        "from explorer.summary import summarize_config\n"
        "from explorer.models import ResNetConfig\n"
        "summarize_config(ResNetConfig('imagenet', 50))\n"
        "print(sorted(m for m in ('captum', 'torchvision', 'distributed', 'torch._dynamo') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
