"""The Chinese catalogue keeps its standard terms (see the .po's header): no 孪生 for a plain twin, no 主干 for
the stem, no 现场 for live, no claims stronger than the English; and text built from parts reads whole."""

import re
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po

from explorer import i18n
from explorer.training.config import TrainConfig

PO = i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / "explorer.po"

# (term in msgstr, allowed only when the msgid says one of these; empty: never)
BANNED = [
    ("孪生", ("siamese",)),  # 孪生网络 is a Siamese network; a plain twin is 对照普通网络
    ("主干", ("backbone",)),  # 主干网络 is a backbone; the stem is 起始层
    ("现场", ()),  # "on-site"; live is 实时
    ("消失", ("vanish",)),  # re-randomised weights do not vanish
    ("高速公路", ()),  # highway networks are Highway 网络
    ("正是", ()),  # "exactly this": stronger than the English anywhere it was used
    ("相同", ("same", "exactly", "match")),  # "as in" / "like" / "follow" is 仿照, not 相同
    ("一叠", ()),
    # the saliency page ("Can you trust the map?"): a saliency map is 显著图, a heat-map is 热力图
    ("热力图", ("heat",)),
    ("会被骗", ()),  # a metric's limits are 局限, not being "fooled"
    ("中心图", ()),  # the centre map is 中心高斯图
    ("轮廓内的质量", ()),  # mass in the outline: 轮廓内的归因占比
    ("正值质量", ()),  # positive mass: 正值总量
    ("基线", ("baseline",)),  # the mean colour is not a 基线; only a msgid that says "baseline" may
]


# round three (house terms): (pattern in msgstr, allowed only when the msgid says one of these)
TERMS = [
    ("热力图", ("heat-map", "heat map", "heatmap")),  # a saliency map is 显著图; a heat-map of gradient norms stays
    ("会被骗", ()),  # "Fooled" on a projector: 局限
    ("公式", ("formula",)),  # an equation is 式 (5)
    (r"(?<![公算])式 ?\d", ()),  # 式 (5), never 式 5
    ("第 4.3 节", ()),  # He et al. 2016 has sections 4.1 and 4.2, then 5
    ("不会消失", ()),  # eq. 5: 不太可能消失
    ("基线", ()),  # the lesion chart's "baseline" is 未移除时
    (r"的运行(?!时)|运行 \*\*|一个运行", ()),  # a run, as a noun, is 训练记录
]
# the "Trust the map?" page is being rewritten elsewhere: its own strings are exempt until that lands
SALIENCY_PAGE = ("explorer/ui/pages/saliency.py", "explorer/charts/saliency.py")


def _saliency_page_ids() -> set[str]:
    from babel.messages.extract import extract_from_file

    root = i18n.LOCALE_DIR.parents[1]
    ids = set()
    for path in SALIENCY_PAGE:
        for _line, message, _comments, _context in extract_from_file("python", str(root / path)):
            ids.update([message] if isinstance(message, str) else [m for m in message if m])
    return ids


@pytest.mark.parametrize("pattern,allowed", TERMS)
def test_house_terms_of_round_three(entries, pattern, allowed):
    exempt = _saliency_page_ids()
    wrong = [
        msgid
        for msgid, msgstr in entries
        if re.search(pattern, msgstr) and msgid not in exempt and not any(w in msgid.lower() for w in allowed)
    ]
    assert not wrong, f"{pattern!r} in the Chinese of: {wrong[:3]}"


def test_round_three_terms_are_the_house_ones(entries):
    zh = dict(entries)
    assert zh["Saliency"] == "梯度显著图（Saliency）" and "显著图" in zh["Trust the map?"]
    assert "未移除时" in zh["{name} (baseline {acc:.1f}%)"]
    eq5 = [s for i, s in entries if "eq. 5" in i]
    assert eq5 and all("式 (5)" in s for s in eq5)


@pytest.fixture(scope="module")
def entries():
    with open(PO, "rb") as f:
        catalog = read_po(f, locale="zh")
    return [(e.id, e.string) for e in catalog if isinstance(e.id, str) and e.id and e.string]


