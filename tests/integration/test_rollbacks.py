"""Redis goes back in time under running projectors: it is restarted from an older snapshot
on the same address, as a restart from the last RDB or a failover to a lagging replica does,
while Kafka holds the offsets committed for the writes it lost. The projectors notice, say
so once, and read the lost stretch again: afterwards the view is the fold of the whole log."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from support.api import bearer, running_api
from support.processes import ProjectorFleet, run_cli, running_projector
from support.publishing import publish
from support.topics import committed_offsets
from support.view import wait_for_view
from support.waiting import wait_for
from test_crash_recovery import scenario

from devtools.devstack import EmbeddedRedis, start_redis, start_redis_cluster

pytestmark = pytest.mark.long
ROLLBACKS = "deploystatus_view_rollbacks_total"


class SnapshotRedis:
    """A redis-server that can be snapshotted and later restarted from that snapshot."""

    def __init__(self, directory: Path, extra: list[str] | None = None, port: int | None = None):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._extra = [*(extra or []), "--dir", str(directory)]
        self.server: EmbeddedRedis = start_redis(port=port, log_dir=directory, extra=self._extra)

    @property
    def url(self) -> str:
        return self.server.url

    def snapshot(self) -> None:
        import redis

        with redis.Redis(host="127.0.0.1", port=self.server.port) as client:
            client.save()
        shutil.copy(self.directory / "dump.rdb", self.directory / "snapshot.rdb")

    def restart_from_snapshot(self) -> None:
        """Kill -9 (nothing saved on the way out), then start from the snapshot."""
        self.server.process.kill()
        self.server.process.wait()
        shutil.copy(self.directory / "snapshot.rdb", self.directory / "dump.rdb")
        port = self.server.port
        self.server = start_redis(port=port, log_dir=self.directory, extra=self._extra)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def snapshot_redis(settings, tmp_path):
    server = SnapshotRedis(tmp_path / "redis")
    try:
        yield server, settings.replace(redis_url=server.url)
    finally:
        server.stop()


def in_thirds(events):
    third = len(events) // 3
    return events[:third], events[third : 2 * third], events[2 * third :]


async def fold_and_commit(settings, events) -> None:
    """Wait until ``events`` are in the view and their offsets committed."""
    await wait_for_view(settings, events)
    await wait_for(
        lambda: committed_offsets(settings),
        lambda offsets: sum(offsets.values()) == len(events),
        "the commit of every offset",
    )


def rollbacks() -> float:
    return REGISTRY.get_sample_value(ROLLBACKS) or 0.0


async def test_a_restart_from_an_older_snapshot_is_repaired_without_restarting(
    snapshot_redis, caplog
):
    """Redis restarted from an older RDB under a running projector: one error line, the
    rollback counted, the API serving all along, and then the fold of the whole log."""
    server, settings = snapshot_redis
    events = scenario(seed=61, deployments=200, changes=400)
    before, lost, after = in_thirds(events)
    some = events[0]
    owner, url = str(some.data.user_id), f"/status/{some.deployment_id}"
    counted = rollbacks()

    async with running_projector(settings), running_api(settings) as client:
        await publish(settings, before)
        await fold_and_commit(settings, before)
        server.snapshot()
        await publish(settings, lost)
        await fold_and_commit(settings, before + lost)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            server.restart_from_snapshot()
            # Readers get the older documents meanwhile, never an error.
            response = await client.get(url, headers=bearer(settings, owner))
            assert response.status_code in (200, 503)  # 503 only while Redis loads its RDB
            await publish(settings, after)
            await wait_for_view(settings, events)
            assert (await client.get(url, headers=bearer(settings, owner))).status_code == 200

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors if "went back in time" in r.getMessage()] == [
        next(r.getMessage() for r in errors if "went back in time" in r.getMessage())
    ], "one error line"
    assert rollbacks() == counted + 1
    verified = await run_cli(settings, "verify")
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


async def test_a_rollback_while_no_projector_runs_is_repaired_on_assignment(snapshot_redis, caplog):
    """Redis rolled back while the projector was stopped: on its next start the committed
    offsets ahead of the view's are noticed on assignment and the lost stretch read again."""
    server, settings = snapshot_redis
    events = scenario(seed=62, deployments=100, changes=300)
    before, lost, after = in_thirds(events)
    counted = rollbacks()
    async with running_projector(settings):
        await publish(settings, before)
        await fold_and_commit(settings, before)
        server.snapshot()
        await publish(settings, lost)
        await fold_and_commit(settings, before + lost)
    server.restart_from_snapshot()
    await publish(settings, after)
    with caplog.at_level(logging.ERROR):
        async with running_projector(settings):
            await wait_for_view(settings, events)
    messages = [r.getMessage() for r in caplog.records]
    assert any("lacks events its consumer group committed" in m for m in messages)
    assert rollbacks() == counted + 1


async def test_a_rollback_under_two_projectors_and_a_killed_one_is_repaired(
    snapshot_redis, tmp_path
):
    """Two projector processes share the partitions; Redis goes back in time and one of
    them is killed right after: the survivors and a restarted one repair the whole view."""
    server, settings = snapshot_redis
    events = scenario(seed=63, deployments=150, changes=450)
    before, lost, after = in_thirds(events)
    await publish(settings, before)
    fleet = ProjectorFleet(settings, tmp_path)
    fleet.start("a")
    fleet.start("b")
    try:
        await fold_and_commit(settings, before)
        server.snapshot()
        await publish(settings, lost)
        await fold_and_commit(settings, before + lost)
        server.restart_from_snapshot()
        fleet.kill("a")
        await publish(settings, after)
        fleet.start("c")
        await wait_for_view(settings, events, patience=90)
    finally:
        codes = fleet.stop_all()
    assert set(codes.values()) == {0}
    logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
    assert "went back in time" in logs or "lacks events its consumer group committed" in logs


async def test_a_cluster_shard_restarted_from_an_older_snapshot_is_repaired(
    settings, tmp_path, caplog
):
    """On a Redis Cluster, one master restarted from an older RDB (its peers untouched):
    the projector notices, reads its partitions again, and serves the fold of the log."""
    cluster = start_redis_cluster(3, log_dir=tmp_path)
    try:
        settings = settings.replace(redis_url=cluster.url)
        node = cluster.nodes[1]
        shard = SnapshotRedis.__new__(SnapshotRedis)
        shard.directory = tmp_path / "node1"
        shard._extra = ["--cluster-enabled", "yes", "--dir", str(shard.directory)]
        shard.server = node
        events = scenario(seed=64, deployments=200, changes=400)
        before, lost, after = in_thirds(events)
        counted = rollbacks()
        async with running_projector(settings):
            await publish(settings, before)
            await fold_and_commit(settings, before)
            shard.snapshot()
            await publish(settings, lost)
            await fold_and_commit(settings, before + lost)
            with caplog.at_level(logging.ERROR):
                shard.restart_from_snapshot()
                cluster.nodes[1] = shard.server
                await publish(settings, after)
                await wait_for_view(settings, events, patience=90)
        assert rollbacks() == counted + 1
        assert any("went back in time" in r.getMessage() for r in caplog.records)
        verified = await run_cli(settings, "verify")
        assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
    finally:
        cluster.stop()
