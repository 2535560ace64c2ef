"""ResNet Explorer: the Streamlit entry point. Routes to the pages; computation lives in explorer/."""

import streamlit as st

from explorer.ui import state, widgets
from explorer.ui.pages import PAGES

st.set_page_config(page_title="ResNet Explorer", page_icon=":material/hub:", layout="wide")
state.init()
widgets.language_ui()  # before any text: sets this run's language (?lang=zh)
pg = st.navigation(PAGES)
pg.run()
