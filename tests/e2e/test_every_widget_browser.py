"""Every page in a real browser, for what AppTest cannot do (tests/ui/test_every_widget.py walks the rest).

For each page: the widgets the browser shows are counted by kind, and any interactive element that belongs to no
widget kind the walks know fails the test (a new kind of widget, or a chart that takes selections, is noticed);
every page link is followed; every radio option and every option of a short select box in the main area is
chosen (in one session, those in view), and each file uploader and camera those reveal is fed through the server's real upload path: a good file
and bad ones (the same crafted files as the AppTest walk), the camera a photo from Chromium's fake device. The
page must show no exception and no text naming a Python exception class, a traceback or a server path.

The diagnostics page is left out: the shared server runs without EXPLORER_DIAGNOSTICS (AppTest walks it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.browser import STEPS, wait_idle
from tests.ui.walk_files import files_for
from tests.ui.widget_walk import LEAKS

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.stem for p in (ROOT / "explorer" / "ui" / "pages").glob("*.py") if p.stem not in ("__init__",))
PAGES.remove("diagnostics")
COUNTS = ROOT / "artifacts" / "widget-walk"
MAX_SELECT = 5  # select boxes with more options than this reveal nothing new here (AppTest samples them)

# The browser's widget containers (data-testid); sliders and select sliders are both stSlider, toggles stCheckbox.
WIDGETS = [
    "stButton", "stDownloadButton", "stCheckbox", "stRadio", "stSelectbox", "stSlider", "stMultiSelect",
    "stNumberInput", "stTextInput", "stTextArea", "stFileUploader", "stCameraInput", "stPageLink", "stDateInput",
    "stTimeInput", "stColorPicker", "stChatInput", "stButtonGroup", "stAudioInput",
]  # fmt: skip
# What else a user can press that is Streamlit's own frame, not a widget of the page: the menu, the page list,
# headings' anchors, help tooltips, tabs and expanders, tables, and a chart's own tools (zoom, pan, download PNG).
FRAME = [
    "stHeader", "stSidebarNav", "stSidebarCollapseButton", "stSidebarHeader", "stSkipToContent",
    "stHeaderActionElements", "stTooltipHoverTarget", "stTabs", "stExpander", "stDataFrame", "stTable",
    "stElementToolbar", "stPlotlyChart", "stMainMenu", "stToolbar", "stStatusWidget",
]  # fmt: skip
INTERACTIVE = "input, button, textarea, select, a[href], [role=slider], [role=combobox], [role=switch], [role=tab]"
CENSUS_JS = """([widgets, frame, interactive]) => {
  const known = new Set([...widgets, ...frame]);
  const kinds = {}, unknown = [];
  for (const w of document.querySelectorAll(widgets.map(t => `[data-testid="${t}"]`).join(","))) {
    const t = w.getAttribute("data-testid"); kinds[t] = (kinds[t] || 0) + 1;
  }
  for (const e of document.querySelectorAll(interactive)) {
    let n = e, owner = null;
    for (; n && !owner; n = n.parentElement) {
      const t = n.getAttribute && n.getAttribute("data-testid");
      if (t && known.has(t)) owner = t;
    }
    if (!owner) unknown.push(e.outerHTML.slice(0, 160));
  }
  // a chart that takes selections (st.plotly_chart on_select) offers box or lasso select
  const selectable = document.querySelectorAll('[data-testid="stPlotlyChart"] [data-attr="dragmode"][data-val="select"],'
    + '[data-testid="stPlotlyChart"] [data-attr="dragmode"][data-val="lasso"]').length;
  return {kinds, unknown, selectable};
}"""


WEBCAM_READY = "v => v.readyState >= 2 || new Promise(r => v.addEventListener('loadeddata', () => r(true)))"


@pytest.fixture(scope="module")
def camera_browser(browser):
    """The session's Chromium: it has a fake camera (tests/e2e/conftest.py). One playwright per process: a second
    sync_playwright() inside the first one's loop refuses to start."""
    return browser


