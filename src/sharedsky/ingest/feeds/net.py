"""Network feeds: a TCP client that reconnects with exponential back-off, and an HTTP poller.

The only network sharedsky uses at run time: the feeds a user names. A dropped
connection is not an error: the client waits (0.5 s, 1 s, 2 s, ... up to `backoff_max_s`)
and reconnects, counting each attempt. It gives up with `FeedError` only after
`max_retries` failed attempts in a row (None: never).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sharedsky.ingest.feeds.base import FeedError


@dataclass
class LinkStats:
    """What happened on a link: connections made, drops, failed attempts, bytes read."""

    connects: int = 0
    drops: int = 0
    failures: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)

    def note(self, msg: str) -> None:
        self.errors.append(msg)
        del self.errors[:-20]


def parse_hostport(spec: str, default_port: int) -> tuple[str, int]:
    """'scheme://host:port' -> (host, port), with a clear error when malformed."""
    rest = spec.split("://", 1)[1] if "://" in spec else spec
    rest = rest.strip("/")
    if rest.startswith("["):  # [ipv6]:port
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not host:
        raise FeedError(f"{spec}: no host (expected scheme://host:port)")
    try:
        p = int(port) if port else default_port
    except ValueError:
        raise FeedError(f"{spec}: port {port!r} is not a number") from None
    if not 0 < p < 65536:
        raise FeedError(f"{spec}: port {p} out of range")
    return host, p


def tcp_chunks(
    host: str,
    port: int,
    *,
    read_timeout_s: float = 0.5,
    connect_timeout_s: float = 5.0,
    backoff_initial_s: float = 0.5,
    backoff_max_s: float = 30.0,
    max_retries: int | None = None,
    stats: LinkStats | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """Bytes read from host:port, forever; yields b"" when nothing arrived for a while.

    The empty chunks let a consumer flush its batch on time even on a quiet feed.
    """
    st = stats if stats is not None else LinkStats()
    delay = backoff_initial_s
    fails = 0
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout_s)
        except OSError as exc:
            fails += 1
            st.failures += 1
            st.note(f"connect {host}:{port}: {exc}")
            if max_retries is not None and fails > max_retries:
                raise FeedError(f"{host}:{port}: cannot connect after {fails} attempts: {exc}") from exc
            yield b""
            sleep(delay)
            delay = min(delay * 2.0, backoff_max_s)
            continue
        st.connects += 1
        fails = 0
        delay = backoff_initial_s
        sock.settimeout(read_timeout_s)
        try:
            while True:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    yield b""
                    continue
                except OSError as exc:
                    st.note(f"read {host}:{port}: {exc}")
                    break
                if not data:
                    break
                st.bytes += len(data)
                yield data
        finally:
            sock.close()
        st.drops += 1
        yield b""
        sleep(delay)
        delay = min(delay * 2.0, backoff_max_s)


def http_poll(
    url: str,
    *,
    interval_s: float = 1.0,
    timeout_s: float = 5.0,
    backoff_max_s: float = 30.0,
    max_retries: int | None = None,
    stats: LinkStats | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Any]:
    """Parsed JSON documents from polling `url` every `interval_s` (None after an error)."""
    import httpx

    st = stats if stats is not None else LinkStats()
    delay = interval_s
    fails = 0
    with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
        while True:
            started = time.monotonic()
            try:
                resp = client.get(url)
                resp.raise_for_status()
                doc = resp.json()
            except (httpx.HTTPError, ValueError) as exc:
                fails += 1
                st.failures += 1
                st.note(f"GET {url}: {exc}")
                if max_retries is not None and fails > max_retries:
                    raise FeedError(f"{url}: failed {fails} times in a row: {exc}") from exc
                yield None
                sleep(delay)
                delay = min(delay * 2.0, backoff_max_s)
                continue
            st.connects += 1
            st.bytes += len(resp.content)
            fails = 0
            delay = interval_s
            yield doc
            sleep(max(0.0, interval_s - (time.monotonic() - started)))
