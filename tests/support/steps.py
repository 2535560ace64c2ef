"""Open the Learn page's steps in an AppTest session, as a reader's clicks on them do."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from explorer.ui import state


def open_steps(at: AppTest, steps: tuple[str, ...] = state.LEARN_STEPS) -> AppTest:
    """Open ``steps`` (all of them by default) and run the page again; returns ``at``."""
    for key in steps:
        at.session_state[key] = True
    return at.run()
