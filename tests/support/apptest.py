"""What an AppTest run shows, for the page tests."""

from __future__ import annotations


def texts(at) -> str:
    """Every markdown, caption and alert the run drew, one per line, in order of kind."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [e.value for kind in (at.error, at.warning, at.info, at.success) for e in kind]
    return "\n".join(str(p) for p in parts)
