"""The read path we replace: the seed's ``GET /status/{id}`` with four SQLAlchemy queries per
request, its health computation and its response, as a bench-only FastAPI app.

Faithful to the seed except in two places, both so that the answers can be compared with our
API's byte for byte after parsing: timestamps are rendered as UTC with microseconds and ``Z``
(the seed's ``isoformat()`` gives ``+00:00``), and the token check is our ``TokenVerifier``
(without our verified-token cache, as the seed verified every request; the seed also
looked the user up in the database).
"""

# No `from __future__ import annotations`: FastAPI must resolve the dependencies declared
# on routes defined inside the factory, which string annotations would hide.
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from api.auth import TokenVerifier
from api.exceptions import NotAuthenticated
from bench.infra.sql_models import (
    Deployment,
    DeploymentReplica,
    DeploymentResource,
    DeploymentStatusHistory,
)
from deploystatus.settings import Settings

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False)
POOL_SIZE = 20


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seed_health(replicas: list[DeploymentReplica], target_replicas: int) -> str:
    """The seed's health rules, as written there (not shared with ``projector.core.health``)."""
    health_status = "healthy"
    if replicas:
        running_count = sum(1 for r in replicas if r.status == "running")
        failed_count = sum(1 for r in replicas if r.status == "failed")
        if failed_count > 0 or running_count < target_replicas:
            health_status = "degraded"
        if failed_count == len(replicas) or running_count == 0:
            health_status = "unhealthy"
    else:
        health_status = "unhealthy"
    return health_status


def create_sql_app(settings: Settings, dsn: str | None = None) -> FastAPI:
    # No verified-token cache: the seed verified every request's token.
    verifier = TokenVerifier(settings, cache_size=0)
    url = (dsn or os.environ["BENCH_PG_DSN"]).replace("postgresql://", "postgresql+asyncpg://")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=0)
        app.state.sessions = async_sessionmaker(engine, expire_on_commit=False)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
        async with request.app.state.sessions() as session:
            yield session

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> uuid.UUID:
        try:
            if credentials is None:
                raise NotAuthenticated("no bearer token")
            principal = await verifier.verify(credentials.credentials)
            return uuid.UUID(principal.user_id)
        except NotAuthenticated:
            raise HTTPException(status_code=401, detail="Not authenticated") from None

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/status/{deployment_id}")
    async def get_deployment_status(
        deployment_id: str,
        db: Annotated[AsyncSession, Depends(get_db)],
        user_id: Annotated[uuid.UUID, Depends(current_user)],
    ) -> dict[str, Any]:
        try:
            deployment_uuid = uuid.UUID(deployment_id)
        except ValueError:
            raise HTTPException(status_code=404, detail="Invalid deployment ID format") from None
        deployment = (
            await db.execute(
                select(Deployment).where(
                    and_(
                        Deployment.id == deployment_uuid,
                        Deployment.user_id == user_id,
                        Deployment.deleted_at.is_(None),
                    )
                )
            )
        ).scalar_one_or_none()
        if deployment is None:
            raise HTTPException(
                status_code=404,
                detail=f"Deployment {deployment_id} not found or access denied",
            )
        replicas = list(
            (
                await db.execute(
                    select(DeploymentReplica).where(
                        DeploymentReplica.deployment_id == deployment_uuid
                    )
                )
            )
            .scalars()
            .all()
        )
        resources = (
            await db.execute(
                select(DeploymentResource).where(
                    DeploymentResource.deployment_id == deployment_uuid
                )
            )
        ).scalar_one_or_none()
        history = (
            (
                await db.execute(
                    select(DeploymentStatusHistory)
                    .where(DeploymentStatusHistory.deployment_id == deployment_uuid)
                    .order_by(DeploymentStatusHistory.changed_at.desc())
                    .limit(10)
                )
            )
            .scalars()
            .all()
        )
        health_status = seed_health(replicas, deployment.target_replicas)
        response = {
            "deployment_id": str(deployment.id),
            "name": deployment.name,
            "status": deployment.status,
            "health": health_status,
            "target_replicas": deployment.target_replicas,
            "replicas": [
                {
                    "id": str(r.id),
                    "node_id": str(r.node_id) if r.node_id else None,
                    "status": r.status,
                    "container_id": r.container_id,
                    "started_at": iso(r.started_at),
                    "stopped_at": iso(r.stopped_at),
                }
                for r in replicas
            ],
            "resources": {
                "cpu_cores": resources.cpu_cores if resources else 0.0,
                "memory_mb": resources.memory_mb if resources else 0,
                "gpu_units": resources.gpu_units if resources else 0,
                "storage_gb": resources.storage_gb if resources else 0,
            },
            "recent_status_changes": [
                {
                    "old_status": h.old_status,
                    "new_status": h.new_status,
                    "changed_at": iso(h.changed_at),
                    "reason": h.reason,
                }
                for h in history
            ],
            "created_at": iso(deployment.created_at),
            "updated_at": iso(deployment.updated_at),
        }
        # The seed logged every read at INFO; kept, and cheap while INFO is off.
        log.info(
            "Retrieved deployment status for %s: status=%s, health=%s, replicas=%d/%d",
            deployment.name,
            deployment.status,
            health_status,
            len(replicas),
            deployment.target_replicas,
        )
        return response

    return app
