"""Session-state keys, their defaults, and the URL (query parameters) that carries the main choices.

Widget values live under these keys; ``init()`` runs first on every page so choices survive page
switches (Streamlit drops a widget's state when a page without it runs) and a shared link opens the
same view.
"""

from __future__ import annotations

import streamlit as st

from explorer import i18n

# the network the user is looking at (shared by every page)
FAMILY = "net_family"
DEPTH = "net_depth"
RESIDUAL = "net_residual"
SHORTCUT = "net_shortcut"
WIDTH = "net_width"
PREACT = "net_preact"  # He et al. 2016's pre-activation blocks (cifar family)
SCALE = "net_shortcut_scale"
SIDE_BY_SIDE = "net_side_by_side"
SOURCE = "net_source"  # a network's id (models_ui._choices): "sidebar", "resnet50-imagenet", "shapes/ResNet-20"...
WEIGHTS_UPLOAD = "weights_upload"  # a network file of your own (models_ui.weights_file_ui)
UPLOADED_NETWORKS = "uploaded_networks"  # labels of this session's networks that came from a file
LEARN_STEPS = tuple(f"learn_step_{i}" for i in range(1, 8))  # Learn's steps, open or closed
LANG = "ui_language"  # "en" or "zh" (explorer.i18n.LANGUAGES)
DEVICE = "net_device"  # where views run: "cuda", "mps" or "cpu" (explorer.devices)

# per-page widgets
TRAIN_PRESET = "train_preset"
TRAIN_DATASET = "train_dataset"
TRAIN_STEPS = "train_steps"
TRAIN_DEPTHS = "train_depths"
TRAIN_TWINS = "train_twins"
TRAIN_JOB = "train_job"  # the Job of this session's latest training
TRAINED = "trained_models"  # {name: (ResNetConfig, state_dict, DatasetInfo)} trained in this session
IMAGE_CHOICE = "image_choice"
UPLOAD = "image_upload"
CAMERA = "image_camera"
LAYER = "inside_layer"
TOPK = "inside_topk"
CAM_LAYER = "explain_layer"
CAM_TARGET = "explain_target"
CAM_OPACITY = "explain_opacity"
CAM_RAW = "explain_raw"
CAM_METHODS = "explain_methods"
CAM_METHODS_CHART = "explain_methods_chart"  # the methods' results: not CAM_METHODS, the multiselect's key
CAM_COMPARE = "explain_compare"
CAM_FILMSTRIP = "explain_filmstrip"
CAM_RANDOMISE = "explain_randomise"
EXPLAIN_MODE = "explain_mode"  # one image, or a gallery of many
GALLERY_FILES, GALLERY_METHOD, GALLERY_LAYER, GALLERY_SORT = (
    "gallery_files",
    "gallery_method",
    "gallery_layer",
    "gallery_sort",
)
GALLERY_START, GALLERY_OPEN, GALLERY_BACK, GALLERY_ZIP = "gallery_start", "gallery_open", "gallery_back", "gallery_zip"
LANDSCAPE_VIEW = "landscape_view"  # "Contour" or "3-D surface"
LANDSCAPE_LOG = "landscape_log"
LANDSCAPE_RUN = "landscape_run"
LANDSCAPE_NET = "landscape_net"
LANDSCAPE_TWIN = "landscape_twin"
LANDSCAPE_GRID = "landscape_grid"
LANDSCAPE_IMAGES = "landscape_images"
LANDSCAPE_FAST = "landscape_fast"
LANDSCAPE_RESULT = "landscape_result"  # the last live computation: (run label, [Landscape])
SALIENCY_CORRECT = "saliency_correct"  # scores on correctly classified images only
SALIENCY_RUN = "saliency_run"
SALIENCY_NETS = "saliency_nets"
SALIENCY_IMAGES = "saliency_images"
SALIENCY_RANDOM = "saliency_random"
PATHS_WEIGHTS = "paths_weights"  # the precomputed figure: at initialisation or trained
PATHS_RUN = "paths_run"
PATHS_NET = "paths_net"
PATHS_SAMPLES = "paths_samples"

DEFAULTS = {
    FAMILY: "cifar",
    DEPTH: 20,
    RESIDUAL: True,
    SHORTCUT: "A",
    WIDTH: 16,
    PREACT: False,
    SCALE: 1.0,
    SIDE_BY_SIDE: True,
    CAM_OPACITY: 0.5,
    CAM_RAW: False,
    LANG: i18n.DEFAULT_LANGUAGE,
}

IMAGE_INDEX = "image_shape_index"
IMAGE_PHOTO = "image_photo"
BLOCK = "inside_block"
GRAD_BN = "grad_bn_mode"
LESION_DEPTH = "exp_lesion_depth"
TRAIN_REOPEN = "train_reopen"
EXP_TAB = "exp_tab"  # the Experiments tabs' widget: the open tab's label, in the session's language
EXP_TAB_ID = "exp_tab_id"  # the open tab's id, what a link carries (?tab=lesion)


def _flag(v: str) -> bool:
    return v.lower() in ("1", "true", "yes", "on")


