"""Find every widget a page draws and use each one, every action in a fresh AppTest session.

The widgets are discovered from the running page (any ``Widget`` in AppTest's element tree), so a widget added
later is walked without anyone listing it. What each kind of widget gets (``actions``):

- a button or download button: one press;
- a toggle or checkbox: switched over and back (two runs in one session);
- a radio, select box or single select slider: every option other than the one shown, at most ``MAX_OPTIONS``
  of them (the first, the last and evenly spaced ones between; select sliders: both ends and the middle);
- a slider or number input: both ends (those that differ from the value shown);
- a multiselect: all its options; none (when some are chosen);
- a text input or area: a short text, then empty;
- a file uploader: a good file and bad ones, chosen by the types it accepts (tests/ui/walk_files.py);
- a camera input: a good JPEG and bytes that are no picture;
- an expander that tracks its state (a lesson's step, ``widgets.lesson_step``): opened.

A widget of a kind with no action here fails the walk, so a new kind of widget is noticed. After each step the
page must show no exception and no text naming a Python exception class, a traceback or a server path
(``offences``). Widgets that appear only after an action are walked too, one level deep.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Widget

from explorer.i18n import language
from explorer.ui import state
from tests.ui.walk_files import CAMERA_FILES, files_for

APP = str(Path(__file__).resolve().parents[2] / "app.py")
MAX_OPTIONS = 5  # options tried per radio or select box (the first, the last, evenly spaced between)
CLICK = object()  # the step value that presses a button

# What a user must never read: a Python exception class, a traceback, an errno, a server or temporary path.
LEAKS = [
    re.compile(r"\b[A-Z]\w*(Error|Exception)\b"),
    re.compile(r"Traceback"),
    re.compile(r"\[Errno \d+\]"),
    re.compile(r"/tmp/|/work/|/home/|/usr/|site-packages|\.py\b\"?"),
    re.compile(r"tcp://|`dask "),  # the engine's address and how to start it: for the server's operator, not a page
]


# ---------------------------------------------------------------- widgets and actions


@dataclass(frozen=True)
class Ref:
    """A widget found on a page: its kind, its Streamlit id (stable across sessions), its key and label."""

    kind: str
    id: str
    key: str | None
    label: str

    def name(self) -> str:
        return f"{self.kind} {self.key or '(no key)'} ({self.label!r})"


@dataclass(frozen=True)
class Step:
    """One thing a user does to one widget, then the page runs."""

    ref: Ref
    value: Any  # CLICK, or what the widget is set to
    says: str  # the step in words, for failure messages


Action = tuple[Step, ...]


@dataclass
class Fold:
    """An expander that tracks whether it is open (``on_change="rerun"``, a key): a user opens it like a widget,
    and what it draws only while open is walked as what that action reveals."""

    block: Any  # AppTest's Expander

    type = "expander"

    @property
    def id(self) -> str:
        return self.block.proto.id

    @property
    def key(self) -> str:
        return self.block.key

    @property
    def label(self) -> str:
        return self.block.label

    @property
    def proto(self):
        return self.block.proto

    @property
    def value(self) -> bool:
        return bool(self.block.proto.expanded)


def widgets(at: AppTest) -> Iterator[Widget | Fold]:
    """Every widget the page drew, main area and sidebar, in order; then the expanders that track their state."""
    for node in at:
        if isinstance(node, Widget):
            yield node
    for block in at.expander:
        if block.key:
            yield Fold(block)


def ref_of(w: Widget) -> Ref:
    return Ref(w.type, w.id, w.key, str(getattr(w, "label", "")))


def sample(options: list, current: Any, limit: int = MAX_OPTIONS) -> list:
    """Up to ``limit`` options other than ``current``: the first, the last and evenly spaced ones between."""
    others = [o for o in options if o != current]
    if len(others) <= limit:
        return others
    picks = np.linspace(0, len(others) - 1, limit).round().astype(int)
    return [others[i] for i in sorted(set(picks))]


def _shown(w: Widget) -> Any:
    """The option label the widget shows now (radio, select box), or None."""
    try:
        return w.options[w.index] if w.index is not None else None
    except (ValueError, IndexError, KeyError):
        return None


def _format(w: Widget, value: Any) -> str | None:
    """The label a select slider shows for ``value``."""
    try:
        return str(w.format_func(value))
    except Exception:  # noqa: BLE001 - no label: every end is tried
        return None


def _files(ref: Ref, files: list) -> list[Action]:
    return [(Step(ref, (name, make(), mime), f"upload {what} ({name})"),) for what, name, make, mime in files]


def actions(w: Widget) -> list[Action]:
    """What a user can do to this widget, each a sequence of steps (see the module docstring)."""
    ref, kind = ref_of(w), w.type
    one = lambda v, says: (Step(ref, v, says),)  # noqa: E731
    if kind in ("button", "download_button"):
        return [one(CLICK, "press")]
    if kind in ("toggle", "checkbox"):
        return [(Step(ref, not w.value, f"switch to {not w.value}"), Step(ref, w.value, f"switch back to {w.value}"))]
    if kind in ("radio", "selectbox"):
        return [one(o, f"choose {o!r}") for o in sample(w.options, _shown(w))]
    if kind == "select_slider":
        ends = [w.options[0], w.options[len(w.options) // 2], w.options[-1]]
        current = _format(w, w.value)
        return [one(o, f"slide to {o!r}") for o in dict.fromkeys(ends) if o != current]
    if kind == "slider":
        ends = [w.min, w.max] if not isinstance(w.value, (list, tuple)) else [[w.min, w.max]]
        return [one(v, f"slide to {v!r}") for v in ends if v != w.value]
    if kind == "number_input":
        ends = [v for v in (w.min, w.max) if v is not None] or [w.value + (w.step or 1)]
        return [one(v, f"type {v!r}") for v in ends if v != w.value]
    if kind == "multiselect":
        return [one(list(w.options), "choose all options")] + ([one([], "choose none")] if w.value else [])
    if kind in ("text_input", "text_area"):
        return [one("abc 123", "type 'abc 123'"), one("", "clear the text")]
    if kind == "file_uploader":
        return _files(ref, files_for(w.allowed_type))
    if kind == "camera_input":
        return _files(ref, CAMERA_FILES)
    if kind == "expander":
        return [one(not w.value, "open it" if not w.value else "fold it")]
    raise NotImplementedError(f"no action for a {kind} widget: teach tests/ui/widget_walk.py to use it")


def find(at: AppTest, ref: Ref) -> Widget | None:
    return next((w for w in widgets(at) if w.id == ref.id), None)


# Widgets the browser sets by the label it shows: AppTest's set_value would pass a label through the page's
# format_func first (a dict's .get makes it None), so these send the labels themselves, as the browser does.
LABELLED = ("radio", "selectbox", "select_slider", "multiselect")


def send_labels(w: Widget, labels: str | list[str]) -> None:
    """Make ``w`` send ``labels`` on the next run, exactly as the browser's widget does."""
    w._assert_can_interact()
    ws = WidgetState()
    ws.id = w.id
    if w.type in ("radio", "selectbox"):
        ws.string_value = labels
    else:
        ws.string_array_value.data[:] = [labels] if isinstance(labels, str) else labels
    w.__class__ = type(f"Labelled{type(w).__name__}", (type(w),), {"_widget_state": property(lambda _self: ws)})


