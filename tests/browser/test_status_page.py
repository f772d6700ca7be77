"""The status page at /ui in headless Chromium against the real stack: sign-in, the owner's
deployments only, live updates without reload, the health chips, the detail view, untrusted
names shown as text, a refused token back to sign-in."""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from support.api import bearer
from support.publishing import publish, replica_change
from support.view import wait_for_view

from cli.samples import SimulatedDeployment, create_deployment
from events.models import Event, new_event

pytestmark = pytest.mark.integration
LIVE_SECONDS = 2  # the bound: a published event shows within 2 s, without reload
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "ui.png"


def expect(target):
    from playwright.async_api import expect

    return expect(target)


async def deployments(
    stack, *specs: tuple[str, str, int], failed: tuple[str, ...] = (), seed: int = 7
) -> dict[str, SimulatedDeployment]:
    """Published and in the view: (owner, name, target replicas), keyed by name; the first
    replica of those named in ``failed`` has failed."""
    rng = random.Random(seed)
    made, events = {}, []
    for owner, name, target in specs:
        dep, created = create_deployment(owner, name, target, rng)
        made[name] = dep
        events += created
    events += [replica_change(made[name], "failed") for name in failed]
    await publish_and_wait(stack, events)
    return made


async def publish_and_wait(stack, events: list[Event]) -> None:
    await publish(stack.settings, events)
    await wait_for_view(stack.settings, events)


def row(page, dep: SimulatedDeployment):
    return page.locator(f'#rows tr[data-id="{dep.deployment_id}"]')


async def open_signed_in(page, stack, user_id: str | None = None) -> None:
    await page.goto(stack.url(f"/ui#token={stack.token(user_id)}"))
    await expect(page.locator("#connection")).to_have_text("live")


async def test_sign_in_by_pasting_a_token_shows_the_owners_deployments_and_no_one_elses(
    page, stack
):
    """A pasted token signs in; the list shows the owner's deployments (name, status, health
    word, running/target, updated ... ago) and not another user's."""
    made = await deployments(
        stack, (stack.owner, "web", 3), (stack.owner, "worker", 2), (str(uuid.uuid4()), "bob", 1)
    )
    await page.goto(stack.url())
    await expect(page.locator("#sign-in")).to_be_visible()
    await page.fill("#token-input", stack.token())
    await page.click("#sign-in-form button[type=submit]")
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator("#rows tr")).to_have_count(2)
    web = row(page, made["web"])
    await expect(web.locator("button.name")).to_have_text("web")
    await expect(web.locator(".status")).to_have_text("running")
    await expect(web.locator(".health-word")).to_have_text("healthy")
    await expect(web.locator(".replicas")).to_have_text("3/3")
    await expect(web.locator("time")).to_have_text(re.compile(r"^updated \d+ (s|min) ago$"))
    await expect(row(page, made["bob"])).to_have_count(0)
    assert await page.evaluate("sessionStorage.getItem('deploystatus.token')") == stack.token()


async def test_the_fragment_token_moves_to_session_storage_and_never_reaches_the_server(
    page, stack
):
    """`/ui#token=...` signs in, the address bar loses the fragment, and no request the page
    makes carries the token in its URL; the API gets it in the Authorization header."""
    await deployments(stack, (stack.owner, "web", 1))
    token = stack.token()
    requests = []
    page.on("request", lambda request: requests.append(request))
    await page.goto(stack.url(f"/ui#token={token}"))
    await expect(page.locator("#connection")).to_have_text("live")
    assert page.url == stack.url("/ui")
    assert await page.evaluate("sessionStorage.getItem('deploystatus.token')") == token
    assert all(token not in request.url for request in requests)
    watch = [r for r in requests if r.url.startswith(stack.url("/status/watch"))]
    assert watch
    assert await watch[0].header_value("authorization") == f"Bearer {token}"


async def test_a_published_event_changes_the_page_within_two_seconds_without_reload(page, stack):
    """A replica failing shows as degraded and 1/2 within 2 s of its publication, on the same
    page (no reload); the live indicator stays on "live"."""
    made = await deployments(stack, (stack.owner, "web", 2))
    await open_signed_in(page, stack)
    web = row(page, made["web"])
    await expect(web.locator(".health-word")).to_have_text("healthy")
    await page.evaluate("window.sameDocument = true")
    started = time.monotonic()
    await publish(stack.settings, [replica_change(made["web"], "failed")])
    await expect(web.locator(".health-word")).to_have_text("degraded", timeout=LIVE_SECONDS * 1000)
    await expect(web.locator(".replicas")).to_have_text("1/2")
    assert time.monotonic() - started < LIVE_SECONDS + 1  # publication included
    assert await page.evaluate("window.sameDocument") is True
    await expect(page.locator("#connection")).to_have_text("live")


