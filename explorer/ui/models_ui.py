"""Picking the network a page looks at (and its twin), and the image it looks at."""

from __future__ import annotations

import hashlib
import re

import streamlit as st
import torch
from PIL import Image

from explorer import model_cards
from explorer.i18n import _
from explorer.images import ACCEPTED, ImageError, load_image, prepare_image, sample_images
from explorer.models import ResNet
from explorer.pretrained import PRETRAINED_DEPTHS, WeightsError, WeightsUnavailable, load_local_weights, weights_info
from explorer.ui import state
from explorer.ui.assets_cache import precomputed_cards
from explorer.ui.cache import shapes_samples
from explorer.ui.shared_models import cached_card_model
from explorer.ui.widgets import device_ui, network_ui


def session_models() -> dict[str, tuple[model_cards.ModelCard, ResNet]]:
    """Networks trained or uploaded in this session: label -> (card, model)."""
    return st.session_state.setdefault(state.TRAINED, {})


SIDEBAR_NETWORK = "The network in the sidebar, untrained"
# card labels are English keys (model_cards, model_cards.run_cards): card_title shows them translated
_UNTRAINED = re.compile(r"^(?P<name>.+), untrained$")
_TRAINED = re.compile(r"^(?P<name>.+), trained \((?P<run>.+), (?P<steps>\d+) steps\)$")


def card_title(label: str) -> str:
    """A network card's label in the session's language (unknown forms are shown as they are)."""
    if m := _UNTRAINED.match(label):
        return _("{name}, untrained").format(**m.groupdict())
    if m := _TRAINED.match(label):
        return _("{name}, trained ({run}, {steps} steps)").format(**m.groupdict())
    return label


def _choices() -> tuple[dict[str, model_cards.ModelCard], dict[str, str]]:
    """Every network the user can pick, by label (a stable key, kept in the session and the tests), and the
    label shown for each in the session's language."""
    choices: dict[str, model_cards.ModelCard] = {}
    shown: dict[str, str] = {}
    for label, (card, _model) in reversed(list(session_models().items())):
        key = f"{label} (trained in this session)"
        choices[key], shown[key] = card, _("{label} (trained in this session)").format(label=label)
    for card in precomputed_cards():
        choices[card.label], shown[card.label] = card, card_title(card.label)
    choices[SIDEBAR_NETWORK], shown[SIDEBAR_NETWORK] = None, _(SIDEBAR_NETWORK)  # resolved from the sidebar
    for depth in PRETRAINED_DEPTHS:
        cached = weights_info(depth)["cached"]
        key = f"ResNet-{depth}, ImageNet weights" + ("" if cached else " (needs a download)")
        text = (
            _("ResNet-{depth}, ImageNet weights")
            if cached
            else _("ResNet-{depth}, ImageNet weights (needs a download)")
        )
        choices[key], shown[key] = model_cards.pretrained_card(depth), text.format(depth=depth)
    return choices, shown


def get_model(card: model_cards.ModelCard) -> ResNet:
    """The shared (read-only) or session model for a card; raises WeightsUnavailable for missing weights."""
    device = st.session_state.get(state.DEVICE, "cpu")
    if card.source == model_cards.SESSION:
        return session_models()[card.label][1].to(device)  # this session's own network: moved in place
    return cached_card_model(card, download=st.session_state.get("allow_download", False), device=device)


def model_picker_ui(allow_twin: bool = True, load: bool = True) -> list[tuple[model_cards.ModelCard, ResNet | None]]:
    """Sidebar: which network (and whether to show its twin). Returns [(card, model)], the twin second.

    Stops the page with a plain message when the chosen network cannot be had (no weights offline). ``load=False``:
    the cards only (models None), for a page that may answer without a network; it loads one with ``load_model_ui``.
    """
    choices, shown = _choices()
    labels = list(choices)
    if st.session_state.get(state.SOURCE) not in labels:
        st.session_state[state.SOURCE] = labels[0]
    with st.sidebar:
        st.subheader(_("Network to look at"))
        label = st.selectbox(
            _("Network"), labels, key=state.SOURCE, label_visibility="collapsed", format_func=shown.get
        )
        card = choices[label]
        if card is None:
            config = network_ui()
            card = model_cards.untrained_card(config)
        twin = None
        all_cards = [c for c in choices.values() if c is not None]
        if allow_twin:
            twin = model_cards.twin_card(card, all_cards)
            show = st.toggle(
                _("Show its twin side by side"),
                key=state.SIDE_BY_SIDE,
                disabled=twin is None,
                help=_("The same network with residual connections switched the other way."),
            )
            if twin is None:
                st.caption(
                    _("No twin for this network: plain ImageNet networks have no pretrained weights.")
                    if card.source == model_cards.PRETRAINED
                    else _("No twin for this network: train one on the Train page.")
                )
            elif not show:
                twin = None
        if card.source == model_cards.PRETRAINED:
            st.checkbox(
                _("Allow downloading ImageNet weights"),
                key="allow_download",
                help=_("Fetches torchvision's weights once (45-230 MB); needs the internet."),
            )
            weights_file_ui()
    device_ui()
    cards = [card] + ([twin] if twin is not None else [])
    return [(c, load_model_ui(c) if load else None) for c in cards]


def load_model_ui(card: model_cards.ModelCard) -> ResNet:
    """The network a card names (``get_model``); stops the page with a plain message when its weights cannot be had
    here (no download offline)."""
    try:
        return get_model(card)
    except WeightsUnavailable as e:
        st.info(_("**These weights are not available here.** {error}").format(error=e))
        st.stop()