def apply(at: AppTest, step: Step) -> None:
    """Do the step to its widget, found again on this session's page, and run the page."""
    w = find(at, step.ref)
    if w is None:
        raise LookupError(f"{step.ref.name()} is not on the page any more")
    if isinstance(w, Fold):
        at.session_state[w.key] = step.value  # what the browser's click on its title sends
    elif step.value is CLICK:
        w.click()
    elif w.type in LABELLED:
        send_labels(w, step.value)
    else:
        w.set_value(step.value)
    # AppTest labels the other widgets' values with their format_func in this thread, before the page runs: in the
    # page's language, as the browser shows them (the language is per script run, a context variable)
    with language(at.session_state.get(state.LANG, "en")):
        at.run()


def offences(at: AppTest) -> list[str]:
    """What a user must not see on the page now: exceptions, and texts that leak Python or the server."""
    found = [
        f"exception {e.proto.type}: {e.proto.message} (at {' / '.join(e.stack_trace[-1:]).strip()})"
        for e in at.exception
    ]
    kinds = ("error", "warning", "info", "success", "toast", "markdown", "caption", "code", "text")
    for kind in kinds:
        for e in at.get(kind):
            text = str(getattr(e, "value", ""))
            hits = [m.group(0) for p in LEAKS if (m := p.search(text))]
            if hits:
                found.append(f"{kind} names {hits}: {text[:300]!r}")
    return found


# ---------------------------------------------------------------- the walk


