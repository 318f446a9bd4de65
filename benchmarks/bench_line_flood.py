"""One party floods the line; how long does a head-on between two other parties take to alert?

A real `sharedsky serve` on loopback, a fresh record, the default quotas of `[line]`
(issue 14, defect 3). Two runs, side by side: without a flood, and with a third party
posting 4 batches of 50,000 aircraft as fast as it can (each batch refused or accepted,
then posted again, for the whole run). In each run, blue and red each report one aircraft
head-on, 25 NM apart at the same level; the delay is from just before the POST of the
pair to the moment both parties' WebSocket clients hold a `conflict` event naming it.

    .venv/bin/python benchmarks/bench_line_flood.py [--repeat 3] [--flood-aircraft 50000]

Measured on a shared 2-core machine (2026-12-01): 50,000-aircraft batches are all refused
(429, `aircraft_live`) and the alert delay is 0.1-0.3 s quiet, 0.4-0.9 s under the flood.
`--flood-aircraft 10000` (the whole default `aircraft_live`, then re-posted at up to the
reports rate) is accepted, and the delay reached 14 s with an engine step of 6.3 s: the
quotas bound what a party may send, not yet what the engine spends on it (left open).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from service_support import Server, agreement_text  # noqa: E402
from sharedsky.client import Client  # noqa: E402
from sharedsky.record.keys import KeyStore  # noqa: E402

FLOODER = """
[[party]]
id = "green"
name = "Green"
[party.attribution]
icao_ranges = [["cc0000", "ccffff"]]
sources = ["green"]
"""


def flood_body(batch: int, n: int) -> bytes:
    now = time.time()
    reps = [{"timestamp": now, "icao24": f"{0xc00000 + batch * n + i:06x}"[-6:], "latitude": 30 + (i % 1000) * 0.01,
             "longitude": 30 + (i // 1000) * 0.1, "altitude": 30000} for i in range(n)]
    return json.dumps({"reports": reps}).encode()


class Flood(threading.Thread):
    """Posts 4 x 50,000 aircraft as fast as it can until stopped; counts the answers."""

    def __init__(self, url: str, key: str, n: int = 50_000) -> None:
        super().__init__(daemon=True)
        self.url, self.key = url, key
        self.stop = threading.Event()
        self.codes: dict[int, int] = {}
        self.bodies = [flood_body(b, n) for b in range(4)]

    def run(self) -> None:
        with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {self.key}",
                                               "Content-Type": "application/json"}) as c:
            while not self.stop.is_set():
                for body in self.bodies:
                    code = c.post(self.url + "/api/v1/reports", content=body).status_code
                    self.codes[code] = self.codes.get(code, 0) + 1


def watch(client: Client, seen: dict[str, float], name: str, ids: set[str], stop: threading.Event) -> None:
    for ev in client.stream(after=client.metrics()["last_seq"], reconnect_for_s=30, idle_timeout_s=30):
        if ev.get("kind") == "conflict" and {ev.get("a"), ev.get("b")} == ids:
            seen[name] = time.monotonic()
            return
        if stop.is_set():
            return


def head_on(srv: Server, blue: Client, red: Client, k: int) -> float:
    """Seconds from posting a blue/red head-on pair to both parties holding its conflict event."""
    ib, ir = f"aa{k:04x}", f"bb{k:04x}"
    seen: dict[str, float] = {}
    stop = threading.Event()
    ts = [threading.Thread(target=watch, args=(c, seen, n, {ib, ir}, stop), daemon=True)
          for c, n in ((Client(srv.url, blue.key), "blue"), (Client(srv.url, red.key), "red"))]
    for t in ts:
        t.start()
    time.sleep(1.0)  # both streams are open
    lat = 35.0 + 0.2 * k
    now = time.time()
    t0 = time.monotonic()
    blue.push_reports([{"timestamp": now, "icao24": ib, "latitude": lat, "longitude": 36.0, "altitude": 20000,
                        "groundspeed": 400, "track": 90, "vertical_rate": 0}])
    red.push_reports([{"timestamp": now, "icao24": ir, "latitude": lat, "longitude": 36.5, "altitude": 20000,
                       "groundspeed": 400, "track": 270, "vertical_rate": 0}])
    for t in ts:
        t.join(30)
    stop.set()
    if len(seen) < 2:
        return float("inf")
    return max(seen.values()) - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="head-on pairs per run")
    ap.add_argument("--flood-aircraft", type=int, default=50_000,
                    help="aircraft per flood batch (10000: the default aircraft_live quota, all taken)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        text = agreement_text(disclosure="all").replace('[[party]]\nid = "unknown"', FLOODER + '\n[[party]]\nid = "unknown"')
        (d / "a.toml").write_text(text)
        ks = KeyStore(d / "s.db")
        kb, kr, kg = ks.issue("blue").api_key, ks.issue("red").api_key, ks.issue("green").api_key
        ks.close()
        srv = Server(d / "a.toml", d / "s.db").start()
        try:
            blue, red = Client(srv.url, kb), Client(srv.url, kr)
            quiet = [head_on(srv, blue, red, k) for k in range(args.repeat)]
            flood = Flood(srv.url, kg, args.flood_aircraft)
            flood.start()
            time.sleep(3.0)  # the flood is under way
            loud = [head_on(srv, blue, red, 100 + k) for k in range(args.repeat)]
            flood.stop.set()
            flood.join(120)
            m = Client(srv.url, kb).metrics()
        finally:
            srv.stop()
    print(f"{'':24}{'no flood':>12}{'flood':>12}")
    for k in range(args.repeat):
        print(f"{'alert delay, pair ' + str(k + 1) + ', s':24}{quiet[k]:12.2f}{loud[k]:12.2f}")
    print(f"flooding party's answers: {dict(sorted(flood.codes.items()))} "
          f"(engine step median {m['engine_step_ms_median']} ms, max {m['engine_step_ms_max']} ms over the last "
          f"120 steps; live aircraft {m['aircraft']})")


if __name__ == "__main__":
    main()
