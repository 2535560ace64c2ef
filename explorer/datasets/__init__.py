"""Dataset back ends; import from ``explorer.data``, which re-exports the public names."""
