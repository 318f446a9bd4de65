"""Malformed payloads: each gets a 4xx naming what is wrong, and leaves no trace in the record."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from service_support import Keys, Server, agreement_text, issue_keys

pytestmark = pytest.mark.timeout(120)

NOW = time.time()


def rep(**over: Any) -> dict[str, Any]:
    r = {"timestamp": NOW, "icao24": "aa0001", "latitude": 35.0, "longitude": 36.0, "altitude": 20000}
    r.update(over)
    return {k: v for k, v in r.items() if v is not ...}


GOOD = [rep(icao24=f"aa00{i:02x}") for i in range(5)]
SQUARE = {"type": "Polygon", "coordinates": [[[36, 35], [37, 35], [37, 36], [36, 35]]]}

# (endpoint, raw body or JSON value, expected status, expected text in the message)
CASES: list[tuple[str, Any, int, str]] = [
    ("/api/v1/reports", b"{not json", 400, "body: not valid JSON"),
    ("/api/v1/reports", b"", 422, "body: empty"),
    ("/api/v1/reports", [GOOD[0]], 422, "body: must be a JSON object"),
    ("/api/v1/reports", {}, 422, "reports: required"),
    ("/api/v1/reports", {"reports": GOOD[0]}, 422, "reports: must be a list"),
    ("/api/v1/reports", {"reports": []}, 422, "reports: must hold at least one"),
    ("/api/v1/reports", {"reports": GOOD, "extra": 1}, 422, "body.extra: unknown field"),
    ("/api/v1/reports", {"reports": [*GOOD[:2], 7]}, 422, "reports[2]: must be an object"),
    ("/api/v1/reports", {"reports": [*GOOD[:3], rep(latitude=91)]}, 422,
     "reports[3].latitude: must be between -90 and 90"),
    ("/api/v1/reports", {"reports": [rep(longitude="36.0")]}, 422, "reports[0].longitude: must be a number"),
    ("/api/v1/reports", {"reports": [rep(icao24=...)]}, 422, "reports[0].icao24: required"),
    ("/api/v1/reports", {"reports": [rep(lat=35.0)]}, 422, "reports[0].lat: unknown field"),
    ("/api/v1/reports", {"reports": [rep(timestamp="yesterday")]}, 422, "reports[0].timestamp: must be"),
    ("/api/v1/reports", {"reports": [*GOOD, rep(timestamp=NOW + 7200)]}, 422, "reports[5].timestamp: … s in the future"),
    ("/api/v1/reports", {"reports": [rep(timestamp=NOW - 86400)]}, 422, "reports[0].timestamp: … s old"),
    ("/api/v1/reports", b'{"reports": [{"timestamp": 1, "icao24": "aa0001", "latitude": NaN}]}', 400, "NaN"),
    ("/api/v1/reports", {"reports": [rep(squawk="7800")]}, 422, "reports[0].squawk: must be 4 octal digits"),
    ("/api/v1/reports", {"reports": [rep(altitude=1e9)]}, 422, "reports[0].altitude: must be between"),
    ("/api/v1/reports", {"reports": [rep(track=-5)]}, 422, "reports[0].track: must be between 0 and 360"),
    ("/api/v1/reports", {"reports": [rep(onground="yes")]}, 422, "reports[0].onground: must be true or false"),
    ("/api/v1/reports", {"reports": [rep(icao24="aa 01")]}, 422, "reports[0].icao24: must be 6 hex digits"),
    ("/api/v1/reports", {"reports": [rep(groundspeed=True)]}, 422, "reports[0].groundspeed: must be a number"),
    ("/api/v1/reports", {"reports": [rep()] * 50_001}, 422, "reports: at most 50000"),
    ("/api/v1/messages", {"text": "hello"}, 422, "type: must be one of DISTRESS"),
    ("/api/v1/messages", {"type": "DISTRESS", "icao24": "aa0001", "latitude": 35, "longitude": 36}, 422,
     "nature: required"),
    ("/api/v1/messages", {"type": "DISTRESS", "icao24": "aa0001", "latitude": 135, "longitude": 36,
                          "nature": "x"}, 422, "latitude: must be between -90 and 90"),
    ("/api/v1/messages", {"type": "NOTICE", "area": {"type": "Point", "coordinates": [36, 35]}, "floor_ft": 0,
                          "ceiling_ft": 10000, "start": NOW + 10, "end": NOW + 20}, 422, "area: must be a GeoJSON Polygon"),
    ("/api/v1/messages", {"type": "NOTICE", "area": SQUARE, "floor_ft": 20000, "ceiling_ft": 10000,
                          "start": NOW + 10, "end": NOW + 20}, 422, "ceiling_ft: must be above floor_ft"),
    ("/api/v1/messages", {"type": "REQUEST", "to": "green", "text": "x", "deadline": NOW + 60}, 422,
     "to: must be a party of the agreement"),
    ("/api/v1/messages", {"type": "REQUEST", "to": "red", "text": "x", "deadline": "2001-01-01T00:00:00Z"}, 422,
     "deadline: must be in the future"),
    ("/api/v1/messages", {"type": "RESPONSE", "request_seq": 999999, "text": "x"}, 404, "request_seq: no request"),
    ("/api/v1/messages", {"type": "REQUEST", "to": "red", "text": "x", "deadline": NOW + 60, "cc": "all"}, 422,
     "cc: unknown field"),
    ("/api/v1/ack", {"seq": "3"}, 422, "seq: must be the positive integer"),
    ("/api/v1/ack", {"seq": 999999}, 404, "seq: no event 999999"),
    ("/api/v1/ack", b"[", 400, "body: not valid JSON"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("malformed")
    (d / "a.toml").write_text(agreement_text())
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def record_rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT seq, kind, commitment FROM record ORDER BY seq").fetchall()
    finally:
        conn.close()


def test_there_are_at_least_15_cases() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize(("path", "body", "status", "text"), CASES, ids=[c[3][:40] for c in CASES])
def test_malformed_payload_is_refused_and_leaves_no_trace(server: tuple[Server, Keys], path: str, body: Any,
                                                          status: int, text: str) -> None:
    srv, keys = server
    before = record_rows(srv.db)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.post(srv.url + path, content=raw, timeout=30,
                   headers={"Authorization": f"Bearer {keys.blue}", "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    pos = 0
    for part in text.split("…"):  # "…" stands for a number that depends on the clock
        found = detail.find(part, pos)
        assert found >= 0, detail
        pos = found + len(part)
    time.sleep(0.05)
    after = record_rows(srv.db)
    # The engine may have recorded events meanwhile, but nothing from this request.
    assert after[: len(before)] == before
    assert all(k not in ("reports", "distress", "notice", "request", "response", "ack")
               for _, k, _ in after[len(before):])


def test_rejections_are_counted_and_a_good_batch_still_goes_in(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    h = {"Authorization": f"Bearer {keys.blue}"}
    m = httpx.get(srv.url + "/metrics", headers=h).json()
    assert m["reports_rejected"].get("latitude", 0) >= 1
    assert sum(m["reports_rejected"].values()) >= 20, m["reports_rejected"]
    r = httpx.post(srv.url + "/api/v1/reports", json={"reports": GOOD}, headers=h)
    assert r.status_code == 202 and r.json()["accepted"] == 5
    assert record_rows(srv.db)[-1][0] >= r.json()["seq"]


def test_malformed_reports_over_the_websocket(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    before = record_rows(srv.db)
    with connect(srv.url.replace("http", "ws") + f"/api/v1/stream?after=999999&key={keys.blue}") as ws:
        ws.send(json.dumps({"type": "reports", "id": 1, "reports": [rep(latitude=-95)]}))
        ws.send("not json")
        ws.send(json.dumps({"type": "shout"}))
        replies: list[dict[str, Any]] = []
        while len(replies) < 3:
            f = json.loads(ws.recv(timeout=5))
            if f["type"] == "error":
                replies.append(f)
    assert replies[0]["status"] == 422 and replies[0]["id"] == 1
    assert "reports[0].latitude: must be between -90 and 90" in replies[0]["detail"]
    assert "not valid JSON" in replies[1]["detail"]
    assert "type:" in replies[2]["detail"]
    after = record_rows(srv.db)
    assert after[: len(before)] == before
    assert all(k != "reports" for _, k, _ in after[len(before):])
