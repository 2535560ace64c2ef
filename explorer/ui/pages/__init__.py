"""The app's pages, in menu order; page objects double as link targets (``st.page_link(pages.BUILD)``)."""

import streamlit as st

_DIR = "explorer/ui/pages"
BUILD = st.Page(f"{_DIR}/build.py", title="Build", icon=":material/construction:", url_path="build", default=True)
EXPLAIN = st.Page(f"{_DIR}/explain.py", title="Explain", icon=":material/visibility:", url_path="explain")

PAGES = [BUILD, EXPLAIN]
