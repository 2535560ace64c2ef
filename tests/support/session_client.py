"""A Streamlit session without a browser: a WebSocket client speaking Streamlit's own protocol.

It does what the browser's frontend does on ``/_stcore/stream``: sends ``BackMsg.rerun_script`` with the
page name, the query string and the widget states, and reads ``ForwardMsg``s (deltas, query-string
changes, ``script_finished``) until the script run ends. Widgets are found by the ``key=`` every widget
of this app has (Streamlit puts the user key at the end of the element id). Used by the class load test
(``bench/bench_class.py``) and the concurrent-session tests; it imports streamlit's protobuf messages
only, never its runtime.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}
WIDGETS = ("button", "checkbox", "radio", "selectbox", "slider", "multiselect", "download_button", "file_uploader")


@dataclass
class Widget:
    """One widget the server drew: its element id, proto type and the proto itself."""

    id: str
    kind: str
    proto: object


@dataclass
class RunResult:
    """What one script run sent back."""

    seconds: float
    exceptions: list[str] = field(default_factory=list)  # exception elements (tracebacks a user would see)
    errors: list[str] = field(default_factory=list)  # st.error alerts
    texts: list[str] = field(default_factory=list)  # markdown, headings, captions and alerts, in order
    charts: int = 0


class StreamlitSession:
    """One session on a running ``streamlit run`` server (``async with StreamlitSession(url) as s``)."""

    def __init__(self, url: str, timeout: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.widgets: dict[str, Widget] = {}  # user key -> widget of the latest run
        self.states: dict[str, WidgetState] = {}  # element id -> the state we last sent
        self.query_string = ""
        self.page_name = ""
        self.page_hash = ""
        self.auto_fragments: dict[str, float] = {}  # fragment id -> seconds: the fragments a browser reruns itself
        self.session_id = ""
        self._ws = None

    async def __aenter__(self) -> StreamlitSession:
        host = self.url.split("://", 1)[1]
        self._ws = await websockets.connect(
            f"ws://{host}/_stcore/stream",
            subprotocols=["streamlit"],
            origin=f"http://{host}",
            max_size=None,
            open_timeout=self.timeout,
            ping_interval=None,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self._ws.close()

    async def open(self, page: str, query: dict[str, str] | None = None) -> RunResult:
        """Open ``/<page>?<query>`` as a browser does: a fresh run of that page, no widget states.

        ``page`` is the page's URL path; the default page's is "" (the root URL).
        """
        from urllib.parse import urlencode

        self.page_name, self.page_hash = page, ""
        self.query_string = urlencode(query or {})
        self.states.clear()
        return await self._rerun()

    async def set(self, key: str, value) -> RunResult:
        """Set the widget with ``key=key`` to ``value`` (as the user would) and wait for the rerun."""
        w = self.widgets[key]
        ws = WidgetState(id=w.id)
        options = list(getattr(w.proto, "options", []))
        if options and w.kind != "multiselect" and str(value) not in options:  # a label's start is enough
            value = next((o for o in options if o.startswith(str(value))), value)
        if w.kind == "checkbox":
            ws.bool_value = bool(value)
        elif w.kind in ("radio", "selectbox"):
            ws.string_value = str(value)
        elif w.kind == "slider" and list(w.proto.options):  # select_slider: the formatted option
            ws.string_array_value.data[:] = [str(value)]
        elif w.kind == "slider":
            ws.double_array_value.data[:] = [float(value)]
        elif w.kind == "multiselect":
            ws.string_array_value.data[:] = [str(v) for v in value]
        else:
            raise ValueError(f"cannot set a {w.kind}")
        self.states[w.id] = ws
        return await self._rerun()

    async def click(self, key: str) -> RunResult:
        """Press the button with ``key=key``: a trigger sent once."""
        w = self.widgets[key]
        trigger = WidgetState(id=w.id, trigger_value=True)
        return await self._rerun(extra=[trigger])

    def query(self) -> dict[str, str]:
        """The query parameters the server last set (what the browser's address bar would show)."""
        from urllib.parse import parse_qsl

        return dict(parse_qsl(self.query_string))

    async def poll_fragment(self, fragment_id: str | None = None) -> RunResult:
        """What the browser does every ``run_every`` of a fragment: rerun only that fragment (the first one the
        page asked to be rerun, by default)."""
        return await self._rerun(fragment_id=fragment_id or next(iter(self.auto_fragments)))

    async def _rerun(self, extra: list[WidgetState] = (), fragment_id: str = "") -> RunResult:
        msg = BackMsg()
        rs = msg.rerun_script
        rs.query_string = self.query_string
        rs.page_script_hash = self.page_hash
        rs.page_name = "" if self.page_hash else self.page_name
        rs.widget_states.widgets.extend(list(self.states.values()) + list(extra))
        if fragment_id:
            rs.fragment_id, rs.is_auto_rerun = fragment_id, True
        t0 = time.perf_counter()
        await self._ws.send(msg.SerializeToString())
        result = RunResult(0.0)
        if not fragment_id:  # a fragment's run redraws only its own widgets
            self.widgets, self.auto_fragments = {}, {}
        await asyncio.wait_for(self._read_until_finished(result), self.timeout)
        result.seconds = time.perf_counter() - t0
        return result

    async def _read_until_finished(self, result: RunResult) -> None:
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self._ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "new_session":
                self.session_id = fwd.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":  # the page that ran (new_session names the main script)
                self.page_hash = fwd.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query_string = fwd.page_info_changed.query_string
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                self._element(fwd.delta.new_element, result)
            elif kind == "auto_rerun":
                self.auto_fragments[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
            elif kind == "page_not_found":
                result.exceptions.append(f"page not found: {fwd.page_not_found.page_name}")
            elif kind == "script_finished" and fwd.script_finished in FINISHED:
                return

    def _element(self, el, result: RunResult) -> None:
        kind = el.WhichOneof("type")
        if kind == "exception":
            result.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif kind == "alert":
            result.texts.append(el.alert.body)
            if el.alert.format == el.alert.ERROR:
                result.errors.append(el.alert.body)
        elif kind in ("markdown", "heading"):
            result.texts.append(getattr(el, kind).body)
        elif kind == "plotly_chart":
            result.charts += 1
        elif kind in WIDGETS:
            proto = getattr(el, kind)
            key = proto.id.split("-", maxsplit=2)[-1] if proto.id.startswith("$$ID") else proto.id
            self.widgets[key] = Widget(proto.id, kind, proto)
