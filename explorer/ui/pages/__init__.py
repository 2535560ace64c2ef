"""The app's pages, in menu order."""

import streamlit as st

PAGES = [
    st.Page("explorer/ui/pages/build.py", title="Build", icon="🧱", url_path="build", default=True),
]
