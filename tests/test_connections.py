"""Slow or greedy clients (shared/connections.py): stalled headers and bodies are dropped, good requests are still
answered meanwhile, and a body the app is not reading yet is never held against the client."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import serving
from starlette.types import Receive, Scope, Send

import shared.limits as limits

pytestmark = [pytest.mark.integration]


async def echo_size(scope: Scope, receive: Receive, send: Send) -> None:
    """A tiny app: reads the whole body, answers its size."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setattr(limits, "HEADER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(limits, "BODY_GRACE_S", 0.5)
    with serving(echo_size, guarded=True) as url:
        yield url


def connect(base: str, data: bytes) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(data)
    sock.settimeout(10)
    return sock


def dropped(sock: socket.socket) -> bool:
    """Whether the server closed the connection (waits up to the socket's timeout)."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    finally:
        sock.close()


def test_stalled_headers_and_bodies_are_dropped_while_good_requests_are_answered(base: str) -> None:
    silent = [connect(base, b"") for _ in range(20)]
    slow_headers = [connect(base, b"POST / HTTP/1.1\r\nHost: x\r\n") for _ in range(20)]
    slow_bodies = [connect(base, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123") for _ in range(20)]
    start = time.monotonic()
    assert httpx.post(base, content=b"x" * 100_000, timeout=10).text == "100000"
    assert all(dropped(sock) for sock in silent + slow_headers + slow_bodies)
    assert time.monotonic() - start < 8  # deadlines of 0.5 s here; a connection is never held for long


def test_a_client_sending_in_time_is_kept(base: str) -> None:
    sock = connect(base, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc")
    time.sleep(0.2)  # within BODY_GRACE_S
    sock.sendall(b"def")
    assert sock.recv(1024).endswith(b"\r\n\r\n6")
    sock.close()
