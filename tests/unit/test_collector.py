"""The collector set at start-up: what an API process (each uvicorn worker) and a folding
process run with. Checked in a child interpreter: it changes the whole process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deploystatus.collector import FOLDING_FIRST_THRESHOLD, SERVING_FIRST_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]
REPORT = "import gc; print(gc.get_threshold()[0], gc.get_freeze_count())"


def _run(code: str, **env: str) -> tuple[int, int]:
    child = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    threshold, frozen = child.stdout.split()
    return int(threshold), int(frozen)


def test_an_untuned_process_keeps_cpythons_collector() -> None:
    threshold, frozen = _run(REPORT)
    assert threshold not in (SERVING_FIRST_THRESHOLD, FOLDING_FIRST_THRESHOLD)
    assert frozen == 0


def test_the_api_process_tunes_its_collector_once_its_app_is_built() -> None:
    code = "from api.app import create_app_from_environment; create_app_from_environment(); "
    threshold, frozen = _run(code + REPORT, REDIS_URL="redis://127.0.0.1:1/0", JWT_SECRET="s" * 32)
    assert threshold == SERVING_FIRST_THRESHOLD
    assert frozen > 10_000  # the modules and the app: out of every later collection's walk


def test_a_folding_process_tunes_its_collector() -> None:
    code = (
        "import asyncio; from cli.main import run_folding; "
        "run_folding(asyncio.sleep(0), loop='asyncio'); "
    )
    threshold, frozen = _run(code + REPORT)
    assert threshold == FOLDING_FIRST_THRESHOLD
    assert frozen > 0
