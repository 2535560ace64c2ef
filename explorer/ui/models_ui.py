"""Picking the network a page looks at (and its twin), and the image it looks at."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import streamlit as st
import torch
from PIL import Image

from explorer.data.images import ACCEPTED, ImageError, check_min_size, load_image, sample_images
from explorer.data.upload_limits import IMAGE_MB, LIMITS_MB, MB, WEIGHTS_MB, over_limit
from explorer.i18n import N_, _
from explorer.interpret import model_cards
from explorer.interpret.model_cards import prepare_image
from explorer.interpret.network_files import load_network_file
from explorer.models.pretrained import PRETRAINED_DEPTHS, WeightsError, WeightsUnavailable, weights_info
from explorer.models.resnet import ResNet
from explorer.ui import state
from explorer.ui.caches.assets import precomputed_cards
from explorer.ui.caches.models import cached_card_model
from explorer.ui.caches.results import shapes_samples
from explorer.ui.widgets import device_ui, network_ui


def session_models() -> dict[str, tuple[model_cards.ModelCard, ResNet]]:
    """Networks trained or uploaded in this session: label -> (card, model)."""
    return st.session_state.setdefault(state.TRAINED, {})


SIDEBAR_NETWORK = N_("The network in the sidebar, untrained")  # shown through _()
NETWORK_FILE = N_("A network file of your own (.pth or .zip)")
# the picker's values are ids (the URL's network=): a label is for people and may change (a download done)
SIDEBAR_ID, FILE_ID = "sidebar", "file"
PENDING_SOURCE = "_net_source_next"  # set before a rerun: the picker takes it before it is drawn
NETWORK_FILE_HELP = N_(
    "torchvision's ImageNet ResNet weights (a .pth such as resnet50-11ad3fa6.pth from download.pytorch.org: "
    "this works offline), or the checkpoints .zip of a run downloaded from the Train page."
)
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


def network_id(card: model_cards.ModelCard) -> str:
    """A precomputed or pretrained network's id in the picker and in links: the same before and after a download."""
    if card.source == model_cards.PRETRAINED:
        return f"resnet{card.config.depth}-imagenet"
    return f"{Path(card.run or '').name}/{card.config.name}"  # a saved run's folder and the network's name


def _choices() -> tuple[dict[str, model_cards.ModelCard | None], dict[str, str], dict[str, str]]:
    """Every network the user can pick by id (kept in the session, the URL and the tests), the label shown for
    each in the session's language, and the English labels earlier links carried -> id."""
    choices: dict[str, model_cards.ModelCard | None] = {}
    shown: dict[str, str] = {}
    legacy = {SIDEBAR_NETWORK: SIDEBAR_ID}
    uploaded = st.session_state.get(state.UPLOADED_NETWORKS, ())
    for label, (card, _model) in reversed(list(session_models().items())):
        key = f"{label} (trained in this session)"
        text = _("{label} (uploaded)") if label in uploaded else _("{label} (trained in this session)")
        choices[key], shown[key] = card, text.format(label=label)
    for card in precomputed_cards():
        key = network_id(card)
        choices[key], shown[key], legacy[card.label] = card, card_title(card.label), key
    choices[SIDEBAR_ID], shown[SIDEBAR_ID] = None, _(SIDEBAR_NETWORK)  # resolved from the sidebar
    for depth in PRETRAINED_DEPTHS:
        card = model_cards.pretrained_card(depth)
        key = network_id(card)
        cached = weights_info(depth)["cached"]
        text = (
            _("ResNet-{depth}, ImageNet weights")
            if cached
            else _("ResNet-{depth}, ImageNet weights (needs a download)")
        )
        choices[key], shown[key] = card, text.format(depth=depth)
        legacy[f"ResNet-{depth}, ImageNet weights"] = legacy[f"ResNet-{depth}, ImageNet weights (needs a download)"] = (
            key
        )
    choices[FILE_ID], shown[FILE_ID] = None, _(NETWORK_FILE)
    return choices, shown, legacy


def get_model(card: model_cards.ModelCard) -> ResNet:
    """The shared (read-only) or session model for a card; raises WeightsUnavailable for missing weights."""
    device = st.session_state.get(state.DEVICE, "cpu")
    if card.source == model_cards.SESSION:
        return session_models()[card.label][1].to(device)  # this session's own network: moved in place
    return cached_card_model(card, download=st.session_state.get("allow_download", False), device=device)


def _pick_source(labels: list[str], legacy: dict[str, str]) -> None:
    """The picker's value before it is drawn: a network just uploaded, an old link's label read as its id, or
    the first network when the value is not offered."""
    ss = st.session_state
    value = ss.pop(PENDING_SOURCE, None) or ss.get(state.SOURCE)
    value = legacy.get(value, value)
    ss[state.SOURCE] = value if value in labels else labels[0]


