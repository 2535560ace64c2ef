"""``python -m explorer.deploy``: what ``make class`` runs (see ``explorer/deploy/launcher.py``)."""

from __future__ import annotations

import argparse
import os
import sys

from explorer.deploy.launcher import Classroom, available_cores, serve
from explorer.engine.client import SCHEDULER_ENV


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m explorer.deploy",
        description="Serve the explorer to a class: a Dask scheduler and workers, N Streamlit processes, nginx in front.",
    )
    p.add_argument("--port", type=int, default=8501, help="where nginx listens (default 8501)")
    p.add_argument("--host", default="", help="the address nginx listens on (default: every interface)")
    p.add_argument("--servers", type=int, default=available_cores(), help="Streamlit processes (default: the cores)")
    p.add_argument("--workers", type=int, default=1, help="Dask worker processes here, one job each (0: none)")
    p.add_argument(
        "--scheduler",
        default=os.environ.get(SCHEDULER_ENV, ""),
        help=f"an existing scheduler's address (default ${SCHEDULER_ENV}); without one, this starts one",
    )
    p.add_argument(
        "--scheduler-host",
        default="127.0.0.1",
        help="where the scheduler it starts listens (0.0.0.0 lets workers on other machines join)",
    )
    p.add_argument("--scheduler-port", type=int, default=8786)
    a = p.parse_args(argv)
    if a.servers < 1 or a.workers < 0:
        p.error("--servers must be at least 1 and --workers at least 0")
    room = Classroom(
        port=a.port,
        host=a.host,
        servers=a.servers,
        workers=a.workers,
        scheduler=a.scheduler,
        scheduler_host=a.scheduler_host,
        scheduler_port=a.scheduler_port,
    )
    return serve(room)


if __name__ == "__main__":
    sys.exit(main())
