"""The ``deploystatus`` command: projector, api, publish, token, ls, watch, demo, and the
rebuild tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar

import orjson
import uvloop
from pydantic import ValidationError

from api.exceptions import ConfigurationError
from cli.watch_client import CONDITIONS
from deploystatus.collector import FOLDING_FIRST_THRESHOLD, tune_collector
from deploystatus.logs import configure_logging
from deploystatus.memory import start_trimming
from deploystatus.settings import Settings
from deploystatus.signals import stop_on_signals
from deploystatus.startup import ServiceUnreachable, check_port_free, explain, reach_redis
from deploystatus.view.client import create_redis
from devtools.devstack import DevStackError
from projector.exceptions import RebuildInterrupted, RebuildRefused
from projector.rebuild.verify import VerifyRefused


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        parser.exit(2, f"deploystatus: invalid configuration in the environment:\n{exc}\n")
    configure_logging(settings.log.level, settings.log.format)
    try:
        result: int = args.handler(settings, args)
    except (ConfigurationError, DevStackError, RebuildRefused, VerifyRefused) as exc:
        parser.exit(2, f"deploystatus {args.command}: {exc}\n")
    except RebuildInterrupted as exc:
        parser.exit(1, f"deploystatus {args.command}: {exc}\n")
    except Exception as exc:
        failure = explain(exc, settings)
        if failure is None:
            raise
        # The line says what to change; the stack is for whoever debugs the command itself.
        logging.getLogger(__name__).debug("%s failed", args.command, exc_info=exc)
        parser.exit(failure.exit_code, f"deploystatus {args.command}: {failure}\n")
    return result


def _partitions(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a list of partitions") from None


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a uuid") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deploystatus", description="Deployment status read model (configured by environment)."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND", dest="command")

    projector = commands.add_parser("projector", help="fold the events topic into Redis")
    projector.set_defaults(handler=_projector)

    api = commands.add_parser("api", help="serve GET /status/{deployment_id}")
    api.add_argument(
        "--workers", type=int, default=1, help="API processes sharing the port (stateless)"
    )
    api.set_defaults(handler=_api)

    publish = commands.add_parser("publish", help="publish events from a JSONL file ('-' = stdin)")
    publish.add_argument("file", help="one CloudEvent JSON object per line, or '-' for stdin")
    publish.add_argument(
        "--no-validate", action="store_true", help="publish lines as they are, even invalid ones"
    )
    publish.set_defaults(handler=_publish)

    rebuild = commands.add_parser(
        "rebuild", help="replay the log into a new generation of the view, then switch to it"
    )
    mode = rebuild.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an interrupted rebuild")
    mode.add_argument("--abort", action="store_true", help="discard an interrupted rebuild")
    rebuild.set_defaults(handler=_rebuild)

    worker = commands.add_parser(
        "rebuild-worker", help="(started by `rebuild`) replay some partitions into its generation"
    )
    worker.add_argument("generation", help="the generation being built")
    worker.add_argument("--partitions", required=True, type=_partitions, help="e.g. 1,3,5")
    worker.add_argument("--parent", required=True, type=int, help="the rebuild's pid")
    worker.set_defaults(handler=_rebuild_worker)

    verify = commands.add_parser(
        "verify", help="compare the served view with the fold of the log (exit 1 on mismatch)"
    )
    verify.add_argument("--sample", type=int, help="check this many random deployments only")
    verify.set_defaults(handler=_verify)

    watch = commands.add_parser(
        "watch", help="follow a deployment's status live; exit 0 when --until holds"
    )
    watch.add_argument("deployment_id", type=_uuid)
    watch.add_argument("--until", choices=CONDITIONS, help="a status or health to wait for")
    watch.add_argument("--timeout", type=float, default=300.0, help="seconds before exit 1")
    watch.add_argument("--token", help="bearer token (default: $DEPLOYSTATUS_TOKEN)")
    watch.add_argument("--url", help="API base URL (default: http://API_HOST:API_PORT)")
    watch.set_defaults(handler=_watch)

    ls = commands.add_parser("ls", help="list your deployments, worst health first")
    ls.add_argument("--health", help="any of, comma-separated: unhealthy,degraded,healthy")
    ls.add_argument("--status", help="any of, comma-separated: pending,scheduled,running,...")
    ls.add_argument("--token", help="bearer token (default: $DEPLOYSTATUS_TOKEN)")
    ls.add_argument("--url", help="API base URL (default: http://API_HOST:API_PORT)")
    ls.set_defaults(handler=_ls)

    token = commands.add_parser("token", help="mint a JWT for a user with JWT_SECRET")
    token.add_argument("--sub", required=True, type=_uuid, help="the user id (a uuid)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    token.set_defaults(handler=_token)

    demo = commands.add_parser(
        "demo", help="embedded broker + Redis, projector, API and changing sample deployments"
    )
    demo.set_defaults(handler=_demo)

    simulate = commands.add_parser(
        "simulate", help="publish sample deployments and keep changing them (no services)"
    )
    simulate.set_defaults(handler=_simulate)
    return parser


T = TypeVar("T")


def _projector(settings: Settings, args: argparse.Namespace) -> int:
    from projector.service import run_projector

    run_folding(run_projector(settings))
    return 0


def run_folding(
    main: Coroutine[Any, Any, T],
    *,
    gc_first_threshold: int = FOLDING_FIRST_THRESHOLD,
    loop: Literal["uvloop", "asyncio"] = "uvloop",
) -> T:
    """Run the main coroutine of a process that folds events (projector, rebuild) on uvloop,
    whose socket and callback handling cost less CPU than asyncio's loop
    (docs/performance.md#cpu), with the collector and the heap tuned for folding. The
    keyword arguments are the bench's levers (bench/infra/projector_lever.py)."""
    _tune_memory_for_folding(gc_first_threshold)
    return uvloop.run(main) if loop == "uvloop" else asyncio.run(main)


def _tune_memory_for_folding(gc_first_threshold: int) -> None:
    """A batch allocates many objects that live until it is written (its events, the new
    states) and few that outlive it: the collector runs only when garbage builds up
    (``deploystatus.collector``). What is freed goes back to the operating system
    (``deploystatus.memory``)."""
    tune_collector(gc_first_threshold)
    start_trimming()


def _api(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app

    create_app(settings)  # fails fast, in this process, on bad token settings
    check_port_free("API_HOST", "API_PORT", settings.api.host, settings.api.port)
    _warn_if_redis_is_unreachable(settings)
    uvicorn.run(
        "api.app:create_app_from_environment",
        factory=True,
        host=settings.api.host,
        port=settings.api.port,
        workers=args.workers,
        # The access log and a pure-Python loop or parser cost throughput
        # (docs/performance.md#reads).
        access_log=settings.api.access_log,
        loop="uvloop",
        http="httptools",
        log_config=None,  # keep ours (JSON or text), set up by each process
        # Watch streams never end by themselves: on shutdown they are cut after this long,
        # and their clients reconnect (to another process) with Last-Event-ID.
        timeout_graceful_shutdown=5,
    )
    return 0


def _warn_if_redis_is_unreachable(settings: Settings) -> None:
    """The API starts without Redis (it answers 503, /readyz too, until Redis does), so that
    an orchestrator sees it alive; the setting to check is named once, here."""

    async def probe() -> None:
        redis = create_redis(settings, role="api")
        try:
            await reach_redis(redis, settings)
        finally:
            await redis.aclose()

    try:
        asyncio.run(probe())
    except ServiceUnreachable as exc:
        logging.getLogger(__name__).warning("%s; until then the API answers 503", exc)


def _publish(settings: Settings, args: argparse.Namespace) -> int:
    from cli.publish import InvalidInput, parse_lines, publish_records

    if args.file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        lines = Path(args.file).read_text().splitlines()
    try:
        records = parse_lines(lines, validate=not args.no_validate)
    except InvalidInput as exc:
        print(f"deploystatus publish: {exc} (nothing published)", file=sys.stderr)
        return 2
    written = asyncio.run(publish_records(settings, records))
    for metadata in written:
        position = {
            "topic": metadata.topic,
            "partition": metadata.partition,
            "offset": metadata.offset,
        }
        sys.stdout.write(orjson.dumps(position).decode() + "\n")
    print(
        f"published {len(written)} event(s) to {settings.kafka.events_topic!r}",
        file=sys.stderr,
    )
    return 0


def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from projector.rebuild.rebuild import abort_rebuild, run_rebuild

    if args.abort:
        discarded = asyncio.run(abort_rebuild(settings))
        print(f"discarded the interrupted rebuild of generation {discarded}")
        return 0

    async def rebuild() -> str:
        return await run_rebuild(settings, resume=args.resume, stopping=stop_on_signals())

    served = run_folding(rebuild())
    print(f"generation {served} is served")
    return 0


def _rebuild_worker(settings: Settings, args: argparse.Namespace) -> int:
    from projector.rebuild.workers import run_worker

    async def work() -> None:
        await run_worker(settings, args.generation, args.partitions, args.parent, stop_on_signals())

    run_folding(work())
    return 0


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    from projector.rebuild.verify import verify

    generation, checked, mismatches = asyncio.run(verify(settings, args.sample))
    for m in mismatches:
        print(f"{m.deployment_id}  {m.field}: expected {m.expected!r}, served {m.served!r}")
    print(
        f"generation {generation}: {checked} deployment(s) checked, {len(mismatches)} mismatch(es)",
        file=sys.stderr,
    )
    return 1 if mismatches else 0


def _ls(settings: Settings, args: argparse.Namespace) -> int:
    from cli.list_client import list_deployments

    token = args.token or os.environ.get("DEPLOYSTATUS_TOKEN")
    if not token:
        print("deploystatus ls: give --token or set DEPLOYSTATUS_TOKEN", file=sys.stderr)
        return 2
    url = args.url or f"http://{settings.api.host}:{settings.api.port}"
    return asyncio.run(list_deployments(url, token, args.health, args.status))


def _watch(settings: Settings, args: argparse.Namespace) -> int:
    from cli.watch_client import watch

    token = args.token or os.environ.get("DEPLOYSTATUS_TOKEN")
    if not token:
        print("deploystatus watch: give --token or set DEPLOYSTATUS_TOKEN", file=sys.stderr)
        return 2
    url = args.url or f"http://{settings.api.host}:{settings.api.port}"
    return asyncio.run(watch(url, token, args.deployment_id, args.until, args.timeout))


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from api.auth import mint_token

    print(mint_token(settings, args.sub, args.ttl))
    return 0


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from cli.demo import run_demo

    return run_demo(settings)


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from cli.demo import run_simulation

    return run_simulation(settings)


if __name__ == "__main__":
    sys.exit(main())
