"""Metrics and logs: Prometheus /metrics on the API (across worker processes) and on the
projector's own port; JSON log lines."""

from __future__ import annotations

import random
import uuid

import httpx
import orjson
from support.api import bearer
from support.processes import start_cli, stop_process
from support.publishing import publish_records
from support.waiting import wait_for

from cli.samples import create_deployment
from devtools.devstack import free_port


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        try:
            response = await client.get(url)
        except httpx.TransportError:
            return ""
        return response.text if response.status_code == 200 else ""


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        if series == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


async def test_projector_metrics_and_json_logs(settings, tmp_path):
    """The projector counts consumed, applied and dead-lettered events on its metrics port,
    names its generation, and logs one JSON object per line."""
    port = free_port()
    settings = settings.replace(projector_metrics_port=port, log_format="json")
    _, events = create_deployment(str(uuid.uuid4()), "web", 2, random.Random(71))
    await publish_records(settings, [(None, None, e) for e in events] + [(b"k", b"bad", None)])
    log = tmp_path / "projector.log"
    process = start_cli(settings, "projector", log=log)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        text = await wait_for(
            lambda: scrape(url),
            lambda t: sample(t, "deploystatus_events_consumed_total") >= len(events) + 1,
            "consumed events in the projector's metrics",
        )
    finally:
        assert stop_process(process) == 0
    assert sample(text, "deploystatus_events_applied_total") == len(events)
    assert sample(text, "deploystatus_events_dead_lettered_total") == 1
    assert sample(text, "deploystatus_projector_cached_states") == 1  # the one deployment
    assert 1 <= sample(text, "deploystatus_documents_written_total") <= len(events)
    assert "deploystatus_projector_generation{" in text
    assert "deploystatus_batch_seconds_bucket" in text
    assert "deploystatus_consumer_lag" in text
    lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert any("dead-lettering" in line["message"] for line in lines)


async def test_api_metrics_across_workers(settings, tmp_path):
    """`deploystatus api --workers 2`: requests are counted by route template and status,
    and /metrics adds up both processes."""
    port = free_port()
    settings = settings.replace(api_port=port)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    process = start_cli(
        settings,
        "api",
        "--workers",
        "2",
        log=tmp_path / "api.log",
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for(lambda: scrape(f"{base}/healthz"), bool, "the API to listen")
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            for _ in range(20):
                await client.get(f"/status/{uuid.uuid4()}")
                await client.get(
                    f"/status/{uuid.uuid4()}", headers=bearer(settings, str(uuid.uuid4()))
                )
        text = await scrape(f"{base}/metrics")
    finally:
        stop_process(process)
    route = "/status/{deployment_id}"
    count = "deploystatus_http_request_seconds_count"
    assert sample(text, count, method="GET", route=route, status="401") == 20
    answered = sum(sample(text, count, method="GET", route=route, status=s) for s in ("404", "503"))
    assert answered == 20
