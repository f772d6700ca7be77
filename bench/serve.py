"""``python -m bench.serve APP --port N [--loop L --http H --access-log]``: one app under
uvicorn, settings from the environment, one worker, as ``deploystatus api`` runs it."""

from __future__ import annotations

import argparse

import uvicorn

from bench.apps import APPS
from deploystatus.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--http", default="httptools")
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args()
    app = APPS[args.app](Settings())
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop=args.loop,
        http=args.http,
        access_log=args.access_log,
        # The access logger writes at INFO: "on" means what `uvicorn.run` does by default.
        log_level="info" if args.access_log else "warning",
    )


if __name__ == "__main__":
    main()
