"""The WebSocket receiver (issue 14, defect 6), against a real `sharedsky serve`.

Whatever a client sends on the socket (invalid JSON, first or after a frame with an id,
a binary frame, a number beyond float range) gets an error frame carrying that frame's
own id (none if it had none), and the connection stays open for the next frame.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from service_support import Keys, Server, agreement_text, issue_keys

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("ws")
    (d / "a.toml").write_text(agreement_text())
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def test_every_bad_frame_gets_its_own_error_and_the_connection_stays(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    big = "1" + "0" * 400
    frames: list[str | bytes] = [
        "not json",                                         # first frame: no id
        json.dumps({"type": "shout", "id": "A"}),           # an id ...
        "{bad",                                             # ... must not stick to the next error
        b"\x00\x01binary",                                  # binary frame
        f'{{"type": "reports", "id": "B", "reports": [{{"timestamp": {int(time.time())}, "icao24": "aa0001", '
        f'"latitude": {big}, "longitude": 36, "altitude": 1000}}]}}',  # overflowing number
        f'{{"type": "ack", "id": "C", "seq": {big}}}',
        "[" * 100_000,
        json.dumps({"type": "ack", "id": "D", "seq": 999999}),  # still connected: a normal reply
    ]
    replies = []
    with connect(srv.url.replace("http", "ws") + f"/api/v1/stream?after=999999&key={keys.blue}",
                 max_size=None) as ws:
        for f in frames:
            ws.send(f)
            while True:
                r = json.loads(ws.recv(timeout=5))
                if r["type"] not in ("picture", "event"):
                    replies.append(r)
                    break
    assert [r["type"] for r in replies] == ["error"] * len(frames)
    assert [r.get("id") for r in replies] == [None, "A", None, None, "B", "C", None, "D"]
    assert "not valid JSON" in replies[0]["detail"] and "not valid JSON" in replies[2]["detail"]
    assert replies[3]["detail"].startswith("frame:") and "text" in replies[3]["detail"]
    assert replies[4]["detail"].startswith("reports[0].latitude")
    assert replies[5]["detail"].startswith("seq:")
    assert "nested" in replies[6]["detail"]
    assert replies[7]["status"] == 404
    assert all(400 <= r["status"] < 500 for r in replies)
    assert "Traceback" not in srv.log.read_text(errors="replace")
