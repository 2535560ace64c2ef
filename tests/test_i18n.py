"""The gettext catalogues: every string the code marks has a Chinese translation that keeps its
placeholders, the shipped .mo says what the .po says, and the language is per context (per session)."""

import ast
import gettext
import re
import threading
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from explorer import i18n
from explorer.i18n import _

ROOT = Path(__file__).resolve().parents[1]
PO = i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / "explorer.po"
MO = PO.with_suffix(".mo")
# str.format fields ({}, {name}, {x:.2f}, {0}) and printf conversions (%s, %(name)d, %.1f); {{ and %% are literal
PLACEHOLDER = re.compile(r"(?<!\{)\{[^{}]*\}(?!\})|%(?:\([^)]*\))?[-#0+]*\d*(?:\.\d+)?[sdifeEgGxXr%]")


def placeholders(text: str) -> Counter:
    return Counter(m for m in PLACEHOLDER.findall(text) if m != "%%")


def code_messages() -> set[str | tuple[str, str]]:
    """What `pybabel extract -F babel.cfg` finds in the code now (singulars, and (singular, plural) pairs)."""
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as f:
        return read_po(f, locale="zh")


def test_every_marked_string_has_a_chinese_translation(catalog):
    missing, fuzzy = [], []
    for message in code_messages():
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(msgid)
        strings = entry.string if entry is not None else ""
        if not (all(strings) if isinstance(strings, tuple) else strings):
            missing.append(msgid)
        elif entry.fuzzy:
            fuzzy.append(msgid)
    assert not missing, (
        f"{len(missing)} strings lack Chinese (run `make translations`, translate the .po): {missing[:10]}"
    )
    assert not fuzzy, f"fuzzy translations are not compiled, check and unmark them: {fuzzy[:10]}"


def test_translations_keep_every_placeholder(catalog):
    wrong = []
    for entry in catalog:
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for s in strings:  # a plural form keeps the plural msgid's fields (Chinese has one form for every n)
            if placeholders(s) != placeholders(ids[-1]):
                wrong.append((ids[0], s))
    assert not wrong, wrong[:5]


def test_placeholder_check_catches_a_dropped_or_renamed_field():
    assert placeholders("{a:.2f} of {n}") != placeholders("{n} 的 {a}")
    assert placeholders("{a:.2f} of {n}") == placeholders("{n} 中的 {a:.2f}")
    assert placeholders("%(n)d steps, 50%%") != placeholders("%(m)d 步")


def test_shipped_mo_is_compiled_from_the_po(catalog):
    with open(MO, "rb") as f:
        mo = gettext.GNUTranslations(f)
    for entry in catalog:
        if not entry.id or not entry.string or entry.fuzzy:
            continue
        if isinstance(entry.id, tuple):
            assert mo.ngettext(entry.id[0], entry.id[1], 1) == entry.string[0], entry.id
        else:
            assert mo.gettext(entry.id) == entry.string, f"{entry.id!r}: run `make translations` to recompile"
    po_ids = {e.id if isinstance(e.id, str) else e.id[0] for e in catalog if e.id and e.string and not e.fuzzy}
    mo_ids = {k if isinstance(k, str) else k[0] for k in mo._catalog if k}
    assert mo_ids == po_ids, "the .mo and the .po differ: run `make translations`"


def test_no_module_rebinds_the_translation_function():
    """`x, _ = ...` or `for _ in ...` after `from explorer.i18n import _` silently breaks translation."""
    offenders = []
    for path in sorted((ROOT / "explorer").rglob("*.py")) + [ROOT / "app.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not any(
            isinstance(n, ast.ImportFrom) and n.module == "explorer.i18n" and any(a.name == "_" for a in n.names)
            for n in ast.walk(tree)
        ):
            continue
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and n.id == "_" and isinstance(n.ctx, ast.Store):
                offenders.append(f"{path.relative_to(ROOT)}:{n.lineno}")
    assert not offenders, f"name the unused value (e.g. _mask), `_` is the translator: {offenders}"


def test_no_module_translates_at_import():
    """Outside the page scripts (run on every rerun), a module-level _() runs once, in English, for everyone:
    mark such constants with N_() and translate them where they are shown."""
    offenders = []
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        if "pages" in path.parts and path.name != "__init__.py":  # page scripts run anew on every rerun
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        top += [
            m for c in tree.body if isinstance(c, ast.ClassDef) for m in c.body if not isinstance(m, ast.FunctionDef)
        ]
        for f in ast.walk(tree):  # default values and decorators are evaluated once, at import
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                top += f.args.defaults + [d for d in f.args.kw_defaults if d] + f.decorator_list
        for stmt in top:
            for n in ast.walk(stmt):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("_", "ngettext"):
                    offenders.append(f"{path.relative_to(ROOT)}:{n.lineno}")
    assert not offenders, offenders


def test_english_is_the_default_and_chinese_is_per_context():
    assert i18n.get_language() == "en"
    assert _("Language · 语言") == "Language · 语言"
    seen = {}

    def other_session():
        seen["other"] = i18n.get_language()

    with i18n.language("zh"):
        assert i18n.get_language() == "zh"
        t = threading.Thread(target=other_session)  # another session's script thread starts in English
        t.start()
        t.join()
    assert seen["other"] == "en"
    assert i18n.get_language() == "en"


def test_chinese_catalogue_translates(catalog):
    msgid = next(e.id for e in catalog if isinstance(e.id, str) and e.id and e.string)
    with i18n.language("zh"):
        assert _(msgid) != msgid and re.search(r"[\u4e00-\u9fff]", _(msgid))
    assert _(msgid) == msgid


@pytest.mark.parametrize("code,lang", [("zh", "zh"), ("zh-CN", "zh"), ("zh_TW", "zh"), ("EN", "en")])
def test_language_codes(code, lang):
    assert i18n.parse_language(code) == lang


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language"):
        i18n.parse_language("xx")
