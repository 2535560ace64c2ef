"""The 2016 pre-activation block as a choice on the pages (He et al. 2016, "Identity Mappings")."""

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(name: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(query or {})
    at.switch_page(f"explorer/ui/pages/{name}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def chart_titles(at) -> list[str]:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return [s["layout"].get("title", {}).get("text", "") for s in specs]


def block_ops(at) -> list[str]:
    """The boxes of the Build page's one-block diagram, left to right ('BN', 'ReLU', '3x3<br>16', ...)."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    spec = next(s for s in specs if "Basic block" in s["layout"]["title"]["text"])
    notes = [a["text"] for a in spec["layout"]["annotations"]]
    return [t for t in notes if t in ("BN", "ReLU") or re.fullmatch(r"\dx\d<br>\d+", t)]


def test_build_switches_to_the_2016_block_and_the_url_carries_it():
    at = open_page("build")
    assert at.radio(key="net_preact").value is False
    ops_2015 = block_ops(at)
    assert ops_2015 == ["3x3<br>16", "BN", "ReLU", "3x3<br>16", "BN", "ReLU"]  # the last ReLU: after the addition
    at.radio(key="net_preact").set_value(True).run()
    assert not at.exception
    assert at.query_params["preact"] == "true"
    ops = block_ops(at)
    assert ops == ["BN", "ReLU", "3x3<br>16", "BN", "ReLU", "3x3<br>16"]  # BN, ReLU first; the conv last, no ReLU after
    assert any("pre-activation" in t for t in chart_titles(at))
    assert any("ResNet-20 (pre-act)" in t for t in chart_titles(at))  # the architecture diagram's title
    assert at.metric[0].value == "269,722"  # the stem's BN moves to the end: the same count as the 2015 net
    at.select_slider(key="net_depth").set_value(110).run()
    assert at.metric[0].value == "1,727,962"  # He et al. 2016, Table 3: 1.7M


def test_a_link_opens_the_2016_block_and_imagenet_turns_it_off():
    at = open_page("build", {"depth": "56", "preact": "true", "residual": "false"})
    assert at.radio(key="net_preact").value is True
    assert any("Plain-56 (pre-act)" in t for t in chart_titles(at))
    at.radio(key="net_family").set_value("imagenet").run()
    assert not at.exception
    assert at.radio(key="net_preact").value is False and at.radio(key="net_preact").disabled
    assert at.query_params["preact"] == "false"
