"""python -m explorer ..."""

from explorer.cli.parser import main

if __name__ == "__main__":  # guarded: the engine's worker processes may import this module
    raise SystemExit(main())
