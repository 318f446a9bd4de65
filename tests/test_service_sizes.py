"""Memory from content (issue 14, defect 9), against a real `sharedsky serve`.

Unknown fields are refused at every depth of every body (a NOTICE's `area.junk` was
accepted, stored twice and sent to everyone); sizes are bounded by the schema (texts,
polygon rings and points, signature) and a body is refused with 413 before it is read
when its `Content-Length` is over the limit (`[line] max_body_bytes` for reports, 256 kB
for messages, 4 kB for acks), or as soon as a chunked body passes it. The server's peak
memory (VmHWM) is measured around each oversized body.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service_support import Keys, Server, agreement_text, issue_keys

pytestmark = pytest.mark.timeout(120)

MAX_BODY = 1_000_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("sizes")
    (d / "a.toml").write_text(agreement_text() + f"\n[line]\nmax_body_bytes = {MAX_BODY}\n")
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def peak_mb(srv: Server) -> float:
    """The server process's peak resident memory so far, MB (VmHWM)."""
    assert srv.proc is not None
    for line in Path(f"/proc/{srv.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise AssertionError("no VmHWM")


def post(srv: Server, key: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(srv.url + path, content=json.dumps(body).encode(), timeout=30,
                      headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


SQUARE = [[36.0, 35.0], [36.5, 35.0], [36.5, 35.5], [36.0, 35.5], [36.0, 35.0]]


def notice(**over: Any) -> dict[str, Any]:
    now = time.time()
    return {"type": "NOTICE", "area": {"type": "Polygon", "coordinates": [SQUARE]}, "floor_ft": 0,
            "ceiling_ft": 30000, "start": now + 7200, "end": now + 10800, "text": "exercise", **over}


def many_points(n: int) -> list[list[list[float]]]:
    ring = [[36.0 + 0.5 * i / n, 35.0] for i in range(n)] + [[36.5, 35.5], [36.0, 35.5], [36.0, 35.0]]
    return [ring]


CASES: list[tuple[str, Any, str]] = [
    ("/api/v1/messages", notice(area={"type": "Polygon", "coordinates": [SQUARE], "junk": "x" * 1000}), "area.junk"),
    ("/api/v1/messages", notice(area={"type": "Polygon", "coordinates": many_points(5000)}), "area.coordinates"),
    ("/api/v1/messages", notice(area={"type": "Polygon", "coordinates": [SQUARE] * 50}), "area.coordinates"),
    ("/api/v1/messages", notice(area={"type": "Polygon", "coordinates": [[[36.0, 35.0, 1.0, 2.0, 3.0]] * 4]}),
     "area.coordinates[0][0]"),
    ("/api/v1/messages", notice(signature="A" * 5000), "signature"),
    ("/api/v1/messages", notice(text="x" * 2001), "text"),
    ("/api/v1/messages", {"type": "REQUEST", "to": "red", "text": "hi", "deadline": time.time() + 600,
                          "junk": 1}, "junk"),
    ("/api/v1/ack", {"seq": 1, "junk": 1}, "body"),
    ("/api/v1/reports", {"reports": [{"timestamp": time.time(), "icao24": "aa0001", "latitude": 35,
                                      "longitude": 36, "altitude": 1000, "junk": 1}]}, "reports[0].junk"),
    ("/api/v1/reports", {"reports": [], "junk": 1}, "body.junk"),
]


@pytest.mark.parametrize(("path", "body", "field"), CASES, ids=[f"{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_unknown_fields_and_oversized_values_are_refused(server: tuple[Server, Keys], path: str, body: Any,
                                                         field: str) -> None:
    srv, keys = server
    r = post(srv, keys.blue, path, body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(field + ":"), r.json()["detail"]


def test_a_notice_at_the_bounds_is_accepted(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    r = post(srv, keys.blue, "/api/v1/messages", notice(area={"type": "Polygon", "coordinates": many_points(990)},
                                                         text="x" * 2000))
    assert r.status_code == 201, r.text


def _raw_post(srv: Server, key: str, path: str, head_len: int, send: bytes, chunked: bool = False) -> bytes:
    """Sends headers (a Content-Length of `head_len`, or chunked) and `send`; the reply's bytes."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {head_len}"
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                  f"Content-Type: application/json\r\n{length}\r\n\r\n".encode())
        try:
            if chunked:
                step = 256 * 1024
                for i in range(0, len(send), step):
                    part = send[i:i + step]
                    s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            else:
                s.sendall(send)
        except OSError:  # the server answered and closed before reading it all: that is the point
            pass
        out = b""
        while b"\r\n\r\n" not in out or not out.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def test_an_oversized_body_is_413_before_it_is_read(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    before = peak_mb(srv)
    # 32 MB announced for the reports: refused on the headers, nothing read
    out = _raw_post(srv, keys.blue, "/api/v1/reports", 32 * 1024 * 1024, b'{"reports": [')
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    assert b"body: larger than 1000000 bytes" in out
    # a 15 MB NOTICE (area.junk), announced: messages are limited to 256 kB whatever the agreement
    junk = json.dumps(notice(area={"type": "Polygon", "coordinates": [SQUARE], "junk": "x" * 15_000_000})).encode()
    out = _raw_post(srv, keys.blue, "/api/v1/messages", len(junk), junk)
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    # 8 MB chunked (no length given): refused once the limit is passed
    big = b'{"reports": [' + b" " * (8 * 1024 * 1024) + b"]}"
    out = _raw_post(srv, keys.blue, "/api/v1/reports", 0, big, chunked=True)
    assert out.startswith(b"HTTP/1.1 413"), out[:200]
    grew = peak_mb(srv) - before
    print(f"peak memory grew {grew:.1f} MB over a 32 MB, a 15 MB and an 8 MB chunked body")
    assert grew < 20, grew
    # ... and the server still answers
    assert httpx.get(srv.url + "/api/v1/me", headers={"Authorization": f"Bearer {keys.blue}"}).status_code == 200
