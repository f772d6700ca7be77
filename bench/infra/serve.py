"""``python -m bench.infra.serve APP --port N [--server S --loop L --http H --access-log
--default-collector]``: one app under one server (uvicorn, as ``deploystatus api`` runs it, or
granian), settings from the environment, one worker, the collector set as
``deploystatus api`` sets it (unless ``--default-collector``)."""

from __future__ import annotations

import argparse
import os

from fastapi import FastAPI

from bench.infra.apps import APPS
from deploystatus.collector import SERVING_FIRST_THRESHOLD, tune_collector
from deploystatus.settings import Settings

# granian imports its target in its worker process: the app's name gets there by environment.
APP_ENV = "BENCH_SERVE_APP"
DEFAULT_COLLECTOR_ENV = "BENCH_DEFAULT_COLLECTOR"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app", choices=sorted(APPS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--http", default="httptools")
    parser.add_argument("--access-log", action="store_true")
    parser.add_argument("--default-collector", action="store_true")
    args = parser.parse_args()
    if args.default_collector:
        os.environ[DEFAULT_COLLECTOR_ENV] = "1"
    if args.server == "granian":
        _granian(args)
    else:
        _uvicorn(args)


def _uvicorn(args: argparse.Namespace) -> None:
    import uvicorn

    uvicorn.run(
        _app(args.app),
        host="127.0.0.1",
        port=args.port,
        loop=args.loop,
        http=args.http,
        access_log=args.access_log,
        # The access logger writes at INFO: "on" means what `uvicorn.run` does by default.
        log_level="info" if args.access_log else "warning",
    )


def _granian(args: argparse.Namespace) -> None:
    """One granian worker process (a child of this one) with one Rust runtime thread, on the
    same event loop as ours under uvicorn; HTTP/1.1 only, as wrk speaks."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops
    from granian.log import LogLevels

    os.environ[APP_ENV] = args.app
    Granian(
        "bench.infra.serve:granian_app",
        factory=True,
        address="127.0.0.1",
        port=args.port,
        interface=Interfaces.ASGI,
        workers=1,
        runtime_threads=1,
        loop=Loops(args.loop),
        http=HTTPModes.http1,
        websockets=False,
        log_access=args.access_log,
        log_level=LogLevels.info if args.access_log else LogLevels.warning,
    ).serve()


def granian_app() -> FastAPI:
    return _app(os.environ[APP_ENV])


def _app(name: str) -> FastAPI:
    """The app, built in the process that serves it, as ``create_app_from_environment``."""
    app = APPS[name](Settings())
    if not os.environ.get(DEFAULT_COLLECTOR_ENV):
        tune_collector(SERVING_FIRST_THRESHOLD)
    return app


if __name__ == "__main__":
    main()
