"""Loading the SQL baseline's database from the folded data set (tables dropped and
recreated every run), with COPY so that setup stays a few seconds."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine

from bench.data.expected import Folded
from bench.infra.services import PG_ADMIN_DSN, PG_DATABASE, PG_DSN
from bench.infra.sql_models import Base


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def ensure_database() -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", PG_DATABASE)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{PG_DATABASE}"')
    finally:
        await admin.close()


async def recreate_tables() -> None:
    engine = create_async_engine(PG_DSN.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
    finally:
        await engine.dispose()


async def load(folded: Folded) -> dict[str, int]:
    """Fill the four tables; returns the row count of each."""
    await ensure_database()
    await recreate_tables()
    deployments, replicas, resources, history = [], [], [], []
    for dep_id, state in folded.states.items():
        if not state.created:
            continue
        dep = uuid.UUID(dep_id)
        deployments.append(
            (
                dep,
                state.name,
                uuid.UUID(state.owner) if state.owner else None,
                state.status,
                state.target_replicas,
                _time(state.created_at),
                _time(state.updated_at),
                _time(state.updated_at) if state.deleted else None,
            )
        )
        # Inserted in the view's order; the seed's query has no ORDER BY, and on a freshly
        # loaded table the index returns equal keys in insertion order (checked by the run).
        for r in state.replicas:
            replicas.append(
                (
                    uuid.UUID(r.id),
                    dep,
                    uuid.UUID(r.node_id) if r.node_id else None,
                    r.status,
                    r.container_id,
                    _time(r.started_at),
                    _time(r.stopped_at),
                )
            )
        res = state.resources
        resources.append(
            (len(resources) + 1, dep, res.cpu_cores, res.memory_mb, res.gpu_units, res.storage_gb)
        )
        for row in folded.history.get(dep_id, []):
            history.append(
                (
                    len(history) + 1,
                    dep,
                    row.old_status,
                    row.new_status,
                    _time(row.changed_at),
                    row.reason,
                )
            )
    conn = await asyncpg.connect(PG_DSN)
    try:
        for table, rows in (
            ("deployments", deployments),
            ("deployment_replicas", replicas),
            ("deployment_resources", resources),
            ("deployment_status_history", history),
        ):
            await conn.copy_records_to_table(table, records=rows)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return {
        "deployments": len(deployments),
        "deployment_replicas": len(replicas),
        "deployment_resources": len(resources),
        "deployment_status_history": len(history),
    }
