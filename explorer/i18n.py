"""Translations: gettext catalogues in ``explorer/locale``, one language per script run.

English is the source language (the msgids); ``explorer/locale/<lang>/LC_MESSAGES/explorer.mo`` holds
each translation, compiled from its ``.po`` by Babel's ``pybabel compile`` (``make translations``).
The active language lives in a ``contextvars.ContextVar``, not a process-wide setting, because one
Streamlit server runs many sessions at once, each in its own script thread: the UI sets it at the top
of every script run (and of every fragment run), and library code that builds text calls ``_()``.

Mark a string that must be translated later (a module constant) with ``N_()`` and translate it where it
is shown with ``_(CONSTANT)``; pybabel extracts ``_``, ``N_`` and ``ngettext`` calls.
"""

from __future__ import annotations

import contextvars
import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "explorer"
DEFAULT_LANGUAGE = "en"
# language code -> its name, written in that language (what the switch shows)
LANGUAGES = {"en": "English", "zh": "中文"}

_language: contextvars.ContextVar[str] = contextvars.ContextVar("explorer_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue for ``language`` (read once per process); English falls back to the msgids."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True)


def parse_language(code: str) -> str:
    """A supported language code from user input (``"zh"``, ``"zh-CN"``, ``"EN"``); ValueError otherwise."""
    base = str(code).strip().lower().replace("_", "-").split("-")[0]
    if base not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}; choose one of {', '.join(LANGUAGES)}")
    return base


def set_language(language: str) -> contextvars.Token:
    """Make ``language`` active in the current context (this script run); returns a token for ``reset``."""
    return _language.set(parse_language(language))


def get_language() -> str:
    """The active language code."""
    return _language.get()


@contextmanager
def language(code: str) -> Iterator[None]:
    """``with language("zh"):`` text built inside is in Chinese; the previous language returns on exit."""
    token = set_language(code)
    try:
        yield
    finally:
        _language.reset(token)


def translator() -> gettext.NullTranslations:
    """The catalogue of the active language."""
    return translations(_language.get())


def _(message: str) -> str:
    """``message`` in the active language."""
    return translator().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the active language (Chinese has one form)."""
    return translator().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks ``message`` for extraction without translating it now (translate where it is shown)."""
    return message


def message(msgid: str, **params) -> tuple[str, dict]:
    """Text built where it is not shown (a worker, another process): its msgid and fields, translated later.

    ``msgid`` is an ``N_()`` constant or literal; a field may itself be a ``message(...)``. The pair crosses
    processes as plain data (msgpack turns it into a list) and ``translate`` shows it in the viewer's language.
    """
    return (msgid, params)


def _is_message(value) -> bool:
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], dict)
    )


def translate(text) -> str:
    """A ``message(...)`` pair in the active language (its message fields too); a plain string as it is."""
    if not _is_message(text):
        return "" if text is None else str(text)
    msgid, params = text
    fields = {k: _translate_field(v) for k, v in params.items()}
    return _(msgid).format(**fields) if fields else _(msgid)


def then(text: str, more: str) -> str:
    """Two sentences in a row as the active language writes them (a space between in English, none in Chinese)."""
    return _("{text} {more}").format(text=text, more=more)


def translate_all(messages) -> str:
    """Several ``message(...)`` pairs in the active language, written as a list ("a, b, c"; 中文 "a、b、c")."""
    return _(", ").join(translate(m) for m in messages)


def _translate_field(value):
    """A message field in the active language: a message, or a list of messages (``translate_all``)."""
    if _is_message(value):
        return translate(value)
    if isinstance(value, (list, tuple)) and value and all(_is_message(v) for v in value):
        return translate_all(value)
    return value
