"""Failures a user can act on, in plain words that cross processes: the ``i18n.message`` pair travels with the
error (a Dask worker pickles it back to the client), and each viewer reads it in their own language.

    raise PlainError(message(N_("{name} could not be opened as a .zip: make the zip again and upload it"), name=n))
"""

from __future__ import annotations

from explorer.i18n import translate


class PlainError(ValueError):
    """What went wrong and what to do, for the user: no exception names, paths on a server or API hints.

    ``message`` is an ``i18n.message(...)`` pair (or plain text); ``str(error)`` is it in the language active
    where it was raised. A ValueError, so the CLI's one-line report and the pages' "could not start" catch it.
    """

    def __init__(self, message: tuple[str, dict] | str) -> None:
        super().__init__(translate(message))
        self.message = message

    def __reduce__(self):
        return type(self), (self.message,)


def message_of(exc: BaseException) -> tuple[str, dict] | None:
    """The ``i18n.message`` pair an error carries for the user (``PlainError``, ``images.ImageError``), or None."""
    pair = getattr(exc, "message", None)
    if isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], dict):
        return tuple(pair)
    return None
