"""Experiments on trained networks: lesion study and friends, each a pure function with progress and stop."""
