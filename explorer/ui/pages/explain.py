"""Explain: what does the network look at? Top-5, Grad-CAM with a layer scrubber, other methods, trust checks."""

import numpy as np
import streamlit as st

from explorer import attribution as attr
from explorer import trust
from explorer.charts.attribution import (
    filmstrip_figure,
    method_grid_figure,
    overlay_figure,
    randomisation_figure,
)
from explorer.i18n import _
from explorer.ui import state
from explorer.ui.models_ui import card_title, image_ui, model_picker_ui, prepared
from explorer.ui.widgets import show_chart

st.title(_("Explain a prediction"))
st.caption(
    _(
        "Grad-CAM weighs each channel of a layer by how much the chosen class's score grows with it, and "
        "shows where the weighted channels fire. Pick a network in the sidebar, then an image."
    )
)
pairs = model_picker_ui()
card, model = pairs[0]

picked = image_ui(card)
if picked is None:
    st.stop()
img, mask, name = picked

layers = attr.target_layers(model)
default = attr.default_layer(model)
if st.session_state.get(state.CAM_LAYER) not in layers:
    st.session_state[state.CAM_LAYER] = default
c1, c2, c3 = st.columns([3, 1, 1])
layer = c1.select_slider(_("Layer (scrub from the stem to the last block)"), layers, key=state.CAM_LAYER)
opacity = c2.slider(_("Overlay opacity"), 0.0, 1.0, step=0.05, key=state.CAM_OPACITY)
raw = c3.toggle(
    _("Raw (signed, unscaled)"),
    key=state.CAM_RAW,
    help=_("Keeps negative evidence and the map's real magnitude, so plain and residual maps compare."),
)

x, display = prepared(card, img)
probs = attr.predict(model, x)
order = np.argsort(-probs)
target_options = [_("predicted class")] + [f"{_(card.classes[i])} ({probs[i]:.0%})" for i in order[:20]]
choice = st.selectbox(_("Explain which class"), target_options, key=state.CAM_TARGET)
target = None if choice == target_options[0] else int(order[target_options.index(choice) - 1])

results = []
cols = st.columns(len(pairs))
for col, (c, m) in zip(cols, pairs, strict=True):
    with col:
        xi, disp = prepared(c, img)
        st.subheader(card_title(c.label))
        p = probs if m is model else attr.predict(m, xi)  # one forward per network for the top-5
        best = np.argsort(-p, kind="stable")[:5]
        top = [(_(c.classes[i]), float(p[i])) for i in best]
        st.markdown("\n".join(f"{i + 1}. **{name}** {prob:.1%}" for i, (name, prob) in enumerate(top)))
        lay = layer if layer in attr.target_layers(m) else attr.default_layer(m)
        res = attr.grad_cam(m, xi, lay, target, raw=raw)
        results.append((c, m, xi, disp, res))
if raw:  # one colour scale for both, so magnitudes compare
    vmax = max(float(np.abs(r[4].map).max()) for r in results) or 1.0
for col, (c, m, xi, disp, res) in zip(cols, results, strict=True):
    with col:
        title = _("{name}: {cls} ({prob:.0%}) at {layer}").format(
            name=c.config.name, cls=_(c.classes[res.target]), prob=res.probability, layer=res.layer
        )
        show_chart(
            overlay_figure(disp, res.map, opacity, title, signed=raw, vmax=vmax if raw else None),
            key=f"explain_overlay_{c.label}",
        )
        if not res.has_positive_evidence:
            st.warning(
                _(
                    "No positive evidence: nothing in this layer raises the score of this class, so the map "
                    "is empty (that is a result, not an error)."
                )
            )
        if mask is not None and not raw:
            inside = trust.energy_inside(res.map, mask)
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
if st.toggle(_("Show Grad-CAM at every residual block"), key="explain_filmstrip"):
    for c, m, xi, disp, res in results:
        bar = st.progress(0.0, text=_("{name}: Grad-CAM at each block…").format(name=c.config.name))
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
    list(attr.METHODS),
    format_func=lambda m: _(attr.METHOD_LABELS[m]),
    key=state.CAM_METHODS,
    help=_("Occlusion and Integrated Gradients take longest."),
)
if methods and st.button(_("Compare methods"), key="explain_compare"):
    st.button(_("Stop"), key="explain_compare_stop")
    rows = {}
    for c, m, xi, disp, res in results:
        bar = st.progress(0.0, text=_("{name}: running {n} methods…").format(name=c.config.name, n=len(methods)))
        rows[c.config.name] = attr.compare_methods(
            m,
            xi,
            layer=res.layer,
            target=res.target,
            methods=methods,
            progress=lambda i, n, bar=bar: bar.progress(i / n, text=_("method {i} of {n}").format(i=i, n=n)),
        )
        bar.empty()
    show_chart(method_grid_figure(results[0][3], rows), key="explain_methods")

st.header(_("Can we trust the map?"))
st.markdown(
    _(
        "**Model randomisation** (Adebayo et al. 2018): re-randomise the network's layers from the top down. "
        "If the map still looks the same, it was showing the image, not what the network learned. A "
        "trustworthy map's similarity to the original falls as layers are randomised."
    )
)
if st.button(_("Run the randomisation check"), key="explain_randomise"):
    st.button(_("Stop"), key="explain_randomise_stop")
    curves = {}
    for c, m, xi, disp, res in results:
        bar = st.progress(0.0, text=_("{name}: randomising layer by layer…").format(name=c.config.name))
        curves[c.config.name] = trust.cascading_randomisation(
            m,
            xi,
            "gradcam",
            layer=res.layer,
            target=res.target,
            progress=lambda i, n, bar=bar: bar.progress(i / n, text=_("step {i} of {n}").format(i=i, n=n)),
        )
        bar.empty()
    show_chart(randomisation_figure(curves), key="explain_randomisation")
    if not card.trained:
        st.info(_("This network is untrained, so there is little learned structure to destroy: try a trained one."))
