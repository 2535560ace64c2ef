"""Helpers for tests and benches that drive the app as a user would (Streamlit's protobuf messages at most, never its runtime)."""
