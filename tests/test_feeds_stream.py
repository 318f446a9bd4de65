"""Live feeds from real servers on loopback: Beast and SBS over TCP (with a dropped
connection and a reconnect), aircraft.json over HTTP."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sharedsky.ingest.feeds import FeedError, open_feed
from sharedsky.ingest.schema import epoch_s


class OneShotServer:
    """A TCP server on 127.0.0.1 that serves one payload per connection, in order.

    Every payload but the last is sent, then the connection is closed (a receiver
    restarting); the last connection is held open until `stop()`.
    """

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        for i, payload in enumerate(self.payloads):
            while not self._stop.is_set():
                try:
                    conn, _ = self.sock.accept()
                    break
                except TimeoutError:
                    continue
            else:
                return
            self.accepted += 1
            with conn:
                for k in range(0, len(payload), 512):  # in pieces, as a network delivers
                    conn.sendall(payload[k : k + 512])
                    time.sleep(0.001)
                if i == len(self.payloads) - 1:
                    self._stop.wait(30)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()


def _collect(batches: Iterator[pd.DataFrame], until: set[str], timeout_s: float = 20.0) -> pd.DataFrame:
    got: list[pd.DataFrame] = []
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    for b in batches:
        got.append(b)
        seen |= set(b["icao24"])
        if until <= seen or time.monotonic() > deadline:
            break
    return pd.concat(got, ignore_index=True) if got else pd.DataFrame()


def test_beast_stream_live_with_reconnect(shared_data: Path) -> None:
    sample = (shared_data / "adsb" / "sample_dump1090.bin").read_bytes()
    # First connection: 1,500 bytes, cut in the middle of a frame, then dropped.
    server = OneShotServer([sample[:1500], sample])
    try:
        t0 = time.time()
        feed = open_feed(f"beast://127.0.0.1:{server.port}", batch_interval_s=0.2, backoff_initial_s=0.1)
        out = _collect(feed, {"3981e4", "44ce69", "48520a", "440062"})
        feed.close()
    finally:
        server.stop()
    assert set(out["icao24"]) == {"3981e4", "44ce69", "48520a", "440062"}
    assert feed.link is not None and feed.link.connects == 2 and feed.link.drops >= 1
    assert server.accepted == 2
    ts = epoch_s(out["timestamp"])
    assert ts.min() >= t0 - 1 and ts.max() <= time.time() + 1  # timed on receipt
    # the frame cut by the disconnect was counted, not decoded into garbage
    assert feed.stats.rejected.get("cut_by_disconnect", 0) == 1
    assert out.loc[out["icao24"] == "48520a", "altitude"].dropna().eq(38000.0).all()


def test_sbs_stream_live() -> None:
    lines = (
        b"MSG,3,1,1,4CA2D6,1,2024/03/01,10:00:00.000,2024/03/01,10:00:00.000,,35000,,,51.4706,-0.4619,,,0,0,0,0\n"
        b"MSG,4,1,1,4CA2D6,1,2024/03/01,10:00:01.000,2024/03/01,10:00:01.000,,,450,90.5,,,-64,,0,0,0,0\n"
        b"garbage line\n"
        b"MSG,1,1,1,4CA2D6,1,2024/03/01,10:00:02.000,2024/03/01,10:00:02.000,BAW123,,,,,,,,0,0,0,0\n"
    )
    server = OneShotServer([lines])
    try:
        feed = open_feed(f"sbs://127.0.0.1:{server.port}", batch_interval_s=0.2)
        out = _collect(feed, {"4ca2d6"}, timeout_s=5.0)
        while out.shape[0] < 3:
            out = pd.concat([out, next(feed)], ignore_index=True)
        feed.close()
    finally:
        server.stop()
    assert out.shape[0] == 3
    assert out["latitude"].dropna().tolist() == [51.4706]
    assert out["groundspeed"].dropna().tolist() == [450.0]
    assert "BAW123" in set(out["callsign"])
    assert feed.stats.rejected["sbs_bad_line"] == 1


def test_connection_refused_gives_up_with_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        feed = open_feed(f"beast://127.0.0.1:{port}", max_retries=2, backoff_initial_s=0.01)
        with pytest.raises(FeedError, match=f"127.0.0.1:{port}.*3 attempts"):
            for _ in feed:
                pass
    assert feed.link is not None and feed.link.failures == 3


def test_bad_stream_specs_are_named() -> None:
    with pytest.raises(FeedError, match="unknown scheme 'ftp'"):
        open_feed("ftp://host:1")
    with pytest.raises(FeedError, match="port 'abc' is not a number"):
        open_feed("beast://host:abc")


class _JsonHandler(http.server.BaseHTTPRequestHandler):
    docs: list[dict] = []
    served = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        cls = type(self)
        doc = cls.docs[min(cls.served, len(cls.docs) - 1)]
        cls.served += 1
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_aircraft_json_polled_over_http() -> None:
    now = 1_700_000_000.0
    a1 = {"hex": "3c6444", "flight": "DLH9U  ", "alt_baro": 37000, "gs": 450.2, "track": 271.3,
          "baro_rate": -64, "squawk": "1000", "lat": 50.1, "lon": 8.6, "seen_pos": 0.5, "seen": 0.1}
    a2 = {"hex": "~2b1234", "alt_baro": "ground", "lat": 50.03, "lon": 8.56, "seen_pos": 1.0, "seen": 1.0}
    _JsonHandler.docs = [
        {"now": now, "aircraft": [a1, a2]},
        {"now": now + 1, "aircraft": [dict(a1, lat=50.101, seen_pos=0.2), dict(a2, seen_pos=2.0)]},
    ]
    _JsonHandler.served = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _JsonHandler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        feed = open_feed(f"http://127.0.0.1:{srv.server_address[1]}/data/aircraft.json", poll_interval_s=0.05)
        first = next(feed)
        second = next(feed)
        feed.close()
    finally:
        srv.shutdown()
        srv.server_close()
    assert sorted(first["icao24"]) == ["3c6444", "~2b1234"]
    row = first.set_index("icao24").loc["3c6444"]
    assert row["callsign"] == "DLH9U" and row["altitude"] == 37000 and row["latitude"] == 50.1
    assert pd.Timestamp(row["timestamp"]).timestamp() == pytest.approx(now - 0.5)
    assert bool(first.set_index("icao24").loc["~2b1234", "onground"])
    # second poll: only the aircraft whose report is newer (the ground vehicle is not)
    assert second["icao24"].tolist() == ["3c6444"] and second["latitude"].iloc[0] == 50.101


def test_avr_stream_live() -> None:
    lines = b"*8d4840d6202cc371c32ce0576098;\n*8d40621d58c382d690c8ac2863a7;\n*8d40621d58c386435cc412692ad6;\nnoise\n"
    server = OneShotServer([lines])
    try:
        feed = open_feed(f"raw://127.0.0.1:{server.port}", batch_interval_s=0.2)
        out = _collect(feed, {"4840d6", "40621d"}, timeout_s=5.0)
        feed.close()
    finally:
        server.stop()
    assert "KLM1023" in set(out["callsign"])
    pos = out.dropna(subset=["latitude"])
    assert pos["latitude"].iloc[0] == pytest.approx(52.2658, abs=1e-3)  # pair received together
    assert feed.stats.rejected["avr_bad_line"] == 1
