"""The Gradients page reads the sidebar's untrained networks from the precomputed table and shows what it computes."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.ui.caches import assets as assets_cache
from explorer.ui.caches import results as cache

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SIDEBAR = {"network": "The network in the sidebar, untrained", "depth": "32", "residual": "false", "shortcut": "B"}


def open_gradients(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(query)
    at.switch_page("explorer/ui/pages/gradients.py")
    at.run()
    assert not at.exception, at.exception
    return at


def shown(at) -> tuple[str, list]:
    """The first/last line under the chart, and every chart as the browser gets it."""
    line = next(m.value for m in at.markdown if "first layer" in m.value)
    return line, [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(y) -> np.ndarray:
    """A trace's values: a list, or plotly's typed array ({"dtype", "bdata": base64})."""
    if isinstance(y, dict):
        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"])
    return np.asarray(y, dtype=float)


@pytest.mark.parametrize(
    "query", [{"width": "8"}, {"width": "4", "preact": "true", "bn": "running statistics (as in evaluation)"}]
)
def test_the_table_and_the_live_computation_show_the_same(monkeypatch, query):
    computed = []

    def counting_view(compute, *args, **kwargs):
        computed.append(compute.__name__)
        return view(compute, *args, **kwargs)

    view = cache.view
    monkeypatch.setattr(cache, "view", counting_view)
    from_table = shown(open_gradients({**SIDEBAR, **query}))
    assert "gradient_norms" not in computed  # both networks (the picked one and its twin) came from the table
    assert "Plain-32" in from_table[0] and "ResNet-32" in from_table[0]
    monkeypatch.setattr(assets_cache, "_init_gradients", lambda: None)  # as without the asset: computed live
    live = shown(open_gradients({**SIDEBAR, **query}))
    assert computed.count("gradient_norms") == 2
    assert from_table[0] == live[0]  # the numbers under the chart, as shown
    # the charts: the same but for the norms' last float32 bits (torch's threads split the sums differently)
    ys = [[values(t.pop("y")) for t in spec["data"]] for spec in from_table[1] + live[1]]
    assert from_table[1] == live[1]
    for a, b in zip(ys[: len(from_table[1])], ys[len(from_table[1]) :], strict=True):
        for ya, yb in zip(a, b, strict=True):
            np.testing.assert_allclose(ya, yb, rtol=1e-5)


def test_a_trained_network_is_computed_live(monkeypatch):
    computed = []
    view = cache.view
    monkeypatch.setattr(
        cache, "view", lambda compute, *a, **k: computed.append(compute.__name__) or view(compute, *a, **k)
    )
    open_gradients({})  # the default: the shapes run's trained networks
    assert computed.count("gradient_norms") == 2


def test_a_network_whose_weights_are_not_here_gets_a_plain_message_and_no_chart(monkeypatch, tmp_path):
    """The page loads a network only when the table cannot answer: ImageNet weights that are neither cached nor
    allowed to download stop it with one plain line, not a traceback."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: no weights here, whatever this machine has
    at = open_gradients({"network": "ResNet-18, ImageNet weights (needs a download)"})
    assert any("not available here" in i.value for i in at.info), [i.value for i in at.info]
    assert not at.get("plotly_chart")
