"""Inside: feature maps of any layer, and a residual block's x, F(x) and x + F(x), plain vs residual."""

import functools

import pandas as pd
import streamlit as st
from PIL import Image

from explorer.charts.inside import channel_stats_spec, feature_map_spec, layer_response_figure, residual_spec
from explorer.i18n import _, then
from explorer.interpret.probes import feature_layers, inside_view, layer_responses, probe_batch
from explorer.interpret.response_gaps import compare_responses
from explorer.ui import state
from explorer.ui.caches.assets import precomputed_responses, precomputed_run
from explorer.ui.caches.results import figure, view
from explorer.ui.lesson_sections import recipe_caption, run_titles
from explorer.ui.models_ui import image_ui, model_picker_ui, prepared, session_models
from explorer.ui.widgets import show_chart

st.title(_("Look inside"))
st.caption(
    _(
        "What each layer computes for one image. Pick a layer: the grid shows its most active channels. "
        "Pick a block: see its input x, its residual branch F(x), and their sum. Last, the layer responses of "
        "He et al.'s Fig. 7 for trained networks."
    )
)
URL = (*state.PICKED, *state.image_params(), "layer", "block")
pairs = model_picker_ui(url=URL)  # the link names the network even when its weights are not here
card, model = pairs[0]
picked = image_ui(card)
if picked is None:
    st.stop()
img, _mask, name = picked
if st.session_state.get(state.IMAGE_CHOICE) == "Shapes sample":  # photos and uploads are shown by the picker
    st.image(img.resize((160, 160), Image.NEAREST), caption=name, width=160, output_format="PNG")  # crisp pixels

