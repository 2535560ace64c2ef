"""Widgets that return the user's choices (``*_ui`` functions); keys come from ``state``."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
from plotly.basedatatypes import BaseFigure

from explorer import i18n
from explorer.i18n import _
from explorer.models.config import CIFAR_DEPTHS, CIFAR_WIDTHS, IMAGENET_BLOCKS, ResNetConfig
from explorer.ui import state

WIDTHS = {"cifar": CIFAR_WIDTHS, "imagenet": (16, 32, 64)}
PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


def _keep_valid(key: str, options) -> None:
    """A value left over from the other family falls back to a valid default."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[min(2, len(options) - 1)] if key == state.DEPTH else options[-1]


def _family_changed() -> None:
    """A new family starts from its own defaults (the paper's CIFAR net, torchvision's ResNet-50)."""
    state.apply_family_defaults(st.session_state[state.FAMILY])


def network_ui(container=None, family_lock: str | None = None) -> ResNetConfig:
    """Sidebar controls naming a network; returns its config."""
    box = container or st.sidebar
    with box:
        st.subheader(_("Network"))
        if family_lock:
            st.session_state[state.FAMILY] = family_lock
        state.keep_valid(state.FAMILY, ("cifar", "imagenet"), "cifar")
        family = st.radio(
            _("Family"),
            ["cifar", "imagenet"],
            key=state.FAMILY,
            horizontal=True,
            format_func={"cifar": "CIFAR (6n+2)", "imagenet": "ImageNet"}.get,
            disabled=family_lock is not None,
            on_change=_family_changed,
            help=_("CIFAR nets: the paper's 32x32 networks. ImageNet nets: ResNet-18..152 as torchvision builds them."),
        )
        depths = CIFAR_DEPTHS if family == "cifar" else tuple(IMAGENET_BLOCKS)
        _keep_valid(state.DEPTH, depths)
        depth = st.select_slider(_("Depth (layers)"), depths, key=state.DEPTH)
        st.caption(
            _("Depths offered: {depths}").format(depths=", ".join(map(str, depths)))
        )  # the slider shows its ends
        residual = st.toggle(
            _("Residual connections"),
            key=state.RESIDUAL,
            help=_("Off: the plain twin, the same layers without any shortcut."),
        )
        if st.session_state.get(state.SHORTCUT) not in ("A", "B"):
            st.session_state[state.SHORTCUT] = "A"
        shortcut = st.radio(
            _("Shortcut where the shape changes"),
            ["A", "B"],
            key=state.SHORTCUT,
            horizontal=True,
            format_func={"A": _("A: zero-pad"), "B": _("B: 1x1 projection")}.get,
            disabled=not residual,
            help=_("A has no parameters (the paper's CIFAR choice); B adds a 1x1 conv + BN (torchvision's)."),
        )
        widths = WIDTHS[family]
        _keep_valid(state.WIDTH, widths)
        width = st.select_slider(_("Width (channels of the first stage)"), widths, key=state.WIDTH)
        preact = block_ui(family)
    return ResNetConfig(family=family, depth=depth, residual=residual, shortcut=shortcut, width=width, preact=preact)


def block_ui(family: str) -> bool:
    """The block's order: He et al. 2015's (ReLU after the addition) or 2016's full pre-activation (cifar only)."""
    if family != "cifar":
        st.session_state[state.PREACT] = False
    state.keep_valid(state.PREACT, (False, True), False)
    return st.radio(
        _("Block"),
        [False, True],
        key=state.PREACT,
        horizontal=True,
        format_func={False: _("2015: ReLU after the addition"), True: _("2016: pre-activation")}.get,
        disabled=family != "cifar",
        help=_(
            "2015 (He et al.): conv, BN, ReLU, conv, BN, add, ReLU. 2016 (He et al., Identity Mappings): "
            "BN, ReLU, conv, BN, ReLU, conv, add; nothing after the addition, so the shortcut path is a pure "
            "identity. Built for the CIFAR family."
        ),
    )


def language_ui() -> str:
    """The sidebar's language switch (both names, so anyone finds it); the choice rides in the URL (?lang=zh)."""
    ss = st.session_state
    if "_lang_read" not in ss:  # a link's ?lang= opens the session in that language, else the browser's
        ss["_lang_read"] = True
        for code in (st.query_params.get("lang"), st.context.locale):  # locale: the browser's navigator.language
            if code:
                try:
                    ss[state.LANG] = i18n.parse_language(code)
                    break
                except ValueError:
                    pass  # a mistyped link, or a language we lack: the next choice, else the default
    if ss.get(state.LANG) not in i18n.LANGUAGES:
        ss[state.LANG] = i18n.DEFAULT_LANGUAGE
    lang = st.sidebar.radio(
        "Language · 语言", list(i18n.LANGUAGES), key=state.LANG, format_func=i18n.LANGUAGES.get, horizontal=True
    )
    state.apply_language()
    if lang != i18n.DEFAULT_LANGUAGE or "lang" in st.query_params:
        st.query_params["lang"] = lang  # a shared link opens in the same language
    return lang


def device_ui() -> str:
    """Sidebar: where views compute (the fastest device first: a GPU when there is one)."""
    from explorer.devices import available_devices

    names = {"cuda": "GPU (CUDA)", "mps": "GPU (Apple MPS)", "cpu": "CPU"}
    options = available_devices()
    if st.session_state.get(state.DEVICE) not in options:
        st.session_state[state.DEVICE] = options[0]
    return st.sidebar.selectbox(
        _("Compute on"),
        options,
        key=state.DEVICE,
        format_func=names.get,
        disabled=len(options) == 1,
        help=_("Views run on the GPU when this machine has one; results match the CPU's to rounding."),
    )


class _Spec(BaseFigure):
    """A figure already made into plotly's dict (``cache.figure``): st.plotly_chart takes a figure's
    ``to_dict()`` as it is, where a plain dict would be validated again through a new ``go.Figure``."""

    def __init__(self, spec: dict) -> None:  # BaseFigure.__init__ (validation) skipped on purpose
        object.__setattr__(self, "_spec", spec)

    def to_dict(self) -> dict:
        return self._spec


def show_chart(fig: go.Figure | dict, key: str) -> None:
    """A plotly chart (a figure, or its cached dict) in our style, downloadable as PNG from its toolbar."""
    st.plotly_chart(_Spec(fig) if isinstance(fig, dict) else fig, theme=None, config=PLOT_CONFIG, key=key)


def lesson_step(title: str, key: str):
    """One step of a lesson, drawn as a timeline entry that opens in place (``st.expander(type="step")``).

    Its title is always shown and the text inside is always sent; its figures are drawn only while it is open
    (``step.open``: opening it reruns the page), so a page of many charts opens as fast as a page of text and a
    teacher opens the steps one by one. Whether it is open is remembered under ``key + ":open"``: the expander's
    identity includes its title, so without that a step would fold itself whenever the language changes.
    """
    remembered = key + ":open"
    step = st.expander(
        f"**{title}**", expanded=st.session_state.get(remembered, False), type="step", key=key, on_change="rerun"
    )
    st.session_state[remembered] = bool(step.open)
    return step


def show_table(rows: list[dict], key: str) -> None:
    """Rows of named values as a table without its index column.

    pandas (about a third of the Learn page's script run) is imported here, when the first table is drawn: the
    page's title and first chart reach the browser before it, and the browser draws them meanwhile.
    """
    import pandas as pd

    st.dataframe(pd.DataFrame(rows), hide_index=True, key=key)
