"""The app's shell: its icon ships with it (no font server), and a browser set to Chinese opens in Chinese."""

from pathlib import Path

import pytest
import streamlit
from PIL import Image
from streamlit.runtime.context import ContextProxy
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def open_learn(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(query or {})
    at.switch_page("explorer/ui/pages/learn.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_icon_is_a_file_shipped_with_the_app(monkeypatch):
    seen = []
    real = streamlit.set_page_config
    monkeypatch.setattr(streamlit, "set_page_config", lambda **kw: (seen.append(kw), real(**kw))[1])
    open_learn()
    icon = seen[0]["page_icon"]
    assert not str(icon).startswith(":") and "://" not in str(icon)  # not a font's icon, nothing fetched
    path = Path(icon)
    assert path.is_file() and path.resolve().is_relative_to(ROOT / "assets")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] == img.size[1] >= 64


@pytest.mark.parametrize(
    ("locale", "query", "title"),
    [
        ("zh-CN", {}, "残差网络为什么有效"),  # the browser's language, when the link says none
        ("zh-TW", {}, "残差网络为什么有效"),
        ("zh-CN", {"lang": "en"}, "Why residual networks work"),  # the link wins
        ("fr-FR", {}, "Why residual networks work"),  # a language we lack: English
        (None, {}, "Why residual networks work"),
    ],
)
def test_browser_language_opens_the_app_in_it_unless_the_link_says_otherwise(monkeypatch, locale, query, title):
    monkeypatch.setattr(ContextProxy, "locale", property(lambda self: locale))
    at = open_learn(query)
    assert title in at.title[0].value
