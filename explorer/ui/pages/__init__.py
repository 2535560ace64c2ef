"""The app's pages, in menu order; page objects double as link targets (``st.page_link(pages.BUILD)``)."""

import streamlit as st

_DIR = "explorer/ui/pages"
LEARN = st.Page(f"{_DIR}/learn.py", title="Learn", icon=":material/school:", url_path="home", default=True)  # at /
BUILD = st.Page(f"{_DIR}/build.py", title="Build", icon=":material/construction:", url_path="build")
TRAIN = st.Page(f"{_DIR}/train.py", title="Train", icon=":material/model_training:", url_path="train")
INSIDE = st.Page(f"{_DIR}/inside.py", title="Inside", icon=":material/layers:", url_path="inside")
GRADIENTS = st.Page(f"{_DIR}/gradients.py", title="Gradients", icon=":material/show_chart:", url_path="gradients")
EXPLAIN = st.Page(f"{_DIR}/explain.py", title="Explain", icon=":material/visibility:", url_path="explain")
EXPERIMENTS = st.Page(f"{_DIR}/experiments.py", title="Experiments", icon=":material/science:", url_path="experiments")
LANDSCAPE = st.Page(f"{_DIR}/landscape.py", title="Landscapes", icon=":material/landscape:", url_path="landscape")

# Learn also answers at /learn (the default page itself lives at /), so a shared /learn?lang=zh link works
LEARN_ALIAS = st.Page(f"{_DIR}/learn.py", title="Learn", url_path="learn", visibility="hidden")

PAGES = [LEARN, BUILD, TRAIN, INSIDE, GRADIENTS, EXPLAIN, EXPERIMENTS, LANDSCAPE, LEARN_ALIAS]
