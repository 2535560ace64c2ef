"""Diagnostics (only with EXPLORER_DIAGNOSTICS=1, for load tests): are the shared models as they were
loaded, and how many training jobs really started on the job engine?"""

import streamlit as st

from explorer.engine import client as engine_client
from explorer.engine import jobs as engine
from explorer.ui.caches.models import shared_models_report

st.title("Diagnostics")
r = shared_models_report()
st.markdown(
    f"{r['models']} cached models; {r['hooks']} hooks left on cached models; "
    f"{r['training']} cached models in training mode; {r['changed']} cached models changed since loading."
)
if engine_client._client is not None:  # asking would start an embedded cluster nobody needs yet
    st.markdown(f"{engine.job_count('train')} training jobs started on the engine.")
else:
    st.markdown("0 training jobs started on the engine (it has not been used yet).")
