"""The Class experiment page in AppTest: the teacher starts one, a student joins by the link and presses, and the
class chart shows the pair's dots (the pair trains on the session's real scheduler and worker)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.engine import jobs as engine
from explorer.experiments import class_experiment as ce
from tests.engine.cluster import START_TIMEOUT
from tests.support.apptest import texts

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TINY = replace(ce.RECIPE, batch_size=8, train_size=64, eval_size=16, image_size=16)


def page(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(params)
    at.switch_page("explorer/ui/pages/class_experiment.py")
    return at.run()


def chart_points(at) -> list[dict]:
    """The class chart's dots: (kind, depth slot, y) of every marker trace with data."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return [t for t in spec["data"] if t.get("y")]


def test_teacher_starts_and_a_wrong_code_is_one_plain_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    at = page()
    at.radio(key="class_role").set_value("teacher").run()
    at.multiselect(key="class_depths").set_value([20, 56]).run()
    at.button(key="class_start").click().run()
    assert not at.exception, at.exception
    code = at.session_state["class_teacher_code"]
    exp = ce.load(tmp_path, code)
    assert exp.depths == (20, 56) and exp.steps == ce.DEFAULT_STEPS and exp.open
    assert f"class_experiment?code={code}" in at.get("code")[0].proto.code_text
    assert at.get("image") or at.get("imgs"), "the QR code"
    assert "20 layers: no pairs yet." in texts(at)
    at.button(key="class_toggle").click().run()
    assert not ce.load(tmp_path, code).open and "closed: no new runs" in texts(at)
    at.button(key="class_new").click().run()  # back to the form; the same experiment reopens another day by its code
    assert "class_teacher_code" not in at.session_state and at.button(key="class_start")
    at.text_input(key="class_reopen").input(code.lower()).run()
    assert at.session_state["class_teacher_code"] == code and "closed: no new runs" in texts(at)
    at.button(key="class_toggle").click().run()
    at.button(key="class_toggle").click().run()

    student = page(code=code.lower())
    assert not student.exception and "is closed" in texts(student)
    wrong = page(code="QQQQQQ")
    assert [e.value for e in wrong.error] == ["No class experiment has the code QQQQQQ: check the code and try again."]


@pytest.mark.slow
def test_a_student_joins_by_the_link_presses_and_the_chart_shows_the_dots(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_RUNS", str(tmp_path))
    monkeypatch.setattr(ce, "RECIPE", TINY)  # the page starts experiments with the default recipe: a tiny one here
    teacher = page()
    teacher.radio(key="class_role").set_value("teacher").run()
    teacher.multiselect(key="class_depths").set_value([8]).run()
    teacher.slider(key="class_steps").set_value(20).run()
    teacher.button(key="class_start").click().run()
    code = teacher.session_state["class_teacher_code"]

    student = page(code=code)
    assert not student.exception, student.exception
    assert student.session_state["class_me"] == (code, 1, 8, 1)
    assert "You are student **1**" in texts(student)
    student.button(key="class_train").click().run()
    assert not student.exception, student.exception
    job = student.session_state["class_job"]
    st = engine.wait(job, timeout=START_TIMEOUT * 4)
    assert st.state == "done", st.message
    student.run()
    assert not student.exception, student.exception
    (pair,) = ce.load(tmp_path, code).results
    assert (pair.depth, pair.seed, pair.steps) == (8, 1, 20)
    dots = chart_points(student)
    plain = next(t for t in dots if t["name"] == "plain")
    assert plain["y"][0] == pytest.approx(pair.final_loss["plain"])
    assert any(t["name"] == "your pair" for t in dots)  # the student's own pair, highlighted
    teacher.run()
    assert any(t["name"] == "plain" for t in chart_points(teacher))
    assert not any(t["name"] == "your pair" for t in chart_points(teacher))
    assert "8 layers: 1 of the 3 pairs needed" in texts(teacher)
