"""Spinners in the session's language for the cached functions of ``explorer.ui``: a cache's own ``show_spinner=``
text is fixed, in English, when the module loads."""

from __future__ import annotations

import functools
from collections.abc import Callable

import streamlit as st

from explorer.i18n import translator


def spinner(message: str) -> Callable:
    """Show ``message`` in the session's language while the decorated (cached) function runs: a cache's own
    ``show_spinner=`` text is fixed, in English, when the module loads. Like it, shown only after 0.5 s."""

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            with st.spinner(translator().gettext(message)):
                return fn(*args, **kwargs)

        return call

    return wrap


class SpinnerText(str):
    """A cache's ``show_spinner=`` text in the session's language: Streamlit shows it only on a cache miss, as
    ``str(message)``, in the session's script thread (where the language is set). Unlike ``spinner``, a cache
    hit costs nothing: no element and no timer thread on every call."""

    def __str__(self) -> str:
        return translator().gettext(str.__str__(self))
