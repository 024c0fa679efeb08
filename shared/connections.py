"""Slow or greedy clients cannot hold the server: uvicorn's HTTP protocol with deadlines on what a client sends.

uvicorn closes idle keep-alive connections, but waits forever for a request's headers or body. `GuardedProtocol`
(uvicorn's own protocol, httptools or h11, plus a timer per connection) closes a connection whose request headers
are not complete `limits.HEADER_TIMEOUT_S` after its first byte (or after the connection opened), or whose body
falls behind `limits.BODY_GRACE_S` plus one second per `limits.MIN_BODY_RATE` bytes received. Time the server
itself takes (the app computing, or not reading the body yet) never counts against the client.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from typing import Any

import shared.limits as limits

logger = logging.getLogger(__name__)


class _Deadlines:
    """The timer a connection carries: mixed into one of uvicorn's HTTP protocol classes."""

    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any
    flow: Any
    dropped = 0  # connections closed for being too slow, in this process

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock on the first request's headers."""
        super().connection_made(transport)  # type: ignore[misc]
        self._request_cycle: Any = None
        self._request_start: float | None = self.loop.time()
        self._headers_done = 0.0
        self._body_bytes = 0
        self._timer: asyncio.TimerHandle | None = self.loop.call_later(limits.HEADER_TIMEOUT_S, self._check)

    def data_received(self, data: bytes) -> None:
        """Note when a request starts, when its headers are complete and how much of its body came."""
        cycle = self.cycle
        idle = cycle is None or cycle.response_complete
        if idle and self._request_start is None:
            self._request_start = self.loop.time()  # the first byte of the next request on this connection
        super().data_received(data)  # type: ignore[misc]
        if self.cycle is not cycle and self.cycle is not None:  # its headers were complete in this data
            self._request_start = None
            self._headers_done = self.loop.time()
            self._body_bytes = len(data)
        elif not idle:
            self._body_bytes += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    def _deadline(self) -> float | None:
        """When the client must have sent what it owes now, or None when it owes nothing."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return None if self._request_start is None else self._request_start + limits.HEADER_TIMEOUT_S
        if cycle.more_body and not self.flow.read_paused:  # paused: the app is not reading, not the client's fault
            return self._headers_done + limits.BODY_GRACE_S + self._body_bytes / limits.MIN_BODY_RATE
        return None

    def _check(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:  # closed, or upgraded
            return
        now = self.loop.time()
        deadline = self._deadline()
        if deadline is not None and now >= deadline:
            _Deadlines.dropped += 1
            self.transport.close()
            return
        wake = deadline if deadline is not None else now + limits.HEADER_TIMEOUT_S
        self._timer = self.loop.call_at(wake, self._check)


def _guarded(base: type) -> type:
    return type(f"Guarded{base.__name__}", (_Deadlines, base), {"__doc__": f"{base.__name__} with deadlines."})


def guarded_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (httptools when installed, h11 otherwise) with the deadlines above."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    return _guarded(base)


def raise_open_files_limit(wanted: int = 2 * limits.MAX_CONNECTIONS) -> int:
    """Raise this process's open-files limit towards `wanted` (as far as the hard limit allows): each connection is a
    file. Returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            logger.warning("could not raise the open-files limit from %s to %s", soft, target)
    return soft
