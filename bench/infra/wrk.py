"""Driving ``wrk`` (the Debian package): a Lua script that sends each request for a random
(deployment, token) pair, and the figures it prints when done.

Why wrk and not a Python client: on a 2-core machine the load generator shares the CPU with
the server, and wrk (C, LuaJIT, one thread) needs a fraction of what an asyncio client needs
per request, so the server gets more of the machine and the ceiling measured is the server's.
The requests are prebuilt in Lua at start-up; each one picks a line at random.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MARKER = "BENCH_JSON "

_SCRIPT = r"""
local requests = {}
function init(args)
  local prefix = args[1]
  for line in io.lines(args[2]) do
    local id, token = line:match("^(%S+) (%S+)$")
    requests[#requests + 1] = wrk.format("GET", prefix .. id,
      {["Authorization"] = "Bearer " .. token})
  end
  math.randomseed(os.time() + tonumber(tostring(requests):sub(-6), 16))
end
@REQUEST@
@DELAY@
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@MARKER@{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"""
_DELAY = "function delay() return %d end"
_RANDOM = "function request() return requests[math.random(#requests)] end"
# Every target once, in order, then again: the warm-up pass.
_SEQUENTIAL = """local next_index = 0
function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end"""


class WrkMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # socket errors and non-2xx/3xx answers
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkMissing(
            "the read benchmark needs wrk: install the Debian package `wrk` "
            "(apt-get install wrk), or run `python -m bench --only projector` etc. without it"
        )
    return found


def write_script(directory: Path, delay_ms: int, sequential: bool = False) -> Path:
    path = directory / f"status-{delay_ms}{'-sequential' if sequential else ''}.lua"
    delay = _DELAY % delay_ms if delay_ms > 0 else ""
    script = _SCRIPT.replace("@DELAY@", delay).replace("@MARKER@", MARKER)
    path.write_text(script.replace("@REQUEST@", _SEQUENTIAL if sequential else _RANDOM))
    return path


def run_wrk(
    url: str,
    prefix: str,
    targets: Path,
    *,
    seconds: int,
    connections: int,
    work_dir: Path,
    delay_ms: int = 0,
    sequential: bool = False,
) -> WrkResult:
    """One bounded wrk run (``-d seconds``, 5 s timeout per request) against ``url``; each
    request for a random target, or ``sequential``: every target in turn."""
    script = write_script(work_dir, delay_ms, sequential)
    command = [
        wrk_binary(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
        "--",
        prefix,
        str(targets),
    ]
    done = subprocess.run(  # noqa: S603 - wrk with arguments built here
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix(MARKER))
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=errors,
        p50_ms=raw["p50"] / 1000,
        p90_ms=raw["p90"] / 1000,
        p99_ms=raw["p99"] / 1000,
        p999_ms=raw["p999"] / 1000,
        max_ms=raw["max"] / 1000,
    )
