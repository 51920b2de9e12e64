"""The web dashboard: ``/`` and the static files under ``/static``, no build step.

Plain ES modules and CSS shipped in the package (``api/static``). Nothing here needs an
API key: the page holds no data; its scripts call the API with the key the user enters.
The file names carry no content hash, so the browser revalidates each file (ETag,
answered 304 when unchanged) instead of caching it blindly across an upgrade.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
REVALIDATE = "no-cache"  # may be stored, but must be revalidated before each use
# Scripts, styles and requests only from this origin; images also as data:/blob: URLs
# (previews of the image a user picks to embed).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Cache-Control": REVALIDATE,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class RevalidatedStaticFiles(StaticFiles):
    """StaticFiles whose answers (200 or 304) say ``Cache-Control: no-cache``."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = REVALIDATE
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


router = APIRouter(include_in_schema=False)
router.mount("/static", RevalidatedStaticFiles(directory=STATIC_DIR), name="static")


@router.get("/")
def index() -> FileResponse:
    """The dashboard's single page; its hash router draws jobs, models, datasets, submit."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)
