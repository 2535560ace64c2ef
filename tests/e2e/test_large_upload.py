"""Large uploads through `make class` for real: a 98 MiB ResNet-50 state_dict reaches Explain through nginx and
Streamlit, and an image over its kind's limit gets the page's own message in the user's language.

One server process and no workers (Explain's top-5 and Grad-CAM run in the page). Its cost: the class set-up's
start (about 20 s), saving the seeded ResNet-50 (about 2 s), the upload and ResNet-50's first view (about 15 s).
"""

from __future__ import annotations

import re

import pytest
import torch
import torchvision

from explorer.data.upload_limits import IMAGE_MB, MB, WEIGHTS_MB
from explorer.deploy.launcher import Classroom
from explorer.deploy.ports import free_port
from tests.support.browser import no_exception, shot, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
LOG_LINE = re.compile(r'"(\w+) (\S+) [^"]*" (\d+) ')  # nginx.conf's log_format: method, path, status


@pytest.fixture(scope="module")
def classroom(nginx, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("large-upload")
    env = {"EXPLORER_RUNS": str(tmp / "runs"), "EXPLORER_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    room = Classroom(
        port=free_port(), host="127.0.0.1", servers=1, workers=0, scheduler_port=free_port(), directory=tmp, env=env
    )
    with room:
        yield room


@pytest.fixture(scope="module")
def resnet50_pth(tmp_path_factory):
    """torchvision's ResNet-50 state_dict (random, seeded): the shape and size of the real download."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet50-seeded.pth"
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    assert 95 * 2**20 < path.stat().st_size < WEIGHTS_MB * MB  # about 98 MiB, like resnet50-11ad3fa6.pth
    return path


def browser_page(browser, width: int = 1440):
    context = browser.new_context(viewport={"width": width, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(180_000)
    return context, page


def uploads(room: Classroom) -> list[tuple[str, int]]:
    """(method, status) of every upload nginx passed on."""
    lines = (room.directory / "access.log").read_text().splitlines()
    return [(m[1], int(m[3])) for line in lines if (m := LOG_LINE.search(line)) and "/_stcore/upload_file/" in m[2]]


def test_a_resnet50_pth_goes_through_nginx_and_is_explained(classroom, browser, resnet50_pth):
    context, page = browser_page(browser)
    try:
        page.goto(f"{classroom.url}/explain?network=file&image=Photo%20sample")
        wait_idle(page)
        page.get_by_text("Upload a network file in the sidebar").wait_for()
        page.get_by_test_id("stSidebar").locator('input[type="file"]').set_input_files(str(resnet50_pth))
        page.get_by_text("ResNet-50 from resnet50-seeded.pth").first.wait_for()
        wait_idle(page, timeout=180)
        page.locator('[data-testid="stPlotlyChart"]').filter(has_text="at layer4").first.wait_for()  # its Grad-CAM
        no_exception(page)
        main = page.get_by_test_id("stMain").inner_text()
        assert "ResNet-50 (ImageNet) was trained on ImageNet's 1,000 classes" in main  # the uploaded network
        shot(page, "explain-resnet50-pth-through-nginx")
    finally:
        context.close()
    assert ("PUT", 204) in uploads(classroom)  # the 98 MiB file went through nginx, not refused with 413
    assert all(status < 400 for _m, status in uploads(classroom)), uploads(classroom)


def test_an_image_over_its_limit_gets_the_pages_message_in_chinese(classroom, browser, tmp_path):
    big = tmp_path / "huge.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes((IMAGE_MB + 1) * MB))  # over the image limit, under the server's
    context, page = browser_page(browser, width=1024)
    try:
        page.goto(f"{classroom.url}/explain?lang=zh&image=Upload")
        wait_idle(page)
        page.get_by_test_id("stMain").locator('input[type="file"]').set_input_files(str(big))
        page.get_by_text(f"超过 {IMAGE_MB} MB 的上传上限").wait_for()
        no_exception(page)
        body = page.inner_text("body")
        assert "AxiosError" not in body and "413" not in body and "must be" not in body
        assert "per file" not in body  # Streamlit's English "300MB per file" (the server's cap) is hidden
        shot(page, "explain-image-over-limit-zh")
    finally:
        context.close()