async def test_health_chips_filter_the_list_and_follow_the_filtered_stream(
    page, stack, list_endpoint
):
    """The chips show the counts of GET /status; a chip asks the list and the stream for that
    health only, and a deployment that stops matching leaves the list live."""
    made = await deployments(
        stack,
        (stack.owner, "web", 2),
        (stack.owner, "worker", 2),
        (stack.owner, "cron", 1),
        failed=("worker", "cron"),
    )
    requests = []
    page.on("request", lambda request: requests.append(request))
    await open_signed_in(page, stack)
    chips = page.locator("#chips")
    await expect(chips.locator('[data-count="all"]')).to_have_text("3")
    for health in ("healthy", "degraded", "unhealthy"):
        await expect(chips.locator(f'[data-count="{health}"]')).to_have_text("1")
    # Worst first: unhealthy, degraded, healthy.
    await expect(page.locator("#rows button.name")).to_have_text(["cron", "worker", "web"])

    degraded = chips.locator('button[data-health="degraded"]')
    await degraded.click()
    await expect(degraded).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("#rows button.name")).to_have_text(["worker"])
    await expect(page.locator("#connection")).to_have_text("live")
    urls = [r.url for r in requests]
    assert any(u.startswith(stack.url("/status?")) and "health=degraded" in u for u in urls)
    assert any(u.startswith(stack.url("/status/watch?health=degraded")) for u in urls)

    await publish(stack.settings, [replica_change(made["worker"], "running")])
    await expect(page.locator("#rows tr")).to_have_count(0, timeout=LIVE_SECONDS * 1000)
    await expect(chips.locator('[data-count="healthy"]')).to_have_text("2")
    await expect(chips.locator('[data-count="degraded"]')).to_have_text("0")

    await chips.locator('button[data-health=""]').click()
    await expect(page.locator("#rows tr")).to_have_count(3)
    await page.fill("#search", "WOR")
    await expect(page.locator("#rows button.name")).to_have_text(["worker"])


async def test_the_detail_view_shows_replicas_resources_and_recent_changes_live(page, stack):
    """Clicking a deployment opens its document: replicas with node, container, started and
    stopped, the resources, the recent status changes; a change updates it in place."""
    made = await deployments(stack, (stack.owner, "web", 2), (stack.owner, "worker", 1))
    web = made["web"]
    await open_signed_in(page, stack)
    await row(page, web).locator("button.name").click()
    detail = page.locator("#detail")
    await expect(detail).to_be_visible()
    await expect(page.locator("#detail-title")).to_have_text("web")
    replicas = page.locator("#detail-replicas tr")
    await expect(replicas).to_have_count(2)
    first = replicas.nth(0).locator("td")
    await expect(first.nth(1)).to_have_text("running")
    await expect(first.nth(2)).to_have_attribute("title", re.compile(r"^[0-9a-f-]{36}$"))
    await expect(first.nth(3)).to_have_attribute("title", re.compile(r"^ctr-"))
    await expect(first.nth(4)).to_have_text(re.compile(r"^\d+ s ago$"))
    await expect(first.nth(5)).to_have_text("—")
    resources = page.locator("#detail-resources")
    await expect(resources).to_contain_text("CPU cores")
    await expect(resources).to_contain_text("1024 MB")
    changes = page.locator("#detail-changes li")
    await expect(changes.first).to_contain_text("scheduled → running")
    assert await changes.count() <= 10

    await publish(stack.settings, [replica_change(web, "failed")])
    await expect(page.locator("#detail-summary")).to_contain_text(
        "degraded", timeout=LIVE_SECONDS * 1000
    )
    await expect(page.locator("#detail-replicas")).to_contain_text("failed")


async def test_a_name_made_of_markup_is_shown_as_text(page, stack):
    """A deployment named `<img src=x onerror=alert(1)>` is shown as those characters, in the
    list and in the detail view: no element is made of it and no script runs."""
    name = "<img src=x onerror=alert(1)>"
    made = await deployments(stack, (stack.owner, name, 1))
    await open_signed_in(page, stack)
    button = row(page, made[name]).locator("button.name")
    await expect(button).to_have_text(name)
    await button.click()
    await expect(page.locator("#detail-title")).to_have_text(name)
    assert await page.locator("img").count() == 0
    # The page fixture fails the test on any dialog, script error or CSP violation.


