"""Class experiment: thirty students, thirty seeds, one chart (``explorer.experiments.class_experiment``).

The teacher starts an experiment and shows its code, link and QR code; each student opens the link, gets an
assignment (a depth and a seed) and trains their plain-and-residual pair as a job on the engine. The class chart
fills in as pairs finish, on every page (``explorer.ui.class_chart``).
"""

import io

import streamlit as st

from explorer.engine import records as engine_records
from explorer.errors import PlainError
from explorer.experiments import class_experiment as ce
from explorer.experiments import class_verdict as cv
from explorer.i18n import _, message, translate
from explorer.ui import state
from explorer.ui.class_chart import chart_ui, load_experiment
from explorer.ui.job_view import job_panel, submit_ui
from explorer.ui.training_view import runs_root

ROLE = "class_role"
DEPTHS = "class_depths"
STEPS = "class_steps"
TEACHER_CODE = "class_teacher_code"  # the experiment this session's teacher runs
REOPEN = "class_reopen"
JOIN = "class_join"  # the code a student typed (or the link's)
ME = "class_me"  # this session's assignment: (code, number, depth, seed)
PICK_DEPTH = "class_pick_depth"
PICK_SEED = "class_pick_seed"
JOB = "class_job"
URL_PATH = "class_experiment"  # app.py's url_path for this page
ROLES = {"student": _("I am a student"), "teacher": _("I am the teacher")}


def _link(code: str) -> str:
    """The address that opens this page for code ``code``, as the browser reached this server."""
    base = (st.context.url or "").split("?", 1)[0].rstrip("/")
    base = base.rsplit("/", 1)[0] if base.endswith(f"/{URL_PATH}") else base
    return f"{base}/{URL_PATH}?code={code}"


@st.cache_data(max_entries=64, show_spinner=False)
def _qr_png(text: str) -> bytes:
    """A QR code of ``text`` as PNG, 12 pixels a module (about 450 pixels a side for a link), shown scaled to its column."""
    import segno

    buf = io.BytesIO()
    segno.make_qr(text, error="m").save(buf, kind="png", scale=12, border=4)
    return buf.getvalue()


def teacher_ui() -> str | None:
    """Start an experiment (or reopen one by its code), then show its code, link and QR code, and its controls."""
    code = st.session_state.get(TEACHER_CODE)
    if code is None:
        c1, c2 = st.columns([3, 2])
        depths = c1.multiselect(
            _("Depths"), ce.DEPTH_CHOICES, default=list(ce.DEFAULT_DEPTHS), key=DEPTHS, format_func=str
        )
        steps = c2.slider(_("Steps per pair"), 20, 400, ce.DEFAULT_STEPS, step=10, key=STEPS)
        st.caption(
            _("At {steps} steps a pair of the default depths trains in about 20 CPU-seconds.").format(
                steps=ce.DEFAULT_STEPS
            )
        )
        if st.button(_("Start the experiment"), key="class_start", type="primary", disabled=not depths):
            st.session_state[TEACHER_CODE] = ce.new_experiment(runs_root(), depths=depths, steps=steps).code
            st.rerun()
        typed = st.text_input(_("Or reopen an experiment by its code"), key=REOPEN, max_chars=12)
        if typed and load_experiment(typed) is not None:
            st.session_state[TEACHER_CODE] = ce.normal_code(typed)
            st.rerun()
        return None
    exp = load_experiment(code)
    if exp is None:
        if st.button(_("Start a new experiment"), key="class_new_after_error"):
            _forget_teacher()
        return None
    _show_code(exp)
    c1, c2, c3 = st.columns(3)
    if c1.button(_("Close it (no new runs)") if exp.open else _("Reopen it"), key="class_toggle", width="stretch"):
        ce.set_open(runs_root(), exp.code, not exp.open)
        st.rerun()
    c2.download_button(
        _("Download the table (CSV)"), cv.csv_text(exp), file_name=f"class-{exp.code}.csv", mime="text/csv",
        key="class_csv", width="stretch",
    )  # fmt: skip
    if c3.button(_("Start a new experiment"), key="class_new", width="stretch"):
        _forget_teacher()
    return exp.code


def _forget_teacher() -> None:
    """Back to the form: forget the experiment shown (and a code typed to reopen it)."""
    st.session_state.pop(TEACHER_CODE, None)
    st.session_state.pop(REOPEN, None)
    st.rerun()


