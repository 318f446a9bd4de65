"""Forbidden access against a real server: 401 without a key, 403 for another party's
aircraft, and the disclosure rule in every endpoint and stream, read from the client side."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from service_support import Keys, Server, agreement_text, converging, issue_keys
from sharedsky.client import PICTURE_PREFIX, Client, ServiceError
from sharedsky.record.keys import KeyStore
from sharedsky.record.log import verify

pytestmark = pytest.mark.timeout(120)

# blue's far aircraft (red may never see it) and red's (blue may never see it)
BLUE_HIDDEN, RED_HIDDEN = "aa0f0f", "bb0f0f"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys, int]]:
    d = tmp_path_factory.mktemp("access")
    (d / "a.toml").write_text(agreement_text(disclosure="conflict"))
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    blue, red = Client(srv.url, keys.blue), Client(srv.url, keys.red)
    now = time.time()
    b, r = converging(now)
    blue.push_reports([b, {"timestamp": now, "icao24": BLUE_HIDDEN, "latitude": 40.0, "longitude": 30.0,
                           "altitude": 30000, "groundspeed": 300, "track": 0, "callsign": "BLUHID"}])
    red.push_reports([r, {"timestamp": now, "icao24": RED_HIDDEN, "latitude": 30.0, "longitude": 45.0,
                          "altitude": 30000, "groundspeed": 300, "track": 180, "callsign": "REDHID"}])
    # wait for the engine to see them
    sup = Client(srv.url, keys.sup)
    t0 = time.monotonic()
    while len(sup.aircraft()) < 4 and time.monotonic() - t0 < 10:
        time.sleep(0.1)
    yield srv, keys, int(sup.metrics()["last_seq"])
    srv.stop()


def test_401_without_a_valid_key(world: tuple[Server, Keys, int], tmp_path: Path) -> None:
    srv, keys, _ = world
    for method, path in [("GET", "/api/v1/me"), ("GET", "/api/v1/aircraft"), ("GET", "/api/v1/events"),
                         ("POST", "/api/v1/reports"), ("POST", "/api/v1/messages"), ("POST", "/api/v1/ack"),
                         ("GET", "/api/v1/record"), ("GET", "/metrics"), ("GET", "/api/v1/agreement"),
                         ("GET", "/api/v1/events/stream")]:
        r = httpx.request(method, srv.url + path, json={})
        assert r.status_code == 401, (path, r.text)
        assert "key" in r.json()["detail"]
        r = httpx.request(method, srv.url + path, json={}, headers={"Authorization": "Bearer ssk_00000000_nope"})
        assert r.status_code == 401, path
    with connect(srv.url.replace("http", "ws") + "/api/v1/stream") as ws:
        frame = json.loads(ws.recv(timeout=5))
        assert frame["type"] == "error" and frame["status"] == 401
    # a revoked key stops working at once
    ks = KeyStore(srv.db)
    extra = ks.issue("blue")
    assert httpx.get(srv.url + "/api/v1/me", params={"key": extra.api_key}).status_code == 200
    ks.revoke(extra.key_id)
    ks.close()
    assert httpx.get(srv.url + "/api/v1/me", params={"key": extra.api_key}).status_code == 401


def test_403_for_another_partys_aircraft(world: tuple[Server, Keys, int]) -> None:
    srv, keys, _ = world
    blue = Client(srv.url, keys.blue)
    before = blue.metrics()["last_seq"]
    now = time.time()
    with pytest.raises(ServiceError) as err:
        blue.push_reports([{"timestamp": now, "icao24": "aa0003", "latitude": 35, "longitude": 36, "altitude": 1000},
                           {"timestamp": now, "icao24": "bb0003", "latitude": 35, "longitude": 36, "altitude": 1000}])
    assert err.value.status == 403
    assert err.value.detail == ("reports[1]: aircraft 'bb0003' is attributed by the agreement to another party; "
                                "the attempt is recorded")
    # nothing of the batch was stored: the record only holds the attempt
    after = [json.loads(x) for x in blue.download_record().splitlines()][before:]
    assert [e["kind"] for e in after if e["kind"] in ("reports", "report_refused")] == ["report_refused"]
    # A track of no known block reported by blue is blue's (the reporting party is a source).
    assert blue.push_reports([{"timestamp": now, "icao24": "trk-17", "latitude": 35, "longitude": 36,
                               "altitude": 1000}])["accepted"] == 1


def _forbidden_for(party: str) -> str:
    return RED_HIDDEN if party == "blue" else BLUE_HIDDEN


@pytest.mark.parametrize("party", ["blue", "red"])
def test_disclosure_holds_in_every_endpoint_and_stream(world: tuple[Server, Keys, int], party: str) -> None:
    srv, keys, _ = world
    key = keys.blue if party == "blue" else keys.red
    hidden = _forbidden_for(party)
    other_conflicting = "bb0001" if party == "blue" else "aa0001"
    c = Client(srv.url, key)
    # Some events that mention aircraft, so that streams carry more than pictures.
    c.distress("aa0001" if party == "blue" else "bb0001", 35, 36, "test call")
    texts: dict[str, str] = {}
    h = {"Authorization": f"Bearer {key}"}
    for path in ("/api/v1/aircraft", "/api/v1/events", "/api/v1/record", "/metrics", "/api/v1/agreement",
                 "/api/v1/me"):
        r = httpx.get(srv.url + path, headers=h, timeout=10)
        assert r.status_code == 200, path
        texts[path] = r.text
    # WebSocket: events and three picture frames
    frames: list[str] = []
    with connect(srv.url.replace("http", "ws") + "/api/v1/stream?after=0", additional_headers=h) as ws:
        pictures = 0
        t0 = time.monotonic()
        while pictures < 3 and time.monotonic() - t0 < 10:
            f = ws.recv(timeout=5)
            assert isinstance(f, str)  # text frames
            frames.append(f)
            pictures += json.loads(f)["type"] == "picture"
    assert pictures == 3
    # A client that did not ask for pictures skips them by how they begin, unparsed.
    assert all(f.startswith(PICTURE_PREFIX) == (json.loads(f)["type"] == "picture") for f in frames)
    texts["ws"] = "\n".join(frames)
    # SSE: everything from the start
    sse: list[str] = []

    def read_sse() -> None:
        try:
            with httpx.stream("GET", srv.url + "/api/v1/events/stream?after=0", headers=h, timeout=4) as r:
                for line in r.iter_lines():
                    sse.append(line)
                    if len(sse) > 400:
                        return
        except httpx.ReadTimeout:  # the stream stays open; we have read what there was
            pass

    t = threading.Thread(target=read_sse, daemon=True)
    t.start()
    t.join(3)
    texts["sse"] = "\n".join(sse)
    assert any(x.startswith("data: ") for x in sse)
    for where, text in texts.items():
        assert hidden not in text, f"{party} saw {hidden} in {where}"
    # What the rule does disclose is there: own aircraft and the one in conflict with them.
    seen = {a["icao24"] for a in c.aircraft()}
    own_hidden = BLUE_HIDDEN if party == "blue" else RED_HIDDEN
    assert {own_hidden, other_conflicting} <= seen
    assert hidden not in seen
    first_full = next(json.loads(f) for f in frames if json.loads(f)["type"] == "picture")
    assert first_full["full"] is True
    assert {a["icao24"] for a in first_full["aircraft"]} == seen


def test_a_stream_that_asks_for_no_pictures_is_sent_events_only(world: tuple[Server, Keys, int]) -> None:
    """`pictures=0`: a client that watches only the line is sent its events and no picture
    (nothing built or encoded for it); the Python client asks for that unless it wants
    pictures. Beside it, a stream of the same key with pictures gets them."""
    srv, keys, _ = world
    h = {"Authorization": f"Bearer {keys.blue}"}
    base = srv.url.replace("http", "ws", 1) + "/api/v1/stream?after=0"
    Client(srv.url, keys.blue).distress("aa0001", 35, 36, "events-only stream")
    kinds: dict[str, list[str]] = {}
    for name, url in (("events", base + "&pictures=0"), ("both", base)):
        got: list[str] = []
        with connect(url, additional_headers=h) as ws:
            t0 = time.monotonic()
            while time.monotonic() - t0 < 3.0:
                try:
                    got.append(json.loads(ws.recv(timeout=0.5))["type"])
                except TimeoutError:
                    continue
        kinds[name] = got
    assert "event" in kinds["events"] and "picture" not in kinds["events"], kinds["events"]
    assert "event" in kinds["both"] and "picture" in kinds["both"], kinds["both"]
    c = Client(srv.url, keys.blue)
    assert c._ws_url(7, pictures=False).endswith("/api/v1/stream?after=7&pictures=0")
    assert c._ws_url(7).endswith("/api/v1/stream?after=7")


def test_supervisor_sees_everything_and_parties_verify_their_copy(world: tuple[Server, Keys, int],
                                                                   tmp_path: Path) -> None:
    srv, keys, _ = world
    sup = Client(srv.url, keys.sup)
    assert {BLUE_HIDDEN, RED_HIDDEN} <= {a["icao24"] for a in sup.aircraft()}
    blue = Client(srv.url, keys.blue)
    out = tmp_path / "blue.jsonl"
    text = blue.download_record(str(out))
    assert RED_HIDDEN not in text
    res = verify(out)
    assert res.ok, res.reason
    assert res.withheld >= 1  # red's report batch: digest only
    # an event blue may not see cannot be acknowledged by blue either
    red = Client(srv.url, keys.red)
    red_only = red.request("blue", "probe", time.time() + 600)
    un = Client(srv.url, KeyStore(srv.db).issue("unknown").api_key)
    with pytest.raises(ServiceError) as err:
        un.ack(red_only)
    assert err.value.status == 404


def test_the_map_is_served_at_the_root_and_data_needs_a_key(world: tuple[Server, Keys, int]) -> None:
    srv, keys, _ = world
    r = httpx.get(srv.url + "/")
    assert r.status_code == 200 and "<html" in r.text.lower()
    assert httpx.get(srv.url + "/api/v1/basemap").status_code == 401
    g = httpx.get(srv.url + "/api/v1/basemap", params={"key": keys.blue}).json()
    assert g["type"] == "FeatureCollection" and len(g["features"]) > 100
