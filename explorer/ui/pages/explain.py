"""Explain: what does the network look at? Top-5, Grad-CAM with a layer scrubber, other methods, trust checks."""

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from explorer.charts.attribution import (
    filmstrip_figure,
    method_grid_figure,
    overlay_spec,
    randomisation_methods_figure,
)
from explorer.charts.colors import overlay_rgb
from explorer.i18n import _
from explorer.interpret import gradcam as attr
from explorer.interpret import methods as attribution_methods
from explorer.interpret import trust
from explorer.interpret.bundle import npy_bytes, png_bytes, safe_stem
from explorer.interpret.cams import SCORECAM_COST, scorecam_passes
from explorer.interpret.probes import probe_batch
from explorer.tasks import experiments as tasks_experiments
from explorer.ui import gallery, state
from explorer.ui.caches import results as cache
from explorer.ui.job_view import job_panel, submit_ui
from explorer.ui.models_ui import (
    card_title,
    class_ids,
    image_ui,
    model_picker_ui,
    prediction_note_ui,
    prepared,
    target_from_link,
)
from explorer.ui.widgets import show_chart

SCORECAM_MAX_PASSES = 513  # ResNet-18's last block (512 channels): about a minute on 2 cores; more is left out

RANDOMISE_JOB, RANDOMISE_VIEW = "explain_randomise_job", "explain_randomise_view"


def downloads_ui(c, image_name: str, disp, res, opacity: float, raw: bool, vmax: float | None) -> None:
    """The overlay as shown (PNG) and the raw map (.npy) of one network's view."""
    stem = f"{safe_stem(image_name)}-{safe_stem(c.config.name)}-{res.layer}"
    d1, d2 = st.columns(2)
    d1.download_button(
        _("Overlay (PNG)"),
        png_bytes(overlay_rgb(disp, res.map, opacity, signed=raw, vmax=vmax)),
        file_name=f"{stem}.png",
        mime="image/png",
        key=f"explain_png_{c.label}",
    )
    d2.download_button(
        _("Map (.npy)"),
        npy_bytes(res.map),
        file_name=f"{stem}.npy",
        mime="application/octet-stream",
        key=f"explain_npy_{c.label}",
        help=_("The map as numbers: (height, width) float32, in [0, 1] unless the raw map is on."),
    )


st.title(_("Explain a prediction"))
st.caption(
    _(
        "Grad-CAM weighs each channel of a layer by how much the chosen class's score grows with it, and "
        "shows where the weighted channels fire. Pick a network in the sidebar, then an image."
    )
)
URL = (*state.PICKED, *state.image_params(), "cam_layer", "target", "raw")
pairs = model_picker_ui(url=URL)  # the link names the network even when its weights are not here
card, model = pairs[0]

MODES = {"one": _("One image"), "gallery": _("Many images: a gallery")}
state.keep_valid(state.EXPLAIN_MODE, list(MODES), "one")
mode = st.radio(_("Explain"), list(MODES), format_func=MODES.get, horizontal=True, key=state.EXPLAIN_MODE)
opened = gallery.opened_picture() if mode == "gallery" else None
if mode == "gallery" and opened is None:
    gallery.gallery_ui(card, model)
    st.stop()
if opened is not None:
    gallery.back_ui()
    img, mask, name = opened.image, opened.mask, opened.name
else:
    picked = image_ui(card)
    if picked is None:
        st.stop()
    img, mask, name = picked
prediction_note_ui(card, photo=mask is None)

layers = attr.target_layers(model)
default = attr.default_layer(model)
if st.session_state.get(state.CAM_LAYER) not in layers:
    st.session_state[state.CAM_LAYER] = default
c1, c2, c3 = st.columns([2, 1, 1])  # the toggle's label whole at 1,024 pixels
layer = c1.select_slider(_("Layer (scrub from the stem to the last block)"), layers, key=state.CAM_LAYER)
opacity = c2.slider(_("Overlay opacity"), 0.0, 1.0, step=0.05, key=state.CAM_OPACITY)
raw = c3.toggle(
    _("Raw map"),
    key=state.CAM_RAW,
    help=(
        _(
            "Signed and unscaled: keeps negative evidence and the map's real magnitude. Magnitudes compare across networks only at "
            "the last block, which feeds global average pooling and then the linear classifier: there the map, "
            "at its own resolution before upsampling, adds up to the class score less the classifier's bias. At "
            "earlier layers its scale depends on the network."
        )
    ),
)

