"""The 3-D landscape panels leave room for their axis text: each panel is the chart's full width, and the camera
stands far enough back that the cube's tick labels and titles ("损失" in Chinese, "loss" in English) are not cut
at the panel's edge."""

import math

import numpy as np
import pytest

from explorer.charts.landscape import landscape_figure
from explorer.experiments.landscape_records import Landscape
from explorer.i18n import language


def _surface(name: str) -> Landscape:
    x = np.linspace(-1, 1, 5)
    loss = 1 + np.add.outer(x**2, x**2)
    return Landscape(network=name, x=list(x), y=list(x), loss=loss, center_loss=1.0, images=8, seed=0,
                     span=1.0, precision="float32")  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_3d_panel_is_seen_from_far_enough(lang):
    with language(lang):
        fig = landscape_figure([_surface("Plain-20"), _surface("ResNet-20")], kind="surface")
    for scene in (fig.layout.scene, fig.layout.scene2):
        eye = scene.camera.eye
        assert math.dist((eye.x, eye.y, eye.z), (0, 0, 0)) >= 2.7  # 2.35 cut "loss" to "s", "损失" to "失"
        assert scene.zaxis.title.text == ("损失" if lang == "zh" else "loss")
    assert fig.layout.height >= 2 * 440  # one above the other, each the chart's full width
    assert fig.layout.scene.domain.x[1] - fig.layout.scene.domain.x[0] > 0.9