def _twin_ui(card: model_cards.ModelCard, all_cards: list[model_cards.ModelCard]) -> model_cards.ModelCard | None:
    """The toggle for the twin side by side; the twin's card when there is one and it is shown."""
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
            if card.config.family == "imagenet" and card.trained
            else _("No twin for this network: train one on the Train page.")
        )
    return twin if show else None


def _sidebar_picker_ui(
    choices: dict[str, model_cards.ModelCard | None], shown: dict[str, str], allow_twin: bool
) -> tuple[model_cards.ModelCard | None, model_cards.ModelCard | None]:
    """The picker over ``_choices``, its twin toggle, the weights' download switch and uploader: (card, twin card
    or None); the card is None while a network file of your own is still to come."""
    st.subheader(_("Network to look at"))
    label = st.selectbox(
        _("Network"), list(choices), key=state.SOURCE, label_visibility="collapsed", format_func=shown.get
    )
    card = choices[label]
    if card is None and label == SIDEBAR_ID:
        card = model_cards.untrained_card(network_ui())
    twin = None
    if card is not None and allow_twin:
        twin = _twin_ui(card, [c for c in choices.values() if c is not None])
    if card is not None and card.source == model_cards.PRETRAINED:
        st.checkbox(
            _("Allow downloading ImageNet weights"),
            key="allow_download",
            help=_("Fetches torchvision's weights once (47-242 MB); needs the internet."),
        )
    if card is None or card.source == model_cards.PRETRAINED:
        weights_file_ui()
    return card, twin


def model_picker_ui(
    allow_twin: bool = True, load: bool = True, url: tuple[str, ...] = ()
) -> list[tuple[model_cards.ModelCard, ResNet | None]]:
    """Sidebar: which network (and whether to show its twin). Returns [(card, model)], the twin second.

    Stops the page with a plain message when the chosen network cannot be had (no weights offline). ``load=False``:
    the cards only (models None), for a page that may answer without a network; it loads one with ``load_model_ui``.
    ``url``: the page's URL parameters (``state.write_url``), written before loading, so a link names the network
    even when its weights turn out not to be here.
    """
    choices, shown, legacy = _choices()
    _pick_source(list(choices), legacy)
    with st.sidebar:
        card, twin = _sidebar_picker_ui(choices, shown, allow_twin)
    device_ui()
    if url:
        state.write_url(*url)
    if card is None:  # a network file of your own, not uploaded yet
        st.info(_("**Upload a network file in the sidebar.** {what}").format(what=_(NETWORK_FILE_HELP)))
        st.stop()
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


def hide_server_limit_ui() -> None:
    """Hide Streamlit's own "300MB per file" under the uploaders on this page: it states the server's cap, the
    largest kind's, in English. Each uploader's label states its own kind's limit in the user's language."""
    st.html("<style>[data-testid='stFileUploaderDropzoneInstructions'] {display: none}</style>")


def checked_upload(up, kind: str):
    """The uploaded file, or None with a plain message when it is over its kind's limit (``upload_limits``)."""
    if up is not None and over_limit(kind, up.size):
        text = _("{name} is {mb:.1f} MB, over the {limit} MB limit for this upload: please choose a smaller file.")
        st.error(text.format(name=up.name, mb=up.size / MB, limit=LIMITS_MB[kind]))
        return None
    return up


def weights_file_ui() -> None:
    """Upload a network file (``network_files``): its networks become session networks, the first one picked."""
    up = st.file_uploader(
        _("A network file (.pth or .zip), up to {mb} MB").format(mb=WEIGHTS_MB),
        type=["pth", "pt", "zip"],
        key=state.WEIGHTS_UPLOAD,
        help=_(NETWORK_FILE_HELP),
    )
    hide_server_limit_ui()
    up = checked_upload(up, "weights")
    if up is None:
        return
    digest = hashlib.sha1(up.getvalue()).hexdigest()[:8]
    if st.session_state.get("_weights_digest") == digest:
        return
    try:
        loaded = load_network_file(up.getvalue(), up.name)
    except WeightsError as e:
        st.error(_could_not_use(up.name, e))
        return
    st.session_state["_weights_digest"] = digest
    uploaded = st.session_state.setdefault(state.UPLOADED_NETWORKS, set())
    for card, model in reversed(loaded):  # the picker lists the newest first: the file's first network on top
        session_models()[card.label] = (card, model)
        uploaded.add(card.label)
    st.session_state[PENDING_SOURCE] = f"{loaded[0][0].label} (trained in this session)"
    st.rerun()