@pytest.mark.parametrize("term,allowed", BANNED)
def test_no_banned_term_in_chinese(entries, term, allowed):
    wrong = [msgid for msgid, msgstr in entries if term in msgstr and not any(w in msgid.lower() for w in allowed)]
    assert not wrong, f"{term!r} in the Chinese of: {wrong[:3]}"


def test_standard_terms_are_used_and_listed(entries):
    plain_twin = [s for i, s in entries if "plain twin" in i]
    assert plain_twin and all("对照普通网络" in s for s in plain_twin)
    stem = [s for i, s in entries if re.search(r"\bstem\b", i)]
    assert stem and all("起始层" in s for s in stem)
    live = [s for i, s in entries if re.search(r"\blive\b", i, re.IGNORECASE)]
    assert live and all("实时" in s for s in live)
    header = PO.read_text(encoding="utf-8").split('msgid ""')[0]
    for term in ("对照普通网络", "起始层", "实时", "仿照"):
        assert term in header, term


def test_saliency_page_terms(entries):
    """The method is 梯度显著图（Saliency）; the pointing game is introduced as 指向游戏（Pointing Game） in the page's
    opening caption, the first place the page names it."""
    by_id = dict(entries)
    assert by_id["Saliency"] == "梯度显著图（Saliency）"
    opening = next(s for i, s in entries if i.startswith("The built-in shapes come with their true outlines."))
    assert "指向游戏（Pointing Game）" in opening and "中心高斯图" in opening
    assert by_id["Mass in the outline (higher is better)"].startswith("轮廓内的归因占比")
    assert by_id["Can you trust the map?"] == "显著图可信吗？"


def _run(**train):
    t = TrainConfig(**train)
    return SimpleNamespace(train=t, meta={"dataset": {"image_size": 32}}, history=SimpleNamespace(step=10, wall_s=3.0))


def test_recipe_caption_names_the_data_and_never_leaves_a_gap():
    from explorer.ui.lesson_sections import recipe_caption

    with i18n.language("zh"):
        no_size = recipe_caption(_run(dataset="cifar10", train_size=None))
        sized = recipe_caption(_run(dataset="shapes", train_size=6000))
        folder = recipe_caption(_run(dataset="/srv/data/my-birds.zip", train_size=None))
    assert "CIFAR-10的图片" in no_size and "cifar10" not in no_size and "在 张" not in no_size
    assert "6,000 张内置形状图片" in sized
    assert "my-birds.zip" in folder and "/srv" not in folder  # a folder by its name, never a server path
    assert "on 6,000 images of the built-in shapes at 32 px" in recipe_caption(_run(dataset="shapes", train_size=6000))


def test_cache_spinners_speak_the_sessions_language(monkeypatch):
    from explorer.models.config import ResNetConfig
    from explorer.ui import spinners
    from explorer.ui.caches import results as cache

    shown = []

    @contextmanager
    def spinner(text):
        shown.append(text)
        yield

    monkeypatch.setattr(spinners.st, "spinner", spinner)
    with i18n.language("zh"):
        summary = cache.cached_summary(ResNetConfig(depth=8, width=8))
    cache.cached_summary(ResNetConfig(depth=8, width=8))
    assert summary.params > 0
    assert shown == ["正在统计参数量和乘加运算次数……", "Counting parameters and multiply-accumulates…"]


def test_model_spinner_speaks_the_sessions_language_only_while_loading(monkeypatch):
    from streamlit.delta_generator_singletons import get_dg_singleton_instance

    from explorer.interpret import model_cards
    from explorer.models.config import ResNetConfig
    from explorer.ui.caches import models as shared_models

    shown = []

    @contextmanager
    def spinner(self, text, **kwargs):
        shown.append(str(text))  # what Streamlit's spinner shows (clean_text)
        yield

    monkeypatch.setattr(type(get_dg_singleton_instance().main_dg), "spinner", spinner)
    first, second = (model_cards.untrained_card(ResNetConfig(depth=8, width=w)) for w in (5, 7))
    with i18n.language("zh"):
        shared_models.cached_card_model(first)
        chinese = i18n._("Loading the network…")
    shared_models.cached_card_model(first)  # loaded already: no spinner
    shared_models.cached_card_model(second)
    assert chinese != "Loading the network…" and shown == [chinese, "Loading the network…"]
