"""The 2016 pre-activation block as a choice on the pages (He et al. 2016, "Identity Mappings")."""

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.support.steps import open_steps

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


def page_text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def test_train_preset_shows_the_result_on_three_seeds_and_its_recipe():
    at = open_page("train", {"preset": "preact"})
    assert at.radio(key="train_preset").value == "preact"
    text = page_text(at)
    assert "**ResNet-56**, **ResNet-56 (pre-act)**" in text
    assert "Measured on 3 seeds (0, 1, 2)" in text and "Recipe: AdamW" in text
    assert "--preset preact --seed S" in text
    rows = next(d.value for d in at.dataframe if "final training loss" in d.value.columns)
    assert len(rows) == 6 and set(rows.iloc[:, 1]) == {"ResNet-56", "ResNet-56 (pre-act)"}


def test_gradients_compares_the_2015_and_2016_blocks_with_the_sweep_numbers():
    at = open_page("gradients", {"network": "The network in the sidebar, untrained", "preact": "true", "depth": "20"})
    text = page_text(at)
    assert "eq. 5" in text and "2016 ResNets' ratio goes from" in text
    table = next(d.value for d in at.dataframe if "ResNet, 2016" in d.value.columns)
    assert list(table.iloc[:, 0]) == [20, 32, 44, 56, 110] and table.shape[1] == 5
    assert table.iloc[-1]["plain, 2016"] == "5.3×10⁶"  # as the chart writes it, never 5.34e+06
    cells = [str(v) for d in at.dataframe for v in d.value.to_numpy().ravel()]
    assert not [c for c in cells if "e+" in c or "e-0" in c]
    assert "ResNet-20 (pre-act)" in text  # the picked network is the sidebar's 2016 block


def test_learn_and_inside_in_both_languages():
    at = open_steps(open_page("learn"))
    assert "The 2016 follow-up: where the ReLU goes" in [s.value for s in at.subheader]
    text = page_text(at)
    assert "Measured on 3 seeds" in text and "section 4.3" not in text and "section 4.2 and Figs. 1 and 6" in text
    assert (
        "4.92% with their usual mini-batch of 128 (Table 3" in text and "4.62% with a mini-batch of 64 (Table 4" in text
    )
    assert "cannot vanish" not in text and "as eq. 5 predicts" not in text and "e+0" not in text
    zh = open_steps(open_page("learn", {"lang": "zh"}))
    assert "第 4.2 节" in page_text(zh) and "第 4.3 节" not in page_text(zh) and "式 (5)" in page_text(zh)
    assert "2016 年的后续工作：ReLU 放在哪里" in [s.value for s in zh.subheader]
    picked = {"network": "The network in the sidebar, untrained", "preact": "true", "twins": "false"}
    inside = open_page("inside", {**picked, "block": "layer2.0"})
    assert any("pre-activation block, output = F(x) + shortcut" in t for t in chart_titles(inside))
    assert "nothing follows the addition" in page_text(inside)
    explain = open_page("explain", {**picked, "cam_layer": "layer3"})  # Grad-CAM of a 2016 network
    assert not explain.error and "ResNet-20 (pre-act)" in page_text(explain)