x, display = prepared(card, img)
# one forward pass per network: Grad-CAM's own logits are the prediction; it explains the predicted class
first = cache.view(attr.predict_and_grad_cam, card, model, x, layer, raw=raw)
probs = first[0]
order = np.argsort(-probs)
ids = class_ids(card.classes)  # the options are class ids (the URL's target=); the probability is only shown
target_options = ["predicted class"] + [ids[i] for i in order[:20]]
shown = {target_options[0]: _("predicted class")} | {ids[i]: f"{_(card.classes[i])} ({probs[i]:.0%})" for i in order}
linked = target_from_link(st.session_state.get(state.CAM_TARGET))
if linked in ids and linked not in target_options:  # any class a link names is offered, not only the top 20
    target_options.append(linked)
st.session_state[state.CAM_TARGET] = linked
state.keep_valid(state.CAM_TARGET, target_options, target_options[0])
choice = st.selectbox(_("Explain which class"), target_options, key=state.CAM_TARGET, format_func=shown.get)
state.write_url(*URL)
target = None if choice == target_options[0] else ids.index(choice)

results = []
cols = st.columns(len(pairs))
for col, (c, m) in zip(cols, pairs, strict=True):
    with col:
        xi, disp = prepared(c, img)
        st.subheader(card_title(c.label))
        lay = layer if layer in attr.target_layers(m) else attr.default_layer(m)
        p, res = first if m is model else cache.view(attr.predict_and_grad_cam, c, m, xi, lay, raw=raw)
        best = np.argsort(-p, kind="stable")[:5]
        top = [(_(c.classes[i]), float(p[i])) for i in best]
        st.markdown("\n".join(f"{i + 1}. **{name}** {prob:.1%}" for i, (name, prob) in enumerate(top)))
        if target is not None and target != res.target:  # another class than the predicted one: its own pass
            res = cache.view(attr.grad_cam, c, m, xi, lay, target, raw=raw)
        results.append((c, m, xi, disp, res))
if raw:  # one colour scale for both, so magnitudes compare
    vmax = max(float(np.abs(r[4].map).max()) for r in results) or 1.0
for col, (c, m, xi, disp, res) in zip(cols, results, strict=True):
    with col:
        title = _("{name}: {cls} ({prob:.0%}) at {layer}").format(
            name=c.config.name, cls=_(c.classes[res.target]), prob=res.probability, layer=res.layer
        )
        show_chart(
            cache.figure(overlay_spec, disp, res.map, opacity, title, signed=raw, vmax=vmax if raw else None),
            key=f"explain_overlay_{c.label}",
        )
        downloads_ui(c, name, disp, res, opacity, raw, vmax if raw else None)
        if not res.has_positive_evidence:
            st.warning(
                _(
                    "No positive evidence: nothing in this layer raises the score of this class, so the map "
                    "is empty (that is a result, not an error)."
                )
            )
        # the outline lines up with the map only when the network sees the whole sample at the mask's size
        # (an ImageNet network resizes and crops it to 224 x 224)
        aligned = mask is not None and mask.shape == res.map.shape
        if mask is not None and not aligned:
            st.caption(_("The shape's outline check needs a network that sees the sample at its own size."))
        inside = trust.energy_inside(res.map, mask) if aligned and not raw else None
        if inside is not None:  # None: a map without positive evidence (warned about above)
            hit = trust.pointing_hit(res.map, mask)
            text = (
                _(
                    "Against the shape's true outline: {inside:.0%} of the map's weight lies inside the shape "
                    "(the shape covers {cover:.0%} of the image); the peak is inside it."
                )
                if hit
                else _(
                    "Against the shape's true outline: {inside:.0%} of the map's weight lies inside the shape "
                    "(the shape covers {cover:.0%} of the image); the peak is outside it."
                )
            )
            st.caption(text.format(inside=inside, cover=mask.mean()))

st.header(_("Every block: a film-strip"))
if st.toggle(_("Show Grad-CAM at every residual block"), key=state.CAM_FILMSTRIP):
    for c, m, xi, disp, res in results:
        bar = st.progress(0.0, text=_("{name}: Grad-CAM at each block…").format(name=c.config.name))
        with cache.model_lock(m):  # its hooks sit on the shared network: one view at a time
            strip = attr.filmstrip(
                m,
                xi,
                res.target,
                raw=False,
                progress=lambda i, n, bar=bar: bar.progress(i / n, text=_("block {i} of {n}").format(i=i, n=n)),
            )
        bar.empty()
        show_chart(
            filmstrip_figure(
                disp,
                strip,
                title=_("{name}: Grad-CAM for '{cls}'").format(name=c.config.name, cls=_(c.classes[res.target])),
            ),
            key=f"explain_strip_{c.label}",
        )