@dataclass
class Walk:
    """The result of walking one page: what was exercised and what went wrong."""

    page: str
    widgets: dict[str, Ref] = field(default_factory=dict)  # by id: every widget seen, first level and revealed
    disabled: set[str] = field(default_factory=set)
    revealed: set[str] = field(default_factory=set)
    actions: int = 0
    runs: int = 0
    failures: list[str] = field(default_factory=list)

    def fail(self, action: Action, step: Step | None, what: str) -> None:
        done = " then ".join(f"{s.ref.name()}: {s.says}" for s in action)
        at_step = f" (at: {step.says})" if step and len(action) > 1 else ""
        self.failures.append(f"{self.page}: {done}{at_step} -> {what}")

    def report(self) -> str:
        return "\n".join(self.failures)


@contextmanager
def error_details() -> Iterator[None]:
    """Uncaught exceptions keep their class and message in AppTest (Streamlit redacts them by default), so that
    a failure says what was raised."""
    from streamlit import config

    before = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    try:
        yield
    finally:
        config.set_option("client.showErrorDetails", before)


def open_page(page: str, params: dict[str, str] | None = None, timeout: float = 300) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params.update(params or {})
    at.switch_page(f"explorer/ui/pages/{page}.py")
    return at.run()


def run_action(walk: Walk, opener: Callable[[], AppTest], prefix: Action, action: Action) -> list[tuple[Action, list]]:
    """A fresh session: replay ``prefix``, then ``action`` step by step, checking the page after each.
    Returns, for each step of ``action``, the steps done so far and the widgets then shown that the walk had not seen.
    """
    at = opener()
    walk.runs += 1
    shown = []
    steps = prefix + action
    for i, step in enumerate(steps):
        try:
            apply(at, step)
        except Exception as e:  # noqa: BLE001 - AppTest itself could not use the widget: reported, the walk goes on
            walk.fail(steps, step, f"could not be done: {type(e).__name__}: {e}")
            break
        walk.runs += 1
        for offence in offences(at):
            walk.fail(steps, step, offence)
        if i >= len(prefix):
            shown.append((steps[: i + 1], [w for w in widgets(at) if w.id not in walk.widgets]))
    return shown


def walk_page(page: str, opener: Callable[[], AppTest], actions_of=actions, reveal: bool = True) -> Walk:
    """Every widget the page shows, every action of each in a fresh session, and the widgets those reveal
    (one level deep). A revealed widget is walked once, under the first action that showed it, and not at all when
    one of the same kind and label was walked already (the same switch for another network, say)."""
    walk = Walk(page)
    at = opener()
    walk.runs += 1
    for offence in offences(at):
        walk.failures.append(f"{page}: on opening -> {offence}")
    for chart in at.get("plotly_chart"):
        if chart.proto.selection_mode:  # st.plotly_chart(on_select=...): a widget AppTest cannot use
            walk.failures.append(f"{page}: chart {chart.key or chart.proto.id} takes selections: no walk selects")
    first = list(widgets(at))
    for w in first:
        walk.widgets[w.id] = ref_of(w)
    for w in first:
        for prefix, new in _walk_widget(walk, opener, (), w, actions_of):
            for child in new if reveal else []:
                ref = ref_of(child)
                seen = {(r.kind, r.label) for r in walk.widgets.values()}
                if child.id in walk.widgets or (ref.kind, ref.label) in seen:
                    walk.widgets.setdefault(child.id, ref)
                    continue
                walk.widgets[child.id] = ref
                walk.revealed.add(child.id)
                for _ in _walk_widget(walk, opener, prefix, child, actions_of):
                    pass  # one level deep: what a revealed widget reveals in turn is not walked
    return walk


def _walk_widget(walk: Walk, opener, prefix: Action, w: Widget, actions_of) -> Iterator[tuple[Action, list]]:
    """Each action of ``w`` after ``prefix``; yields (steps done, widgets new after them) for every step."""
    ref = ref_of(w)
    if ref.key is None:
        walk.failures.append(f"{walk.page}: {ref.name()} -> has no key= (every widget has one, from ui/state.py)")
    if getattr(w.proto, "disabled", False):
        walk.disabled.add(w.id)
        return
    try:
        todo = actions_of(w)
    except NotImplementedError as e:
        walk.failures.append(f"{walk.page}: {ref.name()} -> {e}")
        return
    for action in todo:
        walk.actions += 1
        yield from run_action(walk, opener, prefix, action)
