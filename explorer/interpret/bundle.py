"""What a user takes home from explaining many pictures: overlays (PNG), raw maps (.npy) and ``predictions.csv``.

The same entries are written as a folder (the command line) or as one .zip in memory (the page's download):
``overlays/<name>.png``, ``maps/<name>.npy`` ((H, W) float32 in [0, 1]), ``predictions.csv`` (file, top-5 classes
and probabilities, the class explained, method, layer, network, the share of the map inside the shape's outline
where the picture has one) and ``skipped.csv`` (file, reason). ``<name>`` is the user's own file name made safe:
path parts joined by ``__``, only letters, digits, ``.``, ``-`` and ``_``, at most 100 characters, numbered when
two names meet. Nothing is written outside the folder asked for. The overlay colouring is passed in
(``explorer.charts.colors.overlay_rgb``), so this module draws nothing itself.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from explorer.data.base import SkippedFile
from explorer.interpret.batch import TOP, Explained

Overlay = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (display (H, W, 3) uint8, map (H, W)) -> (H, W, 3) uint8
MAX_STEM = 100


def safe_stem(name: str) -> str:
    """A file name's safe stem: 'holiday/../Cat 1.JPG' -> 'holiday__Cat_1'."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("/", ".", "..")]
    if parts:
        parts[-1] = PurePosixPath(parts[-1]).stem or parts[-1]
    cleaned = [re.sub(r"[^\w.-]+", "_", p, flags=re.ASCII).strip("._-") for p in parts]
    return "__".join(p for p in cleaned if p)[:MAX_STEM] or "image"


def unique_stems(names: Sequence[str]) -> list[str]:
    """``safe_stem`` of each name, numbered ('-2', '-3', ...) where two would meet (case-blind, for Windows and macOS)."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem, n = safe_stem(name), 1
        candidate = stem
        while candidate.lower() in seen:
            n += 1
            candidate = f"{stem}-{n}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def png_bytes(rgb: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 picture as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def npy_bytes(a: np.ndarray) -> bytes:
    """A map as .npy bytes, float32, no pickle."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(a, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def _csv(header: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _prediction_row(r: Explained, stem: str, classes: Sequence[str], network: str) -> list:
    top = [v for i, p in r.top for v in (classes[i], f"{p:.6f}")]
    top += [""] * (2 * TOP - len(top))
    inside = "" if r.inside is None else f"{r.inside:.6f}"
    return [r.name, *top, classes[r.target], r.method, r.layer or "", network, inside, f"overlays/{stem}.png"]


def bundle_entries(
    results: Sequence[Explained],
    classes: Sequence[str],
    network: str,
    overlay: Overlay,
    skipped: Sequence[SkippedFile] = (),
) -> Iterator[tuple[str, bytes]]:
    """(path inside the bundle, bytes) for every file of the bundle, the CSVs last."""
    stems = unique_stems([r.name for r in results])
    for r, stem in zip(results, stems, strict=True):
        yield f"overlays/{stem}.png", png_bytes(overlay(r.display, r.map))
        yield f"maps/{stem}.npy", npy_bytes(r.map)
    header = ["file"] + [f"top{k}_{w}" for k in range(1, TOP + 1) for w in ("class", "probability")]
    header += ["explained_class", "method", "layer", "network", "share_inside_outline", "overlay"]
    rows = [_prediction_row(r, stem, classes, network) for r, stem in zip(results, stems, strict=True)]
    yield "predictions.csv", _csv(header, rows)
    yield "skipped.csv", _csv(["file", "reason", "message"], [[s.name, s.reason, s.message] for s in skipped])


def write_bundle(out: str | Path, entries: Iterator[tuple[str, bytes]]) -> list[Path]:
    """Write the entries under the folder ``out`` (made if needed); ValueError for a path that would leave it."""
    root = Path(out).resolve()
    written = []
    for arc, data in entries:
        path = (root / arc).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"refusing to write {arc!r} outside {root}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def bundle_zip(entries: Iterator[tuple[str, bytes]]) -> bytes:
    """The entries as one .zip in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for arc, data in entries:
            zf.writestr(arc, data)
    return buf.getvalue()
