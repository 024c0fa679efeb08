"""What the page's routes accept: a request body of at most `limits.MAX_PAGE_BODY_BYTES`, and uploads only of
images (and CSV files of rows, on a page that takes them), only on a page with a component that takes them.

Gradio's `/gradio_api/upload` stores any file, several per request, and `/gradio_api/component_server` reads every
file of a request into memory; neither knows what the page's components accept. `PageGuard` (ASGI middleware in
front of the page) refuses a body over the limit as it arrives (413), refuses uploads on a page without an image
component (403), and deletes and refuses (415) an uploaded file that is not an image within `shared.images`'s
limits, or (on a page of `csv`) a `.csv` within `shared.csv_rows`'s. What is accepted is deleted after
`limits.CACHE_MAX_AGE_S` by Gradio's `delete_cache` (`shared.ui.page`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

import shared.limits as limits
from shared.errors import InputError

logger = logging.getLogger(__name__)
UPLOAD_ROUTE = "/gradio_api/upload"


class _TooLarge(Exception):
    pass


async def _refuse(send: Send, status: int, message: str) -> None:
    body = message.encode("utf-8")
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def check_uploaded_image(path: str) -> None:
    """Raise InputError unless the file at `path` is an image `shared.images` would decode (its header only)."""
    from shared.images import open_image  # the page's own decoder, limits and messages

    open_image(path).close()


def check_uploaded_csv(path: str) -> None:
    """Raise InputError unless the file at `path` is a .csv `shared.csv_rows` would read (size, text, encoding)."""
    from shared.csv_rows import read_csv_text  # the page's own reader, limits and messages

    read_csv_text(Path(path))


def check_upload(path: str, *, takes_csv: bool) -> None:
    """Raise InputError unless the file at `path` is an image within the limits or, on a page that `takes_csv`, a
    .csv file of rows within them."""
    if takes_csv and path.lower().endswith(".csv"):
        check_uploaded_csv(path)
        return
    try:
        check_uploaded_image(path)
    except InputError as error:
        if not takes_csv:
            raise
        raise InputError(f"this page takes a .csv file of rows (or an image where it asks for one); {error}") from None


class PageGuard:
    """ASGI middleware: body limit for every page request, and uploads restricted to images (see the module)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        uploads: tuple[str, ...] = ("/",),
        csv: tuple[str, ...] = (),
        max_body_bytes: int = limits.MAX_PAGE_BODY_BYTES,
    ) -> None:
        """`uploads`: the path prefixes of the pages that take files (none: no page does); `csv`: those of the pages
        that take .csv files of rows too (the others take images only)."""
        self.app = app
        self.uploads = uploads
        self.csv = csv
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard one ASGI call."""
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        too_large = f"The request is too large: at most {limit:,} bytes."
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and (len(value) > 18 or int(value) > limit):
                await _refuse(send, 413, too_large)
                return
        upload = scope["path"].endswith(UPLOAD_ROUTE)
        if upload and not scope["path"].startswith(self.uploads):
            await _refuse(send, 403, "This page takes no files.")
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            if upload:
                await self._upload(scope, counted_receive, send)
            else:
                await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await _refuse(send, 413, too_large)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Gradio's upload, its answer held back until every file it stored is checked."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        start = next((m for m in held if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        if start is not None and start["status"] == 200:
            try:
                paths = [str(path) for path in json.loads(body)]
            except (ValueError, TypeError):
                paths = []
            try:
                for path in paths:
                    check_upload(path, takes_csv=scope["path"].startswith(self.csv))
            except InputError as error:
                for path in paths:
                    with contextlib.suppress(OSError):
                        Path(path).unlink()
                await _refuse(send, 415, f"The upload was refused: {error}")
                return
        for message in held:
            await send(message)
