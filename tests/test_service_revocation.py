"""Revocation (issue 14, defect 7), against a real `sharedsky serve` and the real `keys revoke`.

A key revoked by `sharedsky keys revoke` (another process, writing the same SQLite file)
ends that key's open WebSocket and SSE streams within 1 s, and any frame it sends after
the revocation (an `ack`, reports) is refused and never recorded. Other keys' streams
carry on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from service_support import REPO, Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client
from sharedsky.record.keys import KeyStore

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("revoke")
    (d / "a.toml").write_text(agreement_text())
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def revoke(srv: Server, key_id: str) -> float:
    """`sharedsky keys revoke` in its own process; the monotonic time it returned."""
    subprocess.run([sys.executable, "-m", "sharedsky.cli", "keys", "revoke", key_id, "--db", str(srv.db)],
                   cwd=REPO, check=True, capture_output=True, timeout=60)
    return time.monotonic()


def test_revocation_ends_the_keys_streams_within_a_second(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    ks = KeyStore(srv.db)
    doomed = ks.issue("blue")
    ks.close()
    ws_url = srv.url.replace("http", "ws") + "/api/v1/stream?after=0"
    auth = {"Authorization": f"Bearer {doomed.api_key}"}
    ended: dict[str, float] = {}

    def sse() -> None:
        with httpx.stream("GET", srv.url + "/api/v1/events/stream", headers=auth, timeout=30) as r:
            assert r.status_code == 200
            for _ in r.iter_lines():
                pass
        ended["sse"] = time.monotonic()

    t = threading.Thread(target=sse, daemon=True)
    t.start()
    with connect(ws_url, additional_headers=auth) as ws, \
            connect(ws_url, additional_headers={"Authorization": f"Bearer {keys.red}"}) as other:
        # the doomed key's socket works: an event goes out, and an ack comes back
        seq = Client(srv.url, keys.red).distress("bb0001", 35.0, 36.0, "engine fire")
        while json.loads(ws.recv(timeout=5)).get("seq") != seq:
            pass
        t_revoked = revoke(srv, doomed.key_id)
        # ... and is ended within 1 s with the 4401 close code, after an error frame
        frames = []
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() - t_revoked < 5:
                frames.append(json.loads(ws.recv(timeout=5)))
        ended["ws"] = time.monotonic()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert frames[-1]["type"] == "error" and frames[-1]["status"] == 401
        t.join(5)
        assert "sse" in ended, "the SSE stream of the revoked key is still open"
        delays = {k: v - t_revoked for k, v in ended.items()}
        print(f"revoked key's streams ended {delays} s after `keys revoke` returned")
        assert max(delays.values()) < 1.0, delays
        # the other key's stream is untouched
        other.send(json.dumps({"type": "ack", "id": "x", "seq": seq}))
        while (r := json.loads(other.recv(timeout=5)))["type"] in ("picture", "event"):
            pass
        assert r["type"] == "ack_ok" and r["id"] == "x"
    # a new connection with the revoked key is refused
    with connect(ws_url, additional_headers=auth) as ws:
        assert json.loads(ws.recv(timeout=5))["status"] == 401


def test_a_frame_sent_after_revocation_is_refused_and_not_recorded(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    ks = KeyStore(srv.db)
    doomed = ks.issue("blue")
    ks.close()
    red = Client(srv.url, keys.red)
    seq = red.distress("bb0002", 35.0, 36.0, "smoke")
    ws_url = srv.url.replace("http", "ws") + "/api/v1/stream?after=999999"
    with connect(ws_url, additional_headers={"Authorization": f"Bearer {doomed.api_key}"}) as ws:
        ws.recv(timeout=5)  # connected and authenticated (a picture or keepalive-free first frame)
        revoke(srv, doomed.key_id)
        # sent at once, before the stream's own check would notice: the frame itself is refused
        replies = []
        try:
            ws.send(json.dumps({"type": "ack", "id": "late", "seq": seq}))
            t0 = time.monotonic()
            while time.monotonic() - t0 < 5:
                replies.append(json.loads(ws.recv(timeout=5)))
        except ConnectionClosed:
            pass
    assert not any(r.get("type") == "ack_ok" for r in replies), replies
    acks = [e for e in Client(srv.url, keys.sup).events(after=seq) if e["kind"] == "ack" and e["of_seq"] == seq]
    assert acks == [], acks