class Tab:
    """A fresh browser session on one page, and what went wrong in it."""

    def __init__(self, browser, url: str, page: str, problems: list[str]):
        self.context = browser.new_context(viewport={"width": 1440, "height": 1400}, permissions=["camera"])
        self.tab = self.context.new_page()
        self.tab.set_default_timeout(120_000)
        self.url, self.page, self.problems = url, page, problems
        self.tab.goto(url)
        wait_idle(self.tab)
        self.check("on opening")
        self.open_steps()

    def unfold(self, element) -> None:
        """Open the folded steps or expanders around ``element`` (innermost first) until it is in view."""
        fold = element.locator("xpath=ancestor::details[1]/summary")
        while not element.is_visible() and fold.count():
            fold.first.click()
            wait_idle(self.tab)

    def open_steps(self) -> None:
        """Open every step of a lesson (``st.expander(type="step")``: its figures are drawn only when it is open),
        so that what the steps hold is walked with the page."""
        closed = self.tab.locator(f'{STEPS}[aria-expanded="false"]')
        while closed.count():
            label = closed.first.inner_text().strip()
            closed.first.click()
            wait_idle(self.tab)
            self.check(f"open the step {label!r}")

    def check(self, action: str) -> None:
        """No exception box, no traceback, no exception class name and no server path on the page."""
        boxes = self.tab.locator('[data-testid="stException"]')
        if boxes.count():
            self.problems.append(f"{self.page}: {action} -> an exception box: {boxes.first.inner_text()[:600]!r}")
        body = self.tab.inner_text("body")
        for p in LEAKS:
            if m := p.search(body):
                at = body[max(0, m.start() - 120) : m.end() + 120].replace("\n", " ")
                self.problems.append(f"{self.page}: {action} -> the page shows {m.group(0)!r}: ...{at}...")

    def main(self, testid: str):
        return self.tab.locator(f'[data-testid="stMain"] [data-testid="{testid}"]')

    def close(self) -> None:
        self.context.close()


def page_url(server: str, page: str) -> str:
    return f"{server}/{page}"


def census(t: Tab) -> tuple[dict, int]:
    """The page's widgets by kind and its page links; what no walk knows is a problem."""
    found = t.tab.evaluate(CENSUS_JS, [WIDGETS, FRAME, INTERACTIVE])
    for html in found["unknown"]:
        t.problems.append(f"{t.page}: an interactive element no walk knows: {html}")
    if found["selectable"]:
        t.problems.append(f"{t.page}: {found['selectable']} charts take selections: teach the walks to select")
    return found["kinds"], t.main("stPageLink").count()


def follow_links(server, browser, page: str, links: int, problems: list[str]) -> None:
    """Each page link of the main area, from the page itself: the page it names opens."""
    if not links:
        return
    t = Tab(browser, page_url(server, page), page, problems)
    try:
        for i in range(links):
            link = t.main("stPageLink").nth(i)
            if i:
                t.tab.goto(page_url(server, page))
                wait_idle(t.tab)
                t.unfold(link)  # a fresh session: the step that holds the link is closed again
            name = link.inner_text().strip()
            link.locator("a").click()
            t.tab.wait_for_url(lambda u: not u.rstrip("/").endswith(f"/{page}"))
            wait_idle(t.tab)
            t.check(f"follow the link {name!r}")
            if t.tab.locator('[data-testid="stMain"] h1').count() == 0:
                problems.append(f"{page}: the link {name!r} opened no page ({t.tab.url})")
    finally:
        t.close()


def label_of(widget) -> str:
    return widget.locator('[data-testid="stWidgetLabel"]').first.inner_text().strip()


def choices(t: Tab) -> tuple[list[tuple[str, str, list[str]]], int]:
    """(kind, label, option labels) of the main area's visible radios (the options not shown) and short select
    boxes, one per label; and how many were left out because they are not in view (another tab, folded away)."""
    found, hidden, labels = [], 0, set()
    for kind in ("stRadio", "stSelectbox"):
        widgets = t.main(kind)
        for i in range(widgets.count()):
            w = widgets.nth(i)
            if not w.is_visible():
                hidden += 1
                continue
            label = label_of(w)
            if (kind, label) in labels:
                continue
            labels.add((kind, label))
            if kind == "stRadio":
                options = w.locator('[data-testid="stRadioOption"]')
                shown = options.and_(t.tab.locator('[data-selected="true"]')).all_inner_texts()
                found.append((kind, label, [o for o in options.all_inner_texts() if o not in shown]))
                continue
            w.click()
            options = t.tab.locator('[role="option"]').all_inner_texts()
            t.tab.keyboard.press("Escape")
            if len(options) <= MAX_SELECT:
                found.append((kind, label, options[1:] if options else []))  # the first is usually the one shown
    return found, hidden


