"""SIGKILL in the middle of a stream of reports and messages: after a restart the record
and every client's stream are complete and in order, and nothing acknowledged is lost."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from service_support import Server, agreement_text, issue_keys
from sharedsky.client import Client, ServiceError
from sharedsky.record.log import Record, verify

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]


class RawStream:
    """A reconnecting WebSocket reader that keeps every event frame as received (no dedup)."""

    def __init__(self, srv: Server, key: str) -> None:
        self.srv, self.key = srv, key
        self.seqs: list[int] = []
        self.reconnects = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self) -> None:
        while not self.stop.is_set():
            after = self.seqs[-1] if self.seqs else 0
            url = self.srv.url.replace("http", "ws") + f"/api/v1/stream?after={after}&key={self.key}"
            try:
                with connect(url, open_timeout=2) as ws:
                    while not self.stop.is_set():
                        try:
                            f = json.loads(ws.recv(timeout=0.5))
                        except TimeoutError:
                            continue
                        if f["type"] == "event":
                            self.seqs.append(f["seq"])
            except (ConnectionClosed, OSError, InvalidStatus):
                self.reconnects += 1
                time.sleep(0.1)


class Writer:
    """Sends reports and messages as fast as acknowledged; keeps what was acknowledged."""

    def __init__(self, c: Client, party: str, lat: float) -> None:
        self.c, self.party, self.lat = c, party, lat
        self.acked: list[tuple[int, str]] = []  # (seq, kind)
        self.failures = 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self) -> None:
        prefix = "aa" if self.party == "blue" else "bb"
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                if n % 3:
                    reps = [{"timestamp": time.time(), "icao24": f"{prefix}{k:04x}", "latitude": self.lat + k * 0.05,
                             "longitude": 36.0, "altitude": 20000 + 100 * n, "groundspeed": 300, "track": 0}
                            for k in range(20)]
                    self.acked.append((self.c.push_reports(reps)["seq"], "reports"))
                else:
                    seq = self.c.distress(f"{prefix}0001", self.lat, 36.0, f"call {n}")
                    self.acked.append((seq, "distress"))
            except (httpx.HTTPError, ServiceError):
                self.failures += 1
                time.sleep(0.05)


def test_sigkill_loses_nothing_acknowledged(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(agreement_text())
    db = tmp_path / "s.db"
    keys = issue_keys(db)
    srv = Server(tmp_path / "a.toml", db).start()
    try:
        streams = {"blue": RawStream(srv, keys.blue), "red": RawStream(srv, keys.red)}
        writers = [Writer(Client(srv.url, keys.blue, signing_key=keys.blue_sign, timeout=3), "blue", 30.0),
                   Writer(Client(srv.url, keys.red, signing_key=keys.red_sign, timeout=3), "red", 45.0)]
        time.sleep(2.0)
        before_kill = sum(len(w.acked) for w in writers)
        srv.kill()
        time.sleep(0.5)
        srv.start()
        time.sleep(2.0)
        for w in writers:
            w.stop.set()
            w.t.join(10)
        assert before_kill > 10
        assert all(w.failures > 0 for w in writers), "the kill happened while both were writing"
        assert sum(len(w.acked) for w in writers) > before_kill  # and they went on after the restart

        # 1. The record is a valid chain and holds everything that was acknowledged.
        res = verify(db)
        assert res.ok, res.reason
        rec = Record(db)
        kinds = {e.seq: (e.kind, e.party) for e in rec.entries()}
        rec.close()
        for w in writers:
            for seq, kind in w.acked:
                assert kinds.get(seq) == (kind, w.party), (seq, kind)

        # 2. Each stream got every event for its party, in order, none twice.
        for party, key in (("blue", keys.blue), ("red", keys.red)):
            want = [e["seq"] for e in Client(srv.url, key).events(after=0, limit=10000)]
            assert want, party
            s = streams[party]
            t0 = time.monotonic()
            while (not s.seqs or s.seqs[-1] < want[-1]) and time.monotonic() - t0 < 15:
                time.sleep(0.1)
            s.stop.set()
            got = [x for x in s.seqs if x <= want[-1]]
            assert got == want, f"{party}: stream differs from the record ({len(got)} vs {len(want)})"
            assert s.reconnects >= 1
            acked_distress = {seq for w in writers for seq, k in w.acked if k == "distress"}
            assert acked_distress <= set(got)
    finally:
        srv.stop()