layers = feature_layers(model)
if st.session_state.get(state.LAYER) not in layers:
    st.session_state[state.LAYER] = layers[len(layers) // 2]
c1, c2 = st.columns([4, 1])
layer = c1.select_slider(_("Layer"), layers, key=state.LAYER)
k = c2.select_slider(_("Channels shown"), [4, 8, 16, 32], value=16, key=state.TOPK)

blocks = [n for n, _block in model.blocks()]
if st.session_state.get(state.BLOCK) not in blocks:
    st.session_state[state.BLOCK] = layer if layer in blocks else blocks[0]
# the block slider further down shows this value; one forward pass per network serves both sections
views = {
    c.label: view(inside_view, c, m, layer, st.session_state[state.BLOCK], prepared(c, img)[0], k) for c, m in pairs
}

st.header(_("Feature maps at {layer}").format(layer=layer))
for c, m in pairs:
    with st.container():
        fm = views[c.label][0]
        show_chart(
            figure(
                feature_map_spec,
                fm,
                cols=8,
                title=_("{name}: {layer}, {c} channels of {h}x{w}").format(
                    name=c.config.name, layer=layer, c=fm.shape[0], h=fm.shape[1], w=fm.shape[2]
                ),
            ),
            key=f"inside_grid_{c.label}",
        )
        # a toggle, not an expander: an expander's contents are built on every run, folded or not
        if st.toggle(_("Per-channel statistics"), key=f"inside_stats_on_{c.label}"):
            show_chart(figure(channel_stats_spec, fm), key=f"inside_chstats_{c.label}")
            st.dataframe(
                pd.DataFrame(
                    {
                        _("channel"): range(len(fm.mean)),
                        _("mean"): fm.mean,
                        _("std"): fm.std,
                        _("max"): fm.max,
                        _("share active"): fm.active,
                    }
                ),
                hide_index=True,
                key=f"inside_stats_{c.label}",
            )


def block_notes(dec: dict) -> list[tuple[bool, str]]:
    """What to say about a block taken apart, each with whether it applies."""
    return [
        (
            not dec["residual"] and not dec.get("preact"),
            _("plain block: there is no shortcut, so the output is relu(F(x)) alone"),
        ),
        (
            not dec["residual"] and dec.get("preact"),
            _("plain pre-activation block: no shortcut, the output is F(x) alone"),
        ),
        (
            dec["residual"] and dec.get("preact"),
            _("pre-activation block (He et al. 2016): nothing follows the addition, so x + F(x) is the output"),
        ),
        (dec["bypassed"], _("this block is bypassed: the network skips F(x) and passes only the shortcut on")),
        (dec["reshapes"], _("this block changes shape: the shortcut is a downsampled (projected or padded) x")),
    ]


st.header(_("One residual block: x, F(x) and x + F(x)"))
st.markdown(
    _(
        "How large is a block's correction F(x) next to what the shortcut carries past it? The ratio "
        "‖F(x)‖ / ‖shortcut(x)‖ below is this app's own measure, for one image and one block. The shortcut is x "
        "itself except in the first block of a stage, where it is x subsampled and padded with zero channels "
        "(option A) or projected (option B). (He et al. measured something related, but different: see the "
        "layer responses further down.) A plain block has no shortcut: its output is relu(F(x)) alone."
    )
)
block = st.select_slider(_("Block"), blocks, key=state.BLOCK)
state.write_url(*URL)
for c, m in pairs:
    with st.container():
        dec = views[c.label][1]
        show_chart(figure(residual_spec, dec), key=f"inside_dec_{c.label}")
        notes = [text for flag, text in block_notes(dec) if flag]
        if notes:
            st.caption("; ".join(notes))


def responses_note(responses) -> str:
    """Mean response std per network, and per depth whether the residual net's is smaller past the data's margin."""
    means = ", ".join(f"{name} {sum(stds) / len(stds):.3f}" for name, _r, _d, stds in responses if len(stds))
    parts = [_("Mean response std: {values}.").format(values=means)]
    for gap in compare_responses(responses):
        numbers = dict(depth=gap.depth, res=gap.residual, plain=gap.plain, diff=abs(gap.difference), margin=gap.margin)
        if gap.verdict == "smaller":
            text = _(
                "At depth {depth} the residual network's responses are the smaller ({res:.3f} against {plain:.3f}: "
                "{diff:.3f} apart, past the margin of {margin:.3f}), as in the paper."
            )
        elif gap.verdict == "larger":
            text = _(
                "At depth {depth} the residual network's responses are the larger ({res:.3f} against {plain:.3f}: "
                "{diff:.3f} apart, past the margin of {margin:.3f}), unlike the paper's."
            )
        else:
            text = _(
                "At depth {depth} the twins' responses differ by {diff:.3f} ({res:.3f} against {plain:.3f}), within "
                "the margin of {margin:.3f}: no difference these measurements can show."
            )
        parts.append(text.format(**numbers))
    if any(gap.verdict == "larger" for gap in compare_responses(responses)):
        parts.append(_("These networks trained far less than the paper's, so batch norm's scales are still near 1."))
    if len(parts) > 1:
        parts.append(
            _(
                "The margin is twice the standard error of the layer-by-layer differences between the twins "
                "(they have the same layers in the same order)."
            )
        )
    return functools.reduce(then, parts)  # Chinese sentences follow each other without a space


st.header(_("Layer responses, as in He et al. 2015, Fig. 7"))
st.markdown(
    _(
        "He et al. plotted the standard deviation of every 3x3 layer's response (its output after batch norm, "
        "before the addition and the ReLU), in forward order, for trained plain and residual networks on CIFAR-10. "
        "The residual networks' responses were generally smaller, which they read as support for their idea "
        "that residual functions might be generally closer to zero than non-residual ones. Here is the same measure for this app's trained networks, on held-out images."
    )
)
for run_name, what in run_titles().items():
    run = precomputed_run(run_name)
    if run is None:
        continue
    responses = precomputed_responses(run_name)
    title = _("Precomputed: {what}").format(what=what)
    show_chart(figure(layer_response_figure, responses, title=title), key=f"inside_fig7_{run_name}")
    st.markdown(responses_note(responses))
    st.caption(recipe_caption(run) + " " + _("Std over 256 held-out shapes."))
session = session_models()
if session:
    responses = []
    for label, (c, m) in session.items():
        xb, _labels = probe_batch(c, m, n=64)
        _names, stds = layer_responses(m, xb)
        responses.append((label, c.config.residual, c.config.depth, stds.tolist()))
    show_chart(layer_response_figure(responses, title=_("Trained in this session")), key="inside_fig7_session")
    st.markdown(responses_note(responses))
    st.caption(_("Std over 64 held-out images of each network's data."))
else:
    st.caption(_("Train a plain network and its twin on the Train page to see your own networks here."))
