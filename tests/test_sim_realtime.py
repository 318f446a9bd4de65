"""Real-time emission: each party's aircraft pushed with that party's key, over real
HTTP on loopback, at the requested pace; keys files in the accepted layouts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sharedsky.agreement import load_agreement
from sharedsky.sim.realtime import KeysError, load_keys, push_realtime
from sharedsky.sim.run import Simulation
from sharedsky.sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
KEYS = {"coalition": "ssk_c", "russia": "ssk_r", "turkey": "ssk_t"}


class _Service(BaseHTTPRequestHandler):
    """Records POST /api/v1/reports bodies by bearer key, as the service API expects."""

    received: list[tuple[str, list[dict]]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.path != "/api/v1/reports" or key not in KEYS.values():
            self.send_response(401)
            self.end_headers()
            return
        _Service.received.append((key, body["reports"]))
        out = json.dumps({"accepted": len(body["reports"]), "seq": len(_Service.received)}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[str]:
    _Service.received = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_each_party_pushes_with_its_own_key(server: str) -> None:
    scn = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    agr = load_agreement(REPO / "examples/syria-2015.toml")
    sim = Simulation(scn, agr, hours=1.0, seed=1, record_every_s=None)
    t0 = time.monotonic()
    stats = push_realtime(sim, server, KEYS, speed=10.0, max_steps=21)
    wall = time.monotonic() - t0
    assert stats["steps"] == 21
    assert 1.7 <= wall <= 10.0  # 20 simulated seconds at 10x: about 2 s of wall time
    assert not stats["errors"]
    owner = {v: k for k, v in KEYS.items()}
    seen: dict[str, set[str]] = {}
    for key, reports in _Service.received:
        party = owner[key]
        for r in reports:
            assert set(r) >= {"timestamp", "icao24", "callsign", "latitude", "longitude", "altitude"}
            assert "party" not in r  # the service attributes, as for a real party
            seen.setdefault(party, set()).add(r["icao24"])
    prefixes = {"coalition": ("ae", "af"), "russia": ("14", "15"), "turkey": ("4b",)}
    for party, ids in seen.items():
        assert all(i.startswith(prefixes[party]) for i in ids), party
    assert {"coalition", "russia"} <= set(seen)
    # Parties without a key are not pushed, and are counted.
    assert set(stats["skipped_no_key"]) <= {"syria", "civil"}


def test_keys_file_layouts(tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text(json.dumps({"coalition": "k1", "russia": "k2"}))
    b = tmp_path / "b.json"
    b.write_text(json.dumps([{"party": "coalition", "key": "k1"}, {"party": "russia", "api_key": "k2"}]))
    c = tmp_path / "c.txt"
    c.write_text("# keys\ncoalition k1\nrussia=k2\n")
    for p in (a, b, c):
        assert load_keys(p) == {"coalition": "k1", "russia": "k2"}, p
    bad = tmp_path / "bad.txt"
    bad.write_text("justonetoken\n")
    with pytest.raises(KeysError, match="bad.txt:1"):
        load_keys(bad)
    with pytest.raises(KeysError, match="cannot read"):
        load_keys(tmp_path / "missing")
