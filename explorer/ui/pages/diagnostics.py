"""Diagnostics (only with EXPLORER_DIAGNOSTICS=1, for load tests): are the shared models as they were
loaded, and how many training jobs really started?"""

import importlib.util

import streamlit as st

from explorer.ui.cache import shared_models_report

st.title("Diagnostics")
r = shared_models_report()
st.markdown(
    f"{r['models']} cached models; {r['hooks']} hooks left on cached models; "
    f"{r['training']} cached models in training mode; {r['changed']} cached models changed since loading."
)
if importlib.util.find_spec("explorer.engine") is not None:  # the Dask job engine (issue 12)
    from explorer import engine

    st.markdown(f"{engine.job_count()} training jobs started on the engine.")
