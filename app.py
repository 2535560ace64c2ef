"""ResNet Explorer: the Streamlit entry point. Routes to the pages; computation lives in explorer/.

The page objects are built on every run, as Streamlit's docs do: made once at import they would be
shared by every session, and two sessions running at once would trip over each other's page.
"""

import os
from pathlib import Path

import streamlit as st

from explorer.i18n import _
from explorer.ui import pages, state, widgets
from explorer.ui.caches.preload import preload_later

ICON = Path(__file__).resolve().parent / "assets" / "icon.png"  # shipped: a font server's icon fails offline
st.set_page_config(page_title="ResNet Explorer", page_icon=str(ICON), layout="wide")
state.init()
widgets.language_ui()  # before any text: this run's language (?lang=zh)
menu = [
    st.Page(pages.LEARN, title=_("Learn"), icon=":material/school:", url_path="home", default=True),  # at /
    st.Page(pages.BUILD, title=_("Build"), icon=":material/construction:", url_path="build"),
    st.Page(pages.TRAIN, title=_("Train"), icon=":material/model_training:", url_path="train"),
    st.Page(pages.INSIDE, title=_("Inside"), icon=":material/layers:", url_path="inside"),
    st.Page(pages.GRADIENTS, title=_("Gradients"), icon=":material/show_chart:", url_path="gradients"),
    st.Page(pages.EXPLAIN, title=_("Explain"), icon=":material/visibility:", url_path="explain"),
    st.Page(pages.EXPERIMENTS, title=_("Experiments"), icon=":material/science:", url_path="experiments"),
    st.Page(pages.LANDSCAPE, title=_("Landscapes"), icon=":material/landscape:", url_path="landscape"),
    st.Page(pages.SALIENCY, title=_("Trust the map?"), icon=":material/fact_check:", url_path="saliency"),
    st.Page(
        pages.CLASS_EXPERIMENT, title=_("Class experiment"), icon=":material/groups:", url_path="class_experiment"
    ),  # the file name: AppTest finds pages by it
    st.Page(pages.LEARN, title=_("Learn"), url_path="learn", visibility="hidden"),  # /learn?lang=zh links
]
if os.environ.get("EXPLORER_DIAGNOSTICS") == "1":  # for load tests: hooks and modes of the shared models
    menu.append(
        st.Page(pages.DIAGNOSTICS, title=_("Diagnostics"), icon=":material/monitor_heart:", url_path="diagnostics")
    )
pg = st.navigation(menu)
pg.run()
preload_later()  # torch, in the background once the first page is drawn without it
