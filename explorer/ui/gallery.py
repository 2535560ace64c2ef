"""Explain's gallery: many pictures in one upload (or a .zip), each with its top-1 class, confidence and map.

The files go through ``explorer.data.gather`` once per upload (every file checked; the skipped ones listed with
their reasons). Thumbnails come first; the maps are ONE job per session on the engine (``explorer.tasks.gallery``),
filled in batch by batch as the job's points arrive, with progress and Stop. The first job starts on a click; after
that, a new method or layer starts its own job at once (stopping the session's earlier one). Results are kept per
view (network, method, layer), so going back to a view computed before costs nothing and a new view computes only
its own maps.
One click opens a picture in the page's detailed view; the whole gallery downloads as one .zip (``interpret.bundle``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
from PIL import Image

from explorer.charts.colors import overlay_rgb
from explorer.data.gather import Gathered, Picture, gather
from explorer.engine import records as engine_records
from explorer.i18n import N_, _, ngettext, translate
from explorer.interpret import gradcam
from explorer.interpret import methods as attribution_methods
from explorer.interpret.batch import Explained
from explorer.interpret.bundle import bundle_entries, bundle_zip
from explorer.interpret.cams import SCORECAM_COST, scorecam_passes
from explorer.interpret.model_cards import ModelCard, prepare_image
from explorer.ui import state
from explorer.ui.job_view import POLL_S, engine_down_text, status_ui

JOB, VIEW, RESULTS, FOUND, OPENED = "gallery_job", "gallery_view", "gallery_results", "gallery_found", "gallery_opened"
IMAGE_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff", "zip"]
COLUMNS = 4
THUMB = 160  # pixels a side
SORTS = {"order": N_("file order"), "high": N_("confidence, highest first"), "low": N_("confidence, lowest first")}


def _found(files) -> tuple[str, Gathered]:
    """The uploaded files gathered once per upload (kept by their content's digest)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(hashlib.sha256(f.getvalue()).digest())
    digest = h.hexdigest()[:24]
    kept = st.session_state.get(FOUND)
    if kept is None or kept[0] != digest:
        kept = (digest, gather([(f.name, f.getvalue()) for f in files]))
        st.session_state[FOUND] = kept
        st.session_state.pop(RESULTS, None)
    return kept


def opened_picture() -> Picture | None:
    """The gallery picture the user opened in the detailed view, if any."""
    kept, i = st.session_state.get(FOUND), st.session_state.get(OPENED)
    if kept is None or i is None or i >= len(kept[1].pictures):
        return None
    return kept[1].pictures[i]


def back_ui() -> None:
    """A button back to the gallery from the detailed view."""
    if st.button(_("Back to the gallery"), key=state.GALLERY_BACK):
        st.session_state.pop(OPENED, None)
        st.rerun()


def _skipped_ui(found: Gathered) -> None:
    if not found.skipped:
        return
    n = len(found.skipped)
    with st.expander(ngettext("{n} file skipped", "{n} files skipped", n).format(n=n), expanded=True):
        st.markdown("\n".join(f"- **{s.name}**: {translate(s.text) if s.text else s.message}" for s in found.skipped))


def _controls_ui(model, images: int) -> tuple[str, str, str]:
    names = list(attribution_methods.METHODS)
    state.keep_valid(state.GALLERY_METHOD, names, "gradcam")
    layers = gradcam.target_layers(model)
    state.keep_valid(state.GALLERY_LAYER, layers, gradcam.default_layer(model))
    state.keep_valid(state.GALLERY_SORT, list(SORTS), "order")
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox(
        _("Method"), names, format_func=lambda m: _(attribution_methods.METHOD_LABELS[m]), key=state.GALLERY_METHOD
    )
    layer = c2.selectbox(_("Layer"), layers, key=state.GALLERY_LAYER, help=_("Used by the CAM methods."))
    sort = c3.selectbox(_("Sort"), list(SORTS), format_func=lambda k: _(SORTS[k]), key=state.GALLERY_SORT)
    if method == "scorecam":  # its cost before it runs: the gallery's job takes this many forward passes
        st.caption(_(SCORECAM_COST).format(passes=scorecam_passes(model, layer, images)))
    return method, layer, sort


def _submit(card: ModelCard, model, pictures: list[Picture], method: str, layer: str, view: tuple) -> None:
    """Stop this session's earlier gallery job, if any, and start this view's: one job per session."""
    from explorer.engine import jobs as engine
    from explorer.tasks.gallery import gallery_job

    job = gallery_job(card, model, pictures, method, layer, None)
    job = engine_records.Job(job.kind, job.fn, job.spec, job.id, _("Gallery"))
    try:
        old = st.session_state.get(JOB)
        if old is not None and engine.status(old).active:
            engine.stop(old)
        st.session_state[JOB] = engine.submit(job)
    except engine_records.EngineUnavailable as e:
        st.error(engine_down_text(e))
        return
    st.session_state[VIEW] = view


def _rows_from_points(points: list) -> dict[int, tuple[list, int, np.ndarray]]:
    from explorer.tasks.gallery import map_from_point

    return {int(i): (top, int(t), map_from_point(small)) for i, top, t, small in points}


def _rows_from_results(results: list[Explained]) -> dict[int, tuple[list, int, np.ndarray]]:
    return {i: (r.top, r.target, r.map) for i, r in enumerate(results)}


def _thumbnail(card: ModelCard, picture: Picture, cam: np.ndarray | None) -> np.ndarray:
    """The picture as the network sees it, the map over it when there is one, THUMB pixels a side."""
    display = prepare_image(card, picture.image)[1]
    if cam is not None:
        if cam.shape != display.shape[:2]:  # a point's small map
            cam = np.asarray(Image.fromarray(cam).resize(display.shape[1::-1], Image.Resampling.BILINEAR))
        display = overlay_rgb(display, cam, 0.5)
    return np.asarray(Image.fromarray(display).resize((THUMB, THUMB), Image.Resampling.NEAREST))


def _order(pictures: list[Picture], rows: dict, sort: str) -> list[int]:
    order = list(range(len(pictures)))
    if sort == "order":
        return order
    sign = -1 if sort == "high" else 1
    return sorted(order, key=lambda i: (i not in rows, sign * rows[i][0][0][1] if i in rows else 0, i))


def _grid_ui(card: ModelCard, pictures: list[Picture], rows: dict, sort: str, live: bool = False) -> None:
    """The thumbnails, with class and confidence where known; ``live``: drawn by the job's fragment, whose
    buttons take keys of their own (a fragment's widget and the full run's must not share one)."""
    cols = st.columns(COLUMNS)
    for k, i in enumerate(_order(pictures, rows, sort)):
        p = pictures[i]
        with cols[k % COLUMNS]:
            row = rows.get(i)
            st.image(_thumbnail(card, p, row[2] if row else None), caption=p.name)
            if row:
                best, prob = row[0][0]
                st.markdown(f"**{_(card.classes[int(best)])}** {prob:.0%}")
            else:
                st.caption(_("map on its way…"))
            if st.button(_("Open"), key=f"{state.GALLERY_OPEN}_{'live_' if live else ''}{i}"):
                st.session_state[OPENED] = i
                st.rerun(scope="app")


def _job_grid_ui(card: ModelCard, pictures: list[Picture], sort: str, view: tuple) -> None:
    """Progress, Stop and the grid filled in from the job's points; the results kept once it ends."""
    from explorer.engine import jobs as engine

    job = st.session_state[JOB]
    polling = engine.status(job).active

    @st.fragment(run_every=POLL_S if polling else None)
    def panel() -> None:
        state.apply_language()
        s = engine.status(job)
        c1, c2 = st.columns([5, 1])
        with c1:
            status_ui(s, _("Gallery"))
        if s.active and c2.button(_("Stop"), key=f"{JOB}_stop", width="stretch"):
            engine.stop(job)
        if s.state in (engine_records.FAILED, engine_records.LOST):
            st.session_state.pop(VIEW, None)  # the next run offers the start button again
        if not s.active and s.state in (engine_records.DONE, engine_records.STOPPED):
            results = engine.result(job)
            if results is not None:
                st.session_state.setdefault(RESULTS, {})[view] = results
                st.rerun(scope="app")
        _grid_ui(card, pictures, _rows_from_points(engine.points(job)), sort, live=True)

    panel()


def gallery_ui(card: ModelCard, model) -> None:
    """The gallery: upload, skipped files, method and layer, the grid, the download."""
    files = st.file_uploader(
        _("Images, or a .zip of them"),
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=state.GALLERY_FILES,
        help=_("Every file is checked; files that cannot be read are listed with the reason."),
    )
    if not files:
        st.info(_("Upload several images at once (or one .zip) to see them side by side."))
        return
    digest, found = _found(files)
    _skipped_ui(found)
    if not found.pictures:
        st.error(_("None of these files is a picture that can be explained."))
        return
    method, layer, sort = _controls_ui(model, len(found.pictures))
    view = (card.label, digest, method, layer)
    done = st.session_state.get(RESULTS, {}).get(view)
    if done is not None:
        _download_ui(card, done, found, method)
        _grid_ui(card, found.pictures, _rows_from_results(done), sort)
        return
    earlier = st.session_state.get(VIEW)
    if earlier is not None and earlier != view and earlier[:2] == view[:2]:  # these pictures were explained
        _submit(card, model, found.pictures, method, layer, view)  # before: the new method or layer follows
    if st.session_state.get(VIEW) == view and st.session_state.get(JOB):
        try:
            _job_grid_ui(card, found.pictures, sort, view)
        except engine_records.EngineUnavailable as e:
            st.error(engine_down_text(e))
        return
    n = len(found.pictures)
    label = _("Explain {n} images with {method}").format(n=n, method=_(attribution_methods.METHOD_LABELS[method]))
    if st.button(label, key=state.GALLERY_START, type="primary"):
        _submit(card, model, found.pictures, method, layer, view)
        st.rerun()
    _grid_ui(card, found.pictures, {}, sort)


def _download_ui(card: ModelCard, results: list[Explained], found: Gathered, method: str) -> None:
    if len(results) < len(found.pictures):
        st.caption(_("Stopped early: {done} of {n} images explained.").format(done=len(results), n=len(found.pictures)))
    data = bundle_zip(bundle_entries(results, card.classes, card.label, overlay_rgb, found.skipped))
    st.download_button(
        _("Download the gallery (.zip)"),
        data,
        file_name=f"gallery-{method}.zip",
        mime="application/zip",
        key=state.GALLERY_ZIP,
        help=_("Every overlay (PNG), every raw map (.npy) and predictions.csv."),
    )
