"""python -m explorer ...: the parser, and one module per command family."""
