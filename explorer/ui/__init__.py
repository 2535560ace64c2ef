"""The Streamlit front end: the only code besides app.py that imports streamlit."""
