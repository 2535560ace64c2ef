"""ResNet Explorer: the Streamlit entry point. Routes to the pages; computation lives in explorer/.

The page objects are built on every run, as Streamlit's docs do: made once at import they would be
shared by every session, and two sessions running at once would trip over each other's page.
"""

import os

import streamlit as st

from explorer.ui import pages, state

st.set_page_config(page_title="ResNet Explorer", page_icon=":material/hub:", layout="wide")
state.init()
menu = [
    st.Page(pages.LEARN, title="Learn", icon=":material/school:", url_path="learn", default=True),
    st.Page(pages.BUILD, title="Build", icon=":material/construction:", url_path="build"),
    st.Page(pages.TRAIN, title="Train", icon=":material/model_training:", url_path="train"),
    st.Page(pages.INSIDE, title="Inside", icon=":material/layers:", url_path="inside"),
    st.Page(pages.GRADIENTS, title="Gradients", icon=":material/show_chart:", url_path="gradients"),
    st.Page(pages.EXPLAIN, title="Explain", icon=":material/visibility:", url_path="explain"),
    st.Page(pages.EXPERIMENTS, title="Experiments", icon=":material/science:", url_path="experiments"),
    st.Page(pages.LANDSCAPE, title="Landscapes", icon=":material/landscape:", url_path="landscape"),
]
if os.environ.get("EXPLORER_DIAGNOSTICS") == "1":  # for load tests: hooks and modes of the shared models
    menu.append(
        st.Page(pages.DIAGNOSTICS, title="Diagnostics", icon=":material/monitor_heart:", url_path="diagnostics")
    )
pg = st.navigation(menu)
pg.run()
