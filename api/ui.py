"""The status page at /ui: static HTML, CSS and JavaScript shipped in the package (no build
step, nothing from the internet), served with headers that let the browser run only them."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

# No inline script or style and no other origin: deployment names are untrusted input, and
# whatever slipped into the page as markup could not run.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
UI_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # Revalidated on every load: a new release's page never runs with the old script.
    "Cache-Control": "no-cache",
}
_ASSETS = {
    "/ui": ("index.html", "text/html; charset=utf-8"),
    "/ui/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/ui/style.css": ("style.css", "text/css; charset=utf-8"),
}


def ui_router() -> APIRouter:
    """The page's routes, its files read once here (from the installed package)."""
    router = APIRouter()
    files = resources.files("api") / "static"
    for path, (name, media_type) in _ASSETS.items():
        body = (files / name).read_bytes()

        async def serve(
            request: Request, body: bytes = body, media_type: str = media_type
        ) -> Response:
            return Response(body, media_type=media_type, headers=UI_HEADERS)

        router.add_route(path, serve, methods=["GET", "HEAD"], include_in_schema=False)
    return router
