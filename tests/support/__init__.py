"""Helpers for tests and benches that drive the app as a user would (no streamlit import)."""