def _scale(v: str) -> float:
    """A shortcut scale from a link: a number in [0, 1], on the slider's steps of 0.05."""
    s = float(v)
    if not 0.0 <= s <= 1.0:  # also rejects nan
        raise ValueError(f"shortcut scale must be in [0, 1], got {v}")
    return round(round(s / 0.05) * 0.05, 2)


# query parameter -> (state key, parser); a page names the parameters it shows in write_url()
URL_KEYS = {
    "family": (FAMILY, str),
    "depth": (DEPTH, int),
    "residual": (RESIDUAL, _flag),
    "shortcut": (SHORTCUT, str),
    "width": (WIDTH, int),
    "preact": (PREACT, _flag),
    "scale": (SCALE, _scale),  # Build's shortcut scale s
    "twins": (SIDE_BY_SIDE, _flag),
    "network": (SOURCE, str),
    "image": (IMAGE_CHOICE, str),
    "sample": (IMAGE_INDEX, int),
    "photo": (IMAGE_PHOTO, str),
    "layer": (LAYER, str),
    "block": (BLOCK, str),
    "cam_layer": (CAM_LAYER, str),
    "target": (CAM_TARGET, str),
    "raw": (CAM_RAW, _flag),
    "bn": (GRAD_BN, str),
    "preset": (TRAIN_PRESET, str),
    "dataset": (TRAIN_DATASET, str),
    "reopen": (TRAIN_REOPEN, str),  # a saved run (the job engine's live-run links use "run")
    "lesion_depth": (LESION_DEPTH, int),
    "tab": (EXP_TAB_ID, str),  # an id, or an older link's label in any language (experiments.tab_id)
    "view": (LANDSCAPE_VIEW, str),
    "landscape_run": (LANDSCAPE_RUN, str),
    "net": (LANDSCAPE_NET, str),
}
NETWORK = ("family", "depth", "residual", "shortcut", "width", "preact")  # the sidebar's network
NETWORK_KEYS = (FAMILY, DEPTH, RESIDUAL, SHORTCUT, WIDTH, PREACT)  # its state keys, in the same order
PICKED = ("network", "twins", *NETWORK)  # a page that looks at a picked network (and its twin)


def image_params() -> tuple[str, ...]:
    """The URL parameters naming the image a page looks at: a shapes sample's index or a photo's name."""
    kind = st.session_state.get(IMAGE_CHOICE, "Shapes sample")
    return ("image", "sample") if kind == "Shapes sample" else ("image", "photo") if kind == "Photo sample" else ()


# what a family starts from: the paper's CIFAR net, torchvision's ResNet-50 (its shortcut where the shape changes is
# a 1x1 projection, option B)
FAMILY_DEFAULTS = {
    "cifar": {DEPTH: 20, WIDTH: 16, SHORTCUT: "A"},
    "imagenet": {DEPTH: 50, WIDTH: 64, SHORTCUT: "B"},
}


def apply_family_defaults(family: str, keep: tuple[str, ...] = ()) -> None:
    """Set the sidebar's network to the family's defaults, except the state keys in ``keep``."""
    for key, value in FAMILY_DEFAULTS.get(family, {}).items():
        if key not in keep:
            st.session_state[key] = value


def init() -> None:
    """Defaults, then the URL on a session's first run, then keep every known key alive."""
    ss = st.session_state
    if "_url_read" not in ss:
        ss["_url_read"] = True
        for param, (key, parse) in URL_KEYS.items():
            if param in st.query_params:
                try:
                    ss[key] = parse(st.query_params[param])
                except ValueError:
                    pass  # a mistyped link falls back to the default
        if ss.get(FAMILY) == "imagenet":  # a link to an ImageNet net: torchvision's, except what the link names
            apply_family_defaults("imagenet", keep=tuple(URL_KEYS[p][0] for p in st.query_params if p in URL_KEYS))
    for key, value in DEFAULTS.items():
        ss.setdefault(key, value)
    keep = [TRAIN_STEPS, TRAIN_DEPTHS, TRAIN_TWINS, DEVICE, CAM_METHODS]
    for key in list(DEFAULTS) + [key for key, _ in URL_KEYS.values()] + keep:
        if key in ss:
            ss[key] = ss[key]  # re-assigning keeps a widget's value across pages


def keep_valid(key: str, options, default=None) -> None:
    """A value from a link (or another page) that this widget does not offer falls back to ``default``."""
    if st.session_state.get(key) not in options:
        if default is None:
            st.session_state.pop(key, None)
        else:
            st.session_state[key] = default


def write_url(*params: str) -> None:
    """Put this page's main choices in the URL so a shared link opens the same view.

    ``params`` are names from URL_KEYS; known parameters the page does not show are removed, so a link
    carries only what its page uses.
    """
    ss = st.session_state
    for param, (key, _) in URL_KEYS.items():
        value = ss.get(key) if param in params else None
        if value is None:
            if param in st.query_params:
                del st.query_params[param]
            continue
        text = (
            str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) else str(value)
        )
        if st.query_params.get(param) != text:
            st.query_params[param] = text


def apply_language() -> None:
    """Make this session's language active for the current script or fragment run (explorer.i18n)."""
    i18n.set_language(st.session_state.get(LANG, i18n.DEFAULT_LANGUAGE))