st.header(_("Other methods"))
methods = st.multiselect(
    _("Methods"),
    list(attribution_methods.METHODS),
    format_func=lambda m: _(attribution_methods.METHOD_LABELS[m]),
    key=state.CAM_METHODS,
    help=_("Occlusion and Integrated Gradients take longest."),
)
st.caption(
    _(
        "These run here, one method after another, while you wait: changing any choice on the page stops them "
        "after the method they are on."
    )
)
too_long = set()  # networks on which Score-CAM would take minutes here: left out, with the reason
if "scorecam" in methods:
    for c, m, _xi, _disp, res in results:
        passes = scorecam_passes(m, res.layer)
        st.caption(f"{c.config.name}: " + _(SCORECAM_COST).format(passes=passes))
        if passes > SCORECAM_MAX_PASSES:
            too_long.add(c.label)
            st.info(
                _(
                    "{name}: Score-CAM at {layer} needs {passes:,} forward passes, minutes on this server: it is left "
                    "out here. Pick an earlier layer, or run it from the command line: python -m explorer explain "
                    "--method score-cam."
                ).format(name=c.config.name, layer=res.layer, passes=passes)
            )
if methods and st.button(_("Compare methods"), key=state.CAM_COMPARE):
    rows = {}
    for c, m, xi, disp, res in results:
        mine = [k for k in methods if not (k == "scorecam" and c.label in too_long)]
        if not mine:
            continue
        bar = st.progress(0.0, text=_("{name}: running {n} methods…").format(name=c.config.name, n=len(mine)))
        with cache.model_lock(m):
            rows[c.config.name] = attribution_methods.compare_methods(
                m,
                xi,
                layer=res.layer,
                target=res.target,
                methods=mine,
                progress=lambda i, n, bar=bar: bar.progress(i / n, text=_("method {i} of {n}").format(i=i, n=n)),
            )
        bar.empty()
    if rows:
        show_chart(method_grid_figure(results[0][3], rows), key=state.CAM_METHODS_CHART)

st.header(_("Can we trust the map?"))
st.markdown(
    _(
        "**Model randomisation** (Adebayo et al. 2018, 'Sanity Checks for Saliency Maps'): re-draw the network's "
        "layers from the top down with its own initialiser (batch-norm statistics recomputed from a batch of "
        "images) and compare each map with the original by Spearman rank correlation, on the signed map (solid) "
        "and on its absolute value (dotted), as the paper does. A map that explains the network must change as "
        "its weights go. In the paper Grad-CAM and the gradient passed, while Guided Backprop and Guided Grad-CAM "
        "barely changed: they show the image's edges more than the network. Passing is necessary, not "
        "sufficient: a map that changes is not thereby right."
    )
)
view = (tuple(r[0].label for r in results), hashlib.md5(img.tobytes()).hexdigest(), layer, choice)
if st.button(_("Run the randomisation check"), key=state.CAM_RANDOMISE):
    nets = []
    for c, m, xi, _disp, res in results:
        with cache.model_lock(m):  # it may label photos with the shared network in eval mode
            calibration, _labels = probe_batch(c, m, n=32)  # batch-norm statistics of the re-drawn layers come from it
        nets.append((c.config.name, c.config, m.state_dict(), xi, res.layer, res.target, calibration))
    submit_ui(RANDOMISE_JOB, tasks_experiments.randomisation_job(nets), _("Randomisation check"))
    st.session_state[RANDOMISE_VIEW] = view
if st.session_state.get(RANDOMISE_VIEW) == view:  # a result belongs to the view it was asked for
    checks = job_panel(RANDOMISE_JOB, _("Randomisation check"))
    if checks:
        show_chart(randomisation_methods_figure(checks), key="explain_randomisation")
        rows = [
            {
                _("network"): net,
                _("method"): _(attribution_methods.METHOD_LABELS[m]),
                _("fc and the last block re-drawn (signed)"): f"{r.spearman[min(2, len(r.spearman) - 1)]:.2f}",
                _("fully randomised (signed)"): f"{r.spearman[-1]:.2f}",
                _("fully randomised (absolute)"): f"{r.spearman_abs[-1]:.2f}",
            }
            for net, by_method in checks.items()
            for m, r in by_method.items()
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="explain_randomisation_table")
        st.caption(
            _(
                "Rank correlation with the original map: near 1, the map did not change; near 0, it did. "
                "The numbers are this image's, on this network: read them as measured, whichever way they fall."
            )
        )
        if not card.trained:
            st.info(_("This network is untrained, so there is little learned structure to destroy: try a trained one."))
