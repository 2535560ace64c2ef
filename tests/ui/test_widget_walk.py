"""The widget walk itself (tests/ui/widget_walk.py) on a small page made to fail: it must find what it is for."""

from streamlit.testing.v1 import AppTest

from tests.ui.widget_walk import error_details, walk_page

PAGE = """
import streamlit as st

mode = st.radio("Mode", ["calm", "upload", "broken"], key="mode", format_func=str.title)
if mode == "upload":
    f = st.file_uploader("A picture", type=["png"], key="pic")
    if f is not None and not f.getvalue().startswith(bytes([0x89]) + b"PNG"):
        st.error("Could not read it: ValueError in /tmp/upload.py")
if mode == "broken" and st.toggle("Danger", key="danger"):
    raise RuntimeError("boom")
st.select_slider("Size", [1, 2, 3], key="size")
if st.button("Go"):
    st.success("done")
"""


def opener(script: str):
    return lambda: AppTest.from_string(script, default_timeout=30).run()


def test_the_walk_finds_exceptions_leaks_revealed_widgets_and_missing_keys():
    with error_details():
        walk = walk_page("demo", opener(PAGE))
    kinds = sorted(r.kind for r in walk.widgets.values())
    assert kinds == ["button", "file_uploader", "radio", "select_slider", "toggle"], kinds
    assert len(walk.revealed) == 2  # the uploader (under "Upload") and the toggle (under "Broken")
    # radio: 2 options; uploader: 3 files; toggle: over and back; select slider: 2 ends; button: 1
    assert walk.actions == 2 + 3 + 1 + 2 + 1
    report = walk.report()
    assert "choose 'Upload' then file_uploader pic ('A picture'): upload text named .png" in report
    assert "error names ['ValueError', '/tmp/']" in report
    assert "upload good PNG" not in report and "upload truncated PNG" not in report  # the page reads no further
    assert "toggle danger ('Danger'): switch to True" in report and "RuntimeError: boom" in report
    assert "button (no key) ('Go') -> has no key=" in report
    assert len(walk.failures) == 3, report


def test_a_chart_that_takes_selections_is_not_passed_over():
    script = 'import streamlit as st\nst.plotly_chart({"data": [{"y": [1, 2]}]}, on_select="rerun", key="c")\n'
    walk = walk_page("demo", opener(script))
    assert any("takes selections" in f for f in walk.failures), walk.report()
    assert not walk.widgets  # no widget: test_every_widget fails a page like this ("the walk would test nothing")