async def test_a_refused_token_returns_to_sign_in(page, stack):
    """A token the API refuses (bad signature, or garbage) lands on the sign-in form with a
    message, and is dropped from sessionStorage."""
    await deployments(stack, (stack.owner, "web", 1))
    for token in ("not-a-jwt", stack.token() + "x"):
        await page.goto(stack.url("/ui") + "#token=" + token)
        await expect(page.locator("#sign-in")).to_be_visible()
        await expect(page.locator("#sign-in-message")).to_contain_text("refused")
        await expect(page.locator("#dashboard")).to_be_hidden()
        assert await page.evaluate("sessionStorage.getItem('deploystatus.token')") is None


async def test_a_cut_stream_shows_reconnecting_and_resumes_with_last_event_id(page, stack):
    """A stream that ends shows "reconnecting…"; the page reopens it with the Last-Event-ID
    of the last event it got and is "live" again."""
    made = await deployments(stack, (stack.owner, "web", 1))
    web = made["web"]
    async with httpx.AsyncClient(base_url=stack.base_url) as client:
        document = (
            await client.get(
                f"/status/{web.deployment_id}", headers=bearer(stack.settings, stack.owner)
            )
        ).text
    last_id = f"{web.deployment_id}@999"
    resumed: list[str | None] = []

    async def cut_the_first_stream(route) -> None:
        if not resumed:
            resumed.append(None)
            body = f"id: {last_id}\nevent: status\ndata: {document}\n\n"
            await route.fulfill(status=200, content_type="text/event-stream", body=body)
        else:
            resumed.append(await route.request.header_value("last-event-id"))
            await route.continue_()

    await page.route("**/status/watch*", cut_the_first_stream)
    await page.goto(stack.url(f"/ui#token={stack.token()}"))
    await expect(page.locator("#connection")).to_have_text("reconnecting…")
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(row(page, web)).to_have_count(1)
    assert resumed[1] == last_id


async def test_a_deployment_deleted_while_the_stream_was_cut_goes_after_the_resume(page, stack):
    """A resumed stream does not announce what was deleted while it was away: the page reads
    the list again on the resume, and the deleted deployment's row goes."""
    made = await deployments(stack, (stack.owner, "web", 1), (stack.owner, "gone", 1))
    deleted_meanwhile = asyncio.Event()
    streams: list[int] = []

    async def cut_the_first_stream_hold_the_second(route) -> None:
        streams.append(1)
        if len(streams) == 1:
            await route.fulfill(status=200, content_type="text/event-stream", body=": cut\n\n")
            return
        await deleted_meanwhile.wait()
        await route.continue_()

    await page.route("**/status/watch*", cut_the_first_stream_hold_the_second)
    await page.goto(stack.url(f"/ui#token={stack.token()}"))
    await expect(row(page, made["gone"])).to_have_count(1)  # from GET /status
    await expect(page.locator("#connection")).to_have_text("reconnecting…")
    deleted = new_event("deployment.deleted", made["gone"].deployment_id, {})
    await publish_and_wait(stack, [deleted])
    deleted_meanwhile.set()
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(row(page, made["gone"])).to_have_count(0)
    await expect(row(page, made["web"])).to_have_count(1)


async def test_screenshot_of_the_page_on_demo_data(page, stack, tmp_path):
    """The README's picture: the demo's deployments, one degraded and one unhealthy, with a
    detail open. Written to docs/ui.png when UPDATE_UI_SCREENSHOT=1."""
    made = await deployments(
        stack,
        (stack.owner, "web", 3),
        (stack.owner, "worker", 2),
        (stack.owner, "cron", 1),
        (stack.owner, "api-gateway", 2),
        (str(uuid.uuid4()), "billing", 2),
        failed=("worker", "cron"),
    )
    await page.set_viewport_size({"width": 1440, "height": 720})
    await open_signed_in(page, stack)
    await expect(page.locator("#rows tr")).to_have_count(4)
    await row(page, made["worker"]).locator("button.name").click()
    await expect(page.locator("#detail-replicas tr")).to_have_count(2)
    shot = await page.screenshot(full_page=True)
    assert shot.startswith(b"\x89PNG")
    (tmp_path / "ui.png").write_bytes(shot)
    if os.environ.get("UPDATE_UI_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(shot)
