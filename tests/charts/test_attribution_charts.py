"""Explain's charts fit a laptop's column: long titles and method names break into two lines."""

import numpy as np

from explorer.charts.attribution import method_grid_figure, overlay_spec, two_lines


def test_two_lines_breaks_at_the_middle_space_only_when_too_long():
    assert two_lines("Grad-CAM", 10) == "Grad-CAM"
    assert two_lines("Integrated Gradients", 10) == "Integrated<br>Gradients"
    assert two_lines("积分梯度", 3) == "积分梯度"  # no space: as it is
    assert two_lines("ResNet-20: circle (62%) at layer3.2", 26).count("<br>") == 1
    assert two_lines("ResNet-110: hexagon (36%) at layer3.2", 26) == "ResNet-110: hexagon<br>(36%) at layer3.2"
    assert "at<br>" not in two_lines("ResNet-20: a (36%) at layer3.17 of the network", 26)
    assert two_lines("ResNet-20：圆形（62%），位于 layer3.2", 26) == "ResNet-20：圆形（62%），<br>位于 layer3.2"  # wide


def test_method_names_and_overlay_titles_fit_their_columns():
    image = np.zeros((8, 8, 3), np.uint8)
    maps = {m: np.ones((8, 8)) for m in ("gradcam", "guided_gradcam", "integrated_gradients")}
    fig = method_grid_figure(image, {"ResNet-20": maps})
    titles = [a.text for a in fig.layout.annotations]
    assert "Guided<br>Grad-CAM" in titles and "Integrated<br>Gradients" in titles and "Grad-CAM" in titles
    spec = overlay_spec(image, np.ones((8, 8)), title="ResNet-20: circle (62%) at layer3.2")
    assert "<br>" in spec["layout"]["title"]["text"]
