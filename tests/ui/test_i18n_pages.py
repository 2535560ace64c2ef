"""AppTest in Chinese: every page renders with ?lang=zh and speaks Chinese; English stays the default."""

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.support.steps import open_steps

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["learn", "build", "train", "inside", "gradients", "explain", "experiments", "landscape"]
HAN = re.compile(r"[\u4e00-\u9fff]")


def open_page(name: str, lang: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if lang:
        at.query_params["lang"] = lang
    at.switch_page(f"explorer/ui/pages/{name}.py")
    return at.run()


def page_text(at: AppTest) -> str:
    """What a student reads: titles, headers, text, messages, widget labels and the charts' text."""
    parts = [e.value for kind in (at.title, at.header, at.subheader, at.markdown, at.caption) for e in kind]
    parts += [e.value for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    parts += [w.label for kind in (at.radio, at.selectbox, at.slider, at.select_slider, at.toggle) for w in kind]
    parts += [json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart")]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_in_chinese(page):
    at = open_page(page, "zh")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["ui_language"] == "zh"
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"
    assert HAN.search(at.title[0].value), at.title[0].value  # the page's own title is in Chinese


def test_english_is_the_default():
    at = open_page("learn")
    assert not at.exception
    assert at.session_state["ui_language"] == "en"
    assert "lang" not in at.query_params
    assert not HAN.search(page_text(at).replace("语言", "").replace("中文", ""))


def test_learn_charts_and_text_switch_to_chinese_and_back():
    at = open_steps(open_page("learn", "zh"))
    text = page_text(at)
    assert "基本块" in text and "瓶颈块" in text  # the block diagrams' titles
    at.radio(key="ui_language").set_value("en").run()
    assert not at.exception
    assert "Basic block" in page_text(at)
    assert at.query_params["lang"] in (["en"], "en")


def test_an_unknown_language_in_the_link_falls_back_to_english():
    at = open_page("learn", "xx")
    assert not at.exception
    assert at.session_state["ui_language"] == "en"


def test_chinese_learn_answers_the_three_myths_with_measured_figures():
    at = open_steps(open_page("learn", "zh"))
    headers = [e.label.strip("*") for e in at.expander]
    assert "常见误解" in headers
    myths = [s.value for s in at.subheader]
    assert [m[:3] for m in myths if m.startswith("误解")] == ["误解一", "误解二", "误解三"]
    body = "\n".join(m.value for m in at.markdown)
    assert "过拟合" in body and "梯度消失" in body and "瓶颈块" in body and "He et al. 2015" in body
    assert "70,400" in body and "73,984" in body  # the bottleneck and basic blocks' parameters, counted
    keys = {c.proto.id for c in at.get("plotly_chart")}
    assert sum("learn_myth" in k for k in keys) == 3, keys
    english = open_steps(open_page("learn"))  # English readers need the myths as much
    assert "Common misconceptions" in [e.label.strip("*") for e in english.expander]
    assert [m.value[:7] for m in english.subheader if m.value.startswith("Myth")] == ["Myth 1:", "Myth 2:", "Myth 3:"]
    assert sum("learn_myth" in c.proto.id for c in english.get("plotly_chart")) == 3


def test_a_bad_upload_is_refused_in_chinese():
    at = open_page("explain", "zh")
    at.radio(key="image_choice").set_value("Upload").run()
    at.file_uploader(key="image_upload").upload("notes.jpg", b"this is text, not a picture", "image/jpeg").run()
    assert not at.exception
    assert (
        len(at.error) == 1 and "无法使用 notes.jpg" in at.error[0].value and "不是我们能读取的图片" in at.error[0].value
    )


def test_shared_figure_cache_keeps_each_language():
    """Figures are cached for the whole class; a Chinese one must never be served to an English session."""
    zh = page_text(open_page("build", "zh"))
    en = page_text(open_page("build"))
    assert "恒等捷径连接" in zh and "identity shortcut" not in zh
    assert "identity shortcut" in en and "恒等捷径连接" not in en
