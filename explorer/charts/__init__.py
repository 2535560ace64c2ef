"""Plotly figures from plain arrays: pure functions, no Streamlit."""
