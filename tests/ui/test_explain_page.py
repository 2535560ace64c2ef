"""Explain in AppTest: every method reachable, the page whole below them, uploads checked before use."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.ui import state

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_explain(params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(params or {})
    at.switch_page("explorer/ui/pages/explain.py")
    return at.run()


def test_compare_methods_draws_the_grid_and_keeps_the_rest_of_the_page():
    at = open_explain()
    methods = at.multiselect(key=state.CAM_METHODS)
    methods.set_value(list(methods.options)).run()  # every method the page offers
    at.button(key=state.CAM_COMPARE).click().run()
    assert not at.exception, at.exception
    grid = [c for c in at.get("plotly_chart") if "Occlusion" in c.proto.spec]
    assert len(grid) == 1, "no method grid"
    for label in ("Guided Grad-CAM", "Integrated Gradients", "Saliency", "Occlusion"):
        assert label in grid[0].proto.spec, label
    assert at.button(key=state.CAM_RANDOMISE) is not None  # the trust check below is still drawn