def _show_code(exp: ce.Experiment) -> None:
    link = _link(exp.code)
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(_("Code: **{code}**").format(code=exp.code))
        st.markdown(f"## `{exp.code}`")
        st.markdown(_("Students open this link (or this page, and type the code):"))
        st.code(link, language=None)
        state_text = _("open: taking runs") if exp.open else _("closed: no new runs")
        depths = ", ".join(str(d) for d in exp.depths)
        st.caption(
            _("Depths {depths}, {steps} steps per pair on {dataset}; {state}.").format(
                depths=depths, steps=exp.steps, dataset=exp.dataset, state=state_text
            )
        )
    c2.image(_qr_png(link), caption=_("Scan to join"), width="stretch")  # as large as half the page


def student_ui() -> str | None:
    """Join by code, get an assignment (or pick one), and train the pair with one press."""
    if "code" in st.query_params and JOIN not in st.session_state:
        st.session_state[JOIN] = st.query_params["code"]
    typed = st.text_input(_("The code on the board"), key=JOIN, max_chars=12)
    if not typed:
        st.info(_("Type the code the teacher shows, or open the link they give."))
        return None
    exp = load_experiment(typed)
    if exp is None:
        return None
    st.query_params["code"] = exp.code
    me = st.session_state.get(ME)
    if me is None or me[0] != exp.code:
        if not exp.open:
            st.warning(translate(message(ce.CLOSED, code=exp.code)))
            return exp.code
        a = ce.assign(runs_root(), exp.code)
        me = st.session_state[ME] = (exp.code, a.number, a.depth, a.seed)
    _assignment_ui(exp, me)
    return exp.code


def _assignment_ui(exp: ce.Experiment, me: tuple) -> None:
    code, number, depth, seed = me
    st.markdown(
        _("You are student **{n}**. Your pair: **{depth} layers**, seed **{seed}** (a plain network and its residual twin).")
        .format(n=number, depth=depth, seed=seed)
    )  # fmt: skip
    with st.expander(_("Pick depth and seed by hand")):
        c1, c2 = st.columns(2)
        state.keep_valid(PICK_DEPTH, list(exp.depths), depth)
        d = c1.selectbox(_("Depth"), list(exp.depths), key=PICK_DEPTH)
        s = c2.number_input(_("Seed"), 0, 9999, value=seed, step=1, key=PICK_SEED)
        if st.button(_("Use this pair"), key="class_pick"):
            try:
                a = ce.choose(runs_root(), code, number, d, int(s))
            except PlainError as e:
                st.error(translate(e.message))
            else:
                st.session_state[ME] = (code, a.number, a.depth, a.seed)
                st.rerun()
    running = _running()
    if st.button(_("Train my pair"), key="class_train", type="primary", disabled=running or not exp.open):
        _press(exp, depth, seed)
    if not exp.open:
        st.caption(translate(message(ce.CLOSED, code=exp.code)))
    result = job_panel(JOB, _("Your pair"))
    if result is not None:
        from explorer.tasks.class_experiment import record_from

        record_from(runs_root(), code, result)  # a worker on another machine could not write it


def _running() -> bool:
    from explorer.engine import jobs as engine

    job = st.session_state.get(JOB)
    try:
        return job is not None and engine.status(job).active
    except engine_records.EngineUnavailable:
        return False


def _press(exp: ce.Experiment, depth: int, seed: int) -> None:
    """Submit (or join) the pair's job: a second press, or a classmate with the same pair, joins it."""
    from explorer.tasks.class_experiment import contribution_job

    try:
        submit_ui(JOB, contribution_job(ce.open_experiment(runs_root(), exp.code), depth, seed))
    except PlainError as e:
        st.error(translate(e.message))
    else:
        st.rerun()


st.title(_("Class experiment: thirty seeds, one chart"))
st.caption(
    _(
        "One run cannot say whether the gap between plain and residual networks is luck. Here every student "
        "trains their own plain-and-residual pair with a seed of their own, and the class sees the spread."
    )
)
state.keep_valid(ROLE, list(ROLES), "student" if "code" in st.query_params else "teacher")
role = st.radio(_("Who is here"), list(ROLES), format_func=ROLES.get, key=ROLE, horizontal=True)
code = teacher_ui() if role == "teacher" else student_ui()
if code is not None:
    me = st.session_state.get(ME) if role == "student" else None
    chart_ui(code, (me[2], me[3]) if me and me[0] == code else None)