def _could_not_use(name: str, error: Exception) -> str:
    return _("Could not use {name}: {error}").format(name=name, error=error)


def weights_file_ui() -> None:
    """Upload a torchvision-format .pth for an ImageNet ResNet; it becomes a session network."""
    up = st.file_uploader(
        _("…or your own .pth (torchvision's ImageNet ResNet format)"),
        type=["pth", "pt"],
        key="weights_upload",
        max_upload_size=300,
    )
    if up is None:
        return
    digest = hashlib.sha1(up.getvalue()).hexdigest()[:8]
    if st.session_state.get("_weights_digest") == digest:
        return
    try:
        model = load_local_weights(up.getvalue())
    except WeightsError as e:
        st.error(_could_not_use(up.name, e))
        return
    st.session_state["_weights_digest"] = digest
    card = model_cards.pretrained_card(model.config.depth)
    label = f"ResNet-{model.config.depth} from {up.name}"
    card = model_cards.ModelCard(
        label,
        model.config,
        model_cards.SESSION,
        card.classes,
        card.mean,
        card.std,
        card.image_size,
        card.resize,
        card.resize_size,
    )
    session_models()[label] = (card, model)
    st.session_state[state.SOURCE] = f"{label} (trained in this session)"
    st.rerun()


def image_ui(card: model_cards.ModelCard) -> tuple[Image.Image, object, str] | None:
    """Choose an image: a shapes sample, a photo, an upload or the camera. Returns (image, mask or None, name)."""
    kinds = {"Shapes sample": _("Shapes sample"), "Photo sample": _("Photo sample"), "Upload": _("Upload")}
    kinds["Camera"] = _("Camera")
    state.keep_valid(state.IMAGE_CHOICE, list(kinds), "Shapes sample")
    kind = st.radio(
        _("Image"),
        list(kinds),
        key=state.IMAGE_CHOICE,
        horizontal=True,
        format_func=kinds.get,
        help=_("Uploads: {accepted}, up to 20 MB.").format(accepted=_(ACCEPTED)),
    )
    if kind == "Shapes sample":
        samples = shapes_samples(card.image_size if card.image_size <= 64 else 64)
        state.keep_valid(state.IMAGE_INDEX, range(len(samples.labels)), 0)
        i = st.slider(_("Sample"), 0, len(samples.labels) - 1, key=state.IMAGE_INDEX)
        from explorer.datasets import SHAPE_CLASSES

        arr = (samples.images[i].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        return (
            Image.fromarray(arr),
            samples.masks[i].numpy(),
            _("shapes sample {i}: {shape}").format(i=i, shape=_(SHAPE_CLASSES[int(samples.labels[i])])),
        )
    if kind == "Photo sample":
        photos = sample_images()
        state.keep_valid(state.IMAGE_PHOTO, list(photos))
        name = st.selectbox(_("Photo"), list(photos), key=state.IMAGE_PHOTO)
        img = load_image(photos[name])
        st.image(img, width=240, caption=name)
        return img, None, name
    up = (
        st.file_uploader(_("Upload an image ({accepted})").format(accepted=_(ACCEPTED)), key=state.UPLOAD)
        if kind == "Upload"
        else st.camera_input(_("Take a photo"), key=state.CAMERA)
    )
    if up is None:
        st.info(_("Choose a file to upload, or pick a sample above."))
        return None
    try:
        img = load_image(up.getvalue())
        st.image(img, width=240, caption=up.name)
        return img, None, up.name
    except ImageError as e:
        st.error(_could_not_use(up.name, e))
        return None


def prepared(card: model_cards.ModelCard, img: Image.Image) -> tuple[torch.Tensor, object]:
    """The image as this card's network takes it, and the pixels it was made from."""
    return prepare_image(card, img)


def prediction_note_ui(card: model_cards.ModelCard, photo: bool) -> None:
    """Beside the predictions: what the network was trained on, what it can answer, and what an untrained one shows."""
    from explorer.datasets import SHAPE_CLASSES

    if card.classes == SHAPE_CLASSES:
        what = _("the ten built-in shapes")
    elif len(card.classes) == 1000:
        what = _("ImageNet's 1,000 classes")
    else:
        names = ", ".join(card.classes[:6]) + (", ..." if len(card.classes) > 6 else "")
        what = _("{n} classes ({names})").format(n=len(card.classes), names=names)
    if card.trained:
        text = _("**{name} was trained on {what}**: it can only answer with those classes, whatever the image shows.")
    else:
        text = _(
            "**{name} has the outputs of {what}**: it can only answer with those classes, whatever the image shows."
        )
    lines = [text.format(name=card.config.name, what=what)]
    if not card.trained:
        lines.append(
            _(
                "It is **untrained**: its weights are random and its batch-norm layers still hold their starting "
                "statistics (mean 0, variance 1), so in eval mode they rescale nothing. In a residual network each "
                "block adds its branch to its input and the activations grow block after block, so the softmax often "
                "comes out near one-hot (an untrained ResNet-20 gives one class about 99%); a plain one stays near "
                "chance. Neither number is confidence."
            )
        )
    if photo and len(card.classes) != 1000:
        lines.append(
            _(
                "For photos, pick an ImageNet network in the sidebar (ResNet-18 to 152, ImageNet weights): its weights "
                "come from torchvision, downloaded once when you allow it and the server is online, or from a .pth "
                "file of your own."
            )
        )
    st.caption("\n\n".join(lines))
