"""What the levers and profiles say, written into the results: each lever's measured effect
in this run and what to do about it."""

from __future__ import annotations

from bench.infra.servers import LoadRun
from bench.report.targets import RunResults

KEEP_THRESHOLD = 0.03  # a lever within 3% of ours is noise on this machine

# Where each lever lives in the code, and what its measurement asks of it.
LEVER_ADVICE = {
    "asyncio+h11": (
        '`cli/main.py::_api` pins `loop="uvloop", http="httptools"`, so a slimmer '
        "image cannot fall back to these silently."
    ),
    "granian": (
        "granian (a Rust HTTP server; one worker, one runtime thread, uvloop) in place of "
        "uvicorn with httptools; `cli/main.py::_api` runs uvicorn. Compare with the "
        "bare endpoint on granian, the ceiling it would set."
    ),
    "access log": (
        "uvicorn's access log is off by default (`API_ACCESS_LOG`); the proxy in front keeps "
        "access logs anyway."
    ),
    "hiredis": (
        "hiredis parses replies (and, since issue 7, packs the projector's commands: "
        "`deploystatus/view/client.py::HiredisPackingConnection`); on the read path, with "
        "most reads answered from the document cache, there is little left for it to do."
    ),
    "token cache": (
        "`api/auth.py::TokenVerifier.verify` keeps verified tokens (raw token -> principal, "
        "until `exp`, LRU of 10k); this variant verifies the JWT on every request."
    ),
    "document cache": (
        "`api/document_cache.py` answers an owner's repeated read without Redis until the "
        "projector's change notification drops it; this variant reads Redis every time."
    ),
    "default collector": (
        "`deploystatus/collector.py` freezes what an API process holds at start-up and "
        "raises the collector's first threshold, so that the objects of the requests in "
        "progress are freed before a collection promotes them; this variant keeps CPython's "
        "700, whose full collections then pause the process every fraction of a second."
    ),
    "re-serialising": (
        "`api/routes.py::get_status` serves the stored bytes; this variant shows what parsing "
        "and re-validating through `response_model` would cost."
    ),
}


def _advice_key(label: str) -> str | None:
    return next((key for key in LEVER_ADVICE if key in label), None)


def lever_findings(levers: list[LoadRun]) -> list[str]:
    """Each lever's effect against the first run of ``levers``, ours as it is."""
    if not levers:
        return []
    base = levers[0]
    lines = []
    for run in levers[1:]:
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


# The findings behind the defaults are maintained in one document, not repeated per run.
PERFORMANCE_DOC = (
    "What these figures mean, and the reasons behind the defaults: `docs/performance.md`."
)


def findings(results: RunResults) -> str:
    parts = ["## Findings and recommendations", ""]
    if results.read is not None:
        parts += ["### Read-path levers, measured in this run", ""]
        parts += lever_findings(results.read.levers)
        parts += lever_findings(results.read.list_levers)
        parts.append("")
    parts.append(PERFORMANCE_DOC)
    return "\n".join(parts)
