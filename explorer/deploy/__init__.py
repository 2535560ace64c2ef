"""Serving a class from one machine: several Streamlit processes behind nginx, jobs on Dask (``launcher``)."""
