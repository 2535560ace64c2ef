"""No two elements share a key: Streamlit raises StreamlitDuplicateElementKey only when both are drawn, so a
collision hides behind a button until a user presses it. This reads every ``key=`` in the app's source instead."""

import ast
from collections import defaultdict
from pathlib import Path

from explorer.ui import state

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "explorer" / "ui").rglob("*.py")) + [ROOT / "app.py"]


def _constants(tree: ast.Module) -> dict[str, str]:
    """A module's own string constants (``NAME = "..."`` or ``A, B = "...", "..."``)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            pairs = (
                zip(target.elts, value.elts, strict=False)
                if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple)
                else [(target, value)]
            )
            for t, v in pairs:
                if isinstance(t, ast.Name) and isinstance(v, ast.Constant) and isinstance(v.value, str):
                    out[t.id] = v.value
    return out


def _key(node: ast.expr, constants: dict[str, str]) -> str | None:
    """The key an argument names, where the source fixes it: a literal, a state constant or a module constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "state":
        return getattr(state, node.attr, None)
    if isinstance(node, ast.Name):
        return constants.get(node.id) or (getattr(state, node.id, None) if node.id.isupper() else None)
    return None  # an f-string or a variable: made per network or per call, not checked here


def static_keys() -> dict[str, list[str]]:
    """key -> where it is given (file:line), for every element call with a fixed key."""
    found = defaultdict(list)
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                if kw.arg == "key" and not isinstance(kw.value, ast.Lambda):
                    key = _key(kw.value, constants)
                    if key is not None:  # sorted(..., key=lambda ...) is no element
                        found[key].append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_scan_sees_the_explain_page():
    keys = static_keys()
    assert any(w.startswith("explorer/ui/pages/explain.py") for w in keys[state.CAM_METHODS])
    assert len(keys) > 40, sorted(keys)


def test_no_two_elements_share_a_key():
    shared = {k: where for k, where in static_keys().items() if len(where) > 1}
    assert not shared, shared


def test_state_key_constants_are_distinct():
    names = [n for n in vars(state) if n.isupper() and isinstance(getattr(state, n), str)]
    by_value = defaultdict(list)
    for n in names:
        by_value[getattr(state, n)].append(n)
    skip = {"DEFAULT_LANGUAGE"}
    assert not {v: ns for v, ns in by_value.items() if len(ns) > 1 and not skip & set(ns)}