def choose(t: Tab, kind: str, label: str, option: str) -> bool:
    """Choose ``option`` in the widget labelled ``label``; False when an earlier choice took the widget or the
    option away."""
    widget = t.main(kind).filter(has=t.tab.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True)).first
    if not widget.count() or not widget.is_visible():
        return False
    if kind == "stRadio":
        widget.locator('[data-testid="stRadioOption"]').get_by_text(option, exact=True).first.click()
    else:
        if widget.locator("input").first.is_disabled():
            return False
        widget.click()
        try:
            t.tab.locator('[role="option"]').first.wait_for(timeout=5_000)
        except PlaywrightTimeout:  # the list did not open: nothing was chosen
            return False
        match = t.tab.locator('[role="option"]').filter(has_text=option)
        if not match.count():  # an earlier choice changed the options (another run, other networks)
            t.tab.keyboard.press("Escape")
            return False
        match.first.click()
    wait_idle(t.tab)
    return True


def unfed(widgets, fed: set[str]):
    """(widget, label) for each of these widgets whose label is not in ``fed`` yet; each is added as it comes."""
    for i in range(widgets.count()):
        widget = widgets.nth(i)
        label = widget.locator('[data-testid="stWidgetLabel"]').inner_text().strip()
        if label not in fed:
            fed.add(label)
            yield widget, label


def feed(t: Tab, tmp_path: Path, fed: set[str], where: str) -> int:
    """Give every uploader and camera on the page that was not fed yet its files. Returns how many were fed."""
    n = 0
    for up, label in unfed(t.tab.locator('[data-testid="stFileUploader"]'), fed):
        n += 1
        accept = up.locator('input[type="file"]').get_attribute("accept") or ""
        for what, name, make, _mime in files_for([a for a in accept.split(",") if a]):
            path = tmp_path / name
            path.write_bytes(make())
            up.locator('input[type="file"]').set_input_files(str(path))
            up.get_by_text(name).first.wait_for()
            wait_idle(t.tab)
            t.check(f"{where}, upload {what} ({name}) to {label!r}")
    for cam, label in unfed(t.tab.locator('[data-testid="stCameraInput"]'), fed):
        n += 1
        cam.locator("video").evaluate(WEBCAM_READY)  # a click before the first frame takes no photo
        cam.locator('[data-testid="stCameraInputButton"]').click()
        cam.locator("img").first.wait_for()  # the photo taken, shown in place of the video
        wait_idle(t.tab)
        t.check(f"{where}, take a photo with {label!r}")
    return n


def reveal_and_feed(server, browser, page: str, tmp_path: Path, problems: list[str]) -> dict:
    """The census; then, in the same session, every option of the main area's radios and short select boxes,
    feeding the uploaders and cameras that appear (AppTest walks each option in a fresh session; here one
    session keeps the page loads few). Returns what was exercised."""
    fed: set[str] = set()
    t = Tab(browser, page_url(server, page), page, problems)
    try:
        kinds, links = census(t)
        todo, hidden = choices(t)
        fed_n = feed(t, tmp_path, fed, "on opening")
        chosen = 0
        for kind, label, options in todo:
            for option in options:
                if choose(t, kind, label, option):
                    chosen += 1
                    where = f"choose {option!r} in {label!r}"
                    t.check(where)
                    fed_n += feed(t, tmp_path, fed, where)
    finally:
        t.close()
    counts = {"page": page, "widgets": kinds, "links": links, "options chosen": chosen, "not in view": hidden}
    return {**counts, "uploaders fed": fed_n}


@pytest.mark.parametrize("page", PAGES)
def test_every_page_in_the_browser(server, camera_browser, tmp_path, page):
    problems: list[str] = []
    counts = reveal_and_feed(server, camera_browser, page, tmp_path, problems)
    follow_links(server, camera_browser, page, counts["links"], problems)
    COUNTS.mkdir(parents=True, exist_ok=True)
    (COUNTS / f"{page}-browser.json").write_text(json.dumps(counts))
    print(f"\n{page} [browser]: {counts}")
    assert sum(counts["widgets"].values()), f"{page}: the browser shows no widget: the walk would test nothing"
    assert not problems, f"{len(problems)} problems ({counts}):\n" + "\n".join(problems)
