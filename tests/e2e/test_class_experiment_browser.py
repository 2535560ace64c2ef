"""A class experiment through `make class` on loopback: two Streamlit processes behind nginx, one scheduler, one worker.

A teacher's browser, routed to process 1, starts an experiment; a student's browser, routed to process 2, opens
the link the teacher's page shows, presses "Train my pair", and both pages then show the pair's dots in the class
chart and the verdict's line for its depth: the experiment, its assignment and its result are shared through the
runs folder both processes use, and the job through the scheduler.
"""

from __future__ import annotations

import re

import pytest

from explorer.deploy.launcher import Classroom
from explorer.deploy.ports import free_port
from tests.e2e.test_class_deploy import browser_on, route_to
from tests.support.browser import no_exception, shot, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DOTS = '[data-testid="stPlotlyChart"] .scatterlayer .trace .points path'


@pytest.fixture(scope="module")
def classroom(nginx, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class-experiment")
    env = {"EXPLORER_RUNS": str(tmp / "runs"), "EXPLORER_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    room = Classroom(
        port=free_port(), host="127.0.0.1", servers=2, workers=1, scheduler_port=free_port(),
        directory=tmp / "logs", env=env,
    )  # fmt: skip
    with room:
        yield room


def test_teacher_and_student_on_two_processes_see_the_same_dots(classroom, browser):
    url, (one, two) = classroom.url, classroom.backends
    routes = route_to(classroom)
    ctx1, teacher = browser_on(browser, routes[one], url)
    ctx2, student = browser_on(browser, routes[two], url)
    try:
        teacher.goto(f"{url}/class_experiment")
        wait_idle(teacher)
        teacher.get_by_text("I am the teacher").click()
        wait_idle(teacher)
        thumb = teacher.get_by_role("slider").last  # "Steps per pair"
        thumb.focus()
        thumb.press("Home")  # 20 steps: the shortest pair
        wait_idle(teacher)
        teacher.get_by_role("button", name="Start the experiment").click()
        wait_idle(teacher)
        link = teacher.locator('[data-testid="stCode"]').first.inner_text().strip()
        code = re.search(r"code=(\w+)", link).group(1)
        assert link.startswith(url) and link.endswith(f"/class_experiment?code={code}")
        assert teacher.locator('[data-testid="stImage"] img').first.bounding_box()["width"] >= 300  # the QR code

        student.goto(link)
        wait_idle(student)
        student.get_by_text("You are student 1").wait_for()
        student.get_by_role("button", name="Train my pair").click()
        student.get_by_text("20 layers: 1 of the 3 pairs needed").wait_for(timeout=300_000)
        teacher.get_by_text("20 layers: 1 of the 3 pairs needed").wait_for(timeout=60_000)  # its chart polls
        for page in (student, teacher):
            assert page.locator(DOTS).count() >= 4  # the pair's two dots, in both panels
            no_exception(page)
        shot(student, "class-experiment-student")
    finally:
        ctx1.close()
        ctx2.close()
