"""What the levers and profiles say, written into the results: each lever's measured effect
in this run and what to do about it."""

from __future__ import annotations

from bench.read_path import ReadResults
from bench.targets import RunResults

KEEP_THRESHOLD = 0.03  # a lever within 3% of ours is noise on this machine

# Where each lever lives in the code, and what its measurement asks of it.
LEVER_ADVICE = {
    "asyncio+h11": (
        "`deploystatus/cli.py::_api` runs `uvicorn.run(app, host, port)`, whose defaults pick "
        "uvloop and httptools when installed (they are, via `uvicorn[standard]`); pin "
        '`loop="uvloop", http="httptools"` so that a slimmer image cannot fall back silently.'
    ),
    "access log": (
        "`deploystatus/cli.py::_api` leaves uvicorn's access log on (its default): pass "
        "`access_log=False` (or make it a setting) and log only errors; the proxy in front "
        "keeps access logs anyway."
    ),
    "hiredis": (
        "hiredis is already a dependency (`pyproject.toml`); this measures what it pays on the "
        "one-HMGET read path."
    ),
    "token cache": (
        "`api/auth.py::TokenVerifier.verify` keeps verified tokens (raw token -> principal, "
        "until `exp`, LRU of 10k); this variant turns the cache off, i.e. verifies the JWT "
        "on every request as before."
    ),
    "re-serialising": (
        "`api/routes.py::get_status` already serves the stored bytes; this variant shows what "
        "parsing and re-validating through `response_model` would cost. Keep the raw bytes."
    ),
}


def _advice_key(label: str) -> str | None:
    for key in (
        "asyncio+h11",
        "access log",
        "hiredis",
        "token cache",
        "re-serialising",
    ):
        if key in label:
            return key
    return None


def lever_findings(read: ReadResults) -> list[str]:
    if not read.levers:
        return []
    base = read.levers[0]
    lines = []
    for run in read.levers[1:]:
        if "bare" in run.target:
            continue
        change = run.wrk.rps / base.wrk.rps - 1
        cpu = run.server_cpu_ms / base.server_cpu_ms - 1 if base.server_cpu_ms else 0.0
        verdict = "noise" if abs(change) < KEEP_THRESHOLD else ("gain" if change > 0 else "loss")
        key = _advice_key(run.target)
        advice = LEVER_ADVICE.get(key, "") if key else ""
        lines.append(
            f"- **{run.target}**: {change:+.1%} req/s, {cpu:+.1%} server CPU/request vs ours "
            f"({verdict}). {advice}"
        )
    return lines


def findings(results: RunResults, analysis: str) -> str:
    parts = ["## Findings and recommendations", ""]
    if results.read is not None:
        parts += ["### Read-path levers, measured in this run", ""]
        parts += lever_findings(results.read)
        parts.append("")
    parts.append(analysis)
    return "\n".join(parts)