def _shapes_sample_ui(card: model_cards.ModelCard) -> tuple[Image.Image, object, str]:
    """A built-in shape at the card's size (at most 64 px), picked with a slider; its true outline as the mask."""
    from explorer.data.shapes import SHAPE_CLASSES

    samples = shapes_samples(card.image_size if card.image_size <= 64 else 64)
    state.keep_valid(state.IMAGE_INDEX, range(len(samples.labels)), 0)
    i = st.slider(_("Sample"), 0, len(samples.labels) - 1, key=state.IMAGE_INDEX)
    arr = (samples.images[i].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    return (
        Image.fromarray(arr),
        samples.masks[i].numpy(),
        _("shapes sample {i}: {shape}").format(i=i, shape=_(SHAPE_CLASSES[int(samples.labels[i])])),
    )


def _photo_sample_ui() -> tuple[Image.Image, None, str]:
    """One of the shipped photos, shown small."""
    photos = sample_images()
    state.keep_valid(state.IMAGE_PHOTO, list(photos))
    name = st.selectbox(_("Photo"), list(photos), key=state.IMAGE_PHOTO)
    img = load_image(photos[name])
    st.image(img, width=240, caption=name)
    return img, None, name


def _own_image_ui(kind: str) -> tuple[Image.Image, None, str] | None:
    """An uploaded file (``kind`` "Upload") or a camera photo, shown small; None with a plain message when there is
    none yet or it cannot be used."""
    if kind == "Upload":
        label = _("Upload an image ({accepted}, up to {mb} MB)").format(accepted=_(ACCEPTED), mb=IMAGE_MB)
        up = st.file_uploader(label, key=state.UPLOAD)
    else:
        up = st.camera_input(_("Take a photo"), key=state.CAMERA)
    hide_server_limit_ui()
    if up is None:
        if kind == "Upload":
            text = _("Choose a picture to upload ({accepted}), or pick Shapes sample or Photo sample above.")
            st.info(text.format(accepted=_(ACCEPTED)))
        else:
            st.info(_("Allow the camera and take a photo, or pick Shapes sample or Photo sample above."))
        return None
    if checked_upload(up, "image") is None:
        return None
    try:
        img = load_image(up.getvalue())
        st.image(img, width=240, caption=up.name)
        check_min_size(img)  # a map of a few pixels, stretched to the network's input, means nothing
        return img, None, up.name
    except ImageError as e:
        st.error(_could_not_use(up.name, e))
        return None


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
        help=_("Uploads: {accepted}, up to {mb} MB.").format(accepted=_(ACCEPTED), mb=IMAGE_MB),
    )
    if kind == "Shapes sample":
        return _shapes_sample_ui(card)
    if kind == "Photo sample":
        return _photo_sample_ui()
    return _own_image_ui(kind)


def class_ids(classes: tuple[str, ...]) -> list[str]:
    """Each class's id in links: its (English) name, with its index where the name repeats (ImageNet has two
    'crane's)."""
    return [c if classes.count(c) == 1 else f"{c}#{i}" for i, c in enumerate(classes)]


def target_from_link(value):
    """A target= value as a class id: earlier links carried the shown probability too ('pentagon (2%)')."""
    return re.sub(r" \(\d+%\)$", "", value) if isinstance(value, str) else value


def prepared(card: model_cards.ModelCard, img: Image.Image) -> tuple[torch.Tensor, object]:
    """The image as this card's network takes it, and the pixels it was made from."""
    return prepare_image(card, img)


def prediction_note_ui(card: model_cards.ModelCard, photo: bool) -> None:
    """Beside the predictions: what the network was trained on, what it can answer, and what an untrained one shows."""
    from explorer.data.shapes import SHAPE_CLASSES

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
                "comes out near one-hot: from 56 layers on, one class gets at least 99%, whatever the image; at 20 layers "
                "it depends on the random draw. A plain one stays near chance. Neither number is confidence."
            )
        )
    st.caption("\n\n".join(lines))
    if photo and len(card.classes) != 1000:
        text = _(
            "**{name} knows only {what}**: for a photo of anything else, its answer says nothing about the photo. "
            "Pick an ImageNet network in the sidebar (ResNet-18 to 152, ImageNet weights): torchvision's weights "
            "come down once when you allow it and the server is online. Offline, pick '{file}' and upload "
            "torchvision's .pth (resnet50-11ad3fa6.pth for ResNet-50, from download.pytorch.org, {mb} MB at most)."
        )
        st.warning(text.format(name=card.config.name, what=what, file=_(NETWORK_FILE), mb=WEIGHTS_MB))
