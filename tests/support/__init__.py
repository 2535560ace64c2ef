"""Helpers for tests and benches that drive the app as a user would: a real server, Chromium, Streamlit's protocol
(its protobuf messages at most, never its runtime)."""
