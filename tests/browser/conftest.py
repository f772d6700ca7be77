"""The status page in a real browser (headless Chromium driven by Playwright) against the real
stack: the session's broker and Redis (tests/conftest.py), a projector and the API.

Playwright drives the system's Chromium (``executable_path``): nothing is downloaded. Where no
Chromium is installed every test here is skipped with a reason that says so (``make test``
prints it in its summary); CI installs the browser first (.ci/run).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.api import bearer, running_api
from support.processes import running_projector
from support.settings import isolated_settings

from api.auth import mint_token
from deploystatus.settings import Settings

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Read by tests/conftest.py's summary: the skip reasons that end so are printed after the run.
SKIP_SUFFIX = "browser tests skipped"
NO_CHROMIUM = f"no Chromium at {CHROMIUM} (apt-get install chromium): {SKIP_SUFFIX}"
NO_PLAYWRIGHT = f"no playwright package (pip install -e '.[test]'): {SKIP_SUFFIX}"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NEEDS_LIST = "needs GET /status (issue 26 part 1)"


@dataclass
class Stack:
    """The API (with its projector) the browser talks to, and who the test signs in as."""

    settings: Settings
    base_url: str
    owner: str

    def token(self, user_id: str | None = None) -> str:
        return mint_token(self.settings, user_id or self.owner)

    def url(self, path: str = "/ui") -> str:
        return self.base_url + path


@pytest.fixture
async def settings(kafka, redis_endpoint) -> AsyncIterator[Settings]:
    """Own topics, consumer group and key prefix on the session's broker and Redis."""
    async with isolated_settings(
        kafka.bootstrap_servers,
        kafka.idempotence,
        redis_endpoint.url,
        events_partitions=4,
        watch_heartbeat_seconds=1.0,
    ) as made:
        yield made


@pytest.fixture
async def stack(settings) -> AsyncIterator[Stack]:
    async with running_projector(settings), running_api(settings) as client:
        yield Stack(settings, str(client.base_url).rstrip("/"), str(uuid.uuid4()))


@pytest.fixture
async def list_endpoint(stack) -> None:
    """Skips a test that needs the list endpoint while the API has none."""
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        answer = await client.get("/status", headers=bearer(stack.settings, stack.owner))
    if answer.status_code in (404, 405):
        pytest.skip(NEEDS_LIST)


@pytest.fixture
def chromium() -> Path:
    """The browser's path; skips the test where it or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip(NO_CHROMIUM)
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip(NO_PLAYWRIGHT)
    return CHROMIUM


@pytest.fixture
async def browser(chromium):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser):
    """A fresh browser context's page; at the end, no Content-Security-Policy violation and no
    script error may have happened on it."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )

    async def refuse_dialog(dialog) -> None:
        problems.append(f"dialog opened: {dialog.message}")
        await dialog.dismiss()

    page.on("dialog", refuse_dialog)
    try:
        yield page
    finally:
        await context.close()
    assert not problems, problems
