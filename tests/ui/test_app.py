"""AppTest: every page renders on defaults; main interactions by widget key."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_build_page_renders_and_reacts():
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception
    assert at.metric[0].value == "269,722"
    at.toggle(key="net_residual").set_value(False).run()
    assert not at.exception
    assert at.metric[0].value == "269,722"  # option A: the plain twin has the same parameters
