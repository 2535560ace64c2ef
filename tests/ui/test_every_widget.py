"""Every page, every widget it offers, used in a fresh AppTest session per action (see tests/ui/widget_walk.py).

The pages are the files in explorer/ui/pages/ and the widgets are found on the running page, so a page or a widget
added later is walked without anyone listing it. In English each page gets the full walk (every action of every
widget, and of the widgets those actions reveal); with ?lang=zh each widget gets its first action, so every
Chinese message a widget leads to is checked too without doubling the cost.

Offline and cheap: the job engine is a port nobody listens on (buttons that start jobs must then say so in plain
words; the Train and Explain jobs themselves run on a real engine in test_train_engine.py), and downloads fail as
they do without a network.
"""

import json
import urllib.error
from pathlib import Path

import pytest

from explorer.deploy.ports import free_port
from explorer.engine import client as engine_client
from tests.ui.widget_walk import actions, error_details, open_page, walk_page

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.stem for p in (ROOT / "explorer" / "ui" / "pages").glob("*.py") if p.stem != "__init__")
COUNTS = ROOT / "artifacts" / "widget-walk"  # per page: widgets and actions exercised (for the note)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """No job engine (a port nobody listens on, given up after a second), no downloads, and the diagnostics page."""
    import dask
    import torch.hub

    def no_network(*_args, **_kwargs):
        raise urllib.error.URLError("no network in the tests")

    engine_client.close()
    with (
        pytest.MonkeyPatch.context() as mp,
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        error_details(),
    ):
        mp.setenv(engine_client.SCHEDULER_ENV, f"tcp://127.0.0.1:{free_port()}")
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))  # no cached ImageNet weights
        mp.setenv("EXPLORER_DIAGNOSTICS", "1")
        mp.setattr(torch.hub, "download_url_to_file", no_network)
        yield
    engine_client.close()


def first_action(w):
    return actions(w)[:1]


def save_counts(walk, lang: str) -> dict:
    counts = {
        "page": walk.page,
        "lang": lang,
        "widgets": len(walk.widgets),
        "revealed": len(walk.revealed),
        "disabled": len(walk.disabled),
        "actions": walk.actions,
        "runs": walk.runs,
        "failures": len(walk.failures),
    }
    COUNTS.mkdir(parents=True, exist_ok=True)
    (COUNTS / f"{walk.page}-{lang}.json").write_text(json.dumps(counts))
    return counts


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_widget_of_every_page(offline, page, lang):
    params = {"lang": lang} if lang != "en" else {}
    opener = lambda: open_page(page, params)  # noqa: E731  (a fresh session each time)
    walk = walk_page(page, opener, actions if lang == "en" else first_action, reveal=lang == "en")
    counts = save_counts(walk, lang)
    print(f"\n{page} [{lang}]: {counts}")
    assert walk.widgets and walk.actions, f"{page}: no widget found: the walk would test nothing"
    assert not walk.failures, f"{len(walk.failures)} failed ({counts}):\n{walk.report()}"
