"""One party floods the line; how long does a head-on between two other parties take to alert?

A real `sharedsky serve` on loopback, a fresh record, the default quotas of `[line]`
(issue 14, defect 3). Two runs, side by side: without a flood, and with a third party
posting 4 batches of 50,000 aircraft as fast as it can (each batch refused or accepted,
then posted again, for the whole run). In each run, blue and red each report one aircraft
head-on, 25 NM apart at the same level; the delay is from just before the POST of the
pair to the moment both parties' WebSocket clients hold a `conflict` event naming it.

    .venv/bin/python benchmarks/bench_line_flood.py [--repeat 3] [--flood-aircraft 50000] [--connections 1]

Measured on a shared 2-core machine at load 4-8 (2026-12-01, --repeat 5): 50,000-aircraft
batches are all refused (429, `aircraft_live`); `--flood-aircraft 10000` (the whole default
`aircraft_live`, packed 0.6 NM apart, re-posted as fast as the line answers) is accepted.
The alert delay under the flood was at most 0.36-0.79 s (medians 0.33-0.49 s) over one or
four connections, 0.03-0.33 s without; before the fixes of issue 14 defect 3 it reached
7.4 s (one connection) and 15 s (four), with engine steps of 4.3-6.2 s. README has the table.

`--slow` measures slow and non-reading clients instead (issue 14, defect 8), with the
default `[line]` bounds: while blue's aircraft move (a picture delta of all of them to
every blue stream each second), the same run without and then with `--slow-subscribers`
WebSocket subscribers that never read (tiny receive buffers, 50 per loopback address)
and `--slow-sockets` sockets sending a header byte every 2 s (50 per address,
reconnecting when cut off): a genuine request's latency, the head-on alert delay, the
server's resident memory, the engine step, and how many slow clients were dropped.

    .venv/bin/python benchmarks/bench_line_flood.py --slow [--seconds 60] [--slow-subscribers 100] [--slow-sockets 2000]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
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
                    try:
                        code = c.post(self.url + "/api/v1/reports", content=body).status_code
                    except httpx.HTTPError:
                        code = 0  # no answer
                    self.codes[code] = self.codes.get(code, 0) + 1


def watch(client: Client, seen: dict[str, float], name: str, ids: set[str], stop: threading.Event) -> None:
    for ev in client.stream(after=client.metrics()["last_seq"], reconnect_for_s=30, idle_timeout_s=30):
        if ev.get("kind") == "conflict" and {ev.get("a"), ev.get("b")} == ids:
            seen[name] = time.monotonic()
            return
        if stop.is_set():
            return


def head_on(srv: Server, blue: Client, red: Client, k: int) -> float:
    """Seconds from posting a blue/red head-on pair to both parties holding its conflict event
    (ids from aaf000 up: none of the mover's, which would move them away)."""
    ib, ir = f"aa{0xf000 + k:04x}", f"bb{0xf000 + k:04x}"
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


def rss_mb(srv: Server) -> float:
    """The server's resident memory now, MB (VmRSS)."""
    assert srv.proc is not None
    for line in Path(f"/proc/{srv.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def mover(url: str, key: str, stop: threading.Event, n: int = 3000) -> None:
    """Blue's `n` aircraft move a little every 0.5 s."""
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {key}"}) as c:
        k = 0
        while not stop.is_set():
            k += 1
            now = time.time()
            reps = [{"timestamp": now, "icao24": f"aa{i:04x}", "latitude": 20 + 0.33 * (i // 60) + 0.001 * k,
                     "longitude": 20 + 0.33 * (i % 60), "altitude": 30000} for i in range(n)]
            c.post(url + "/api/v1/reports", json={"reports": reps})
            stop.wait(0.5)


def non_reader(port: int, key: str, source: str) -> socket.socket | None:
    """A WebSocket subscriber from `source` that reads nothing after the handshake."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((source, 0))
    s.settimeout(10)
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Authorization: Bearer {key}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        return s if head.startswith(b"HTTP/1.1 101") else None
    except OSError:
        s.close()
        return None


class SlowSockets(threading.Thread):
    """`n` sockets (50 per loopback address) sending a request header a byte every 2 s, reconnecting."""

    def __init__(self, port: int, n: int) -> None:
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.stop = threading.Event()
        self.cut = 0  # connections the server ended
        self.socks: list[socket.socket | None] = [None] * n

    def _open(self, i: int) -> socket.socket | None:
        s = socket.socket()
        try:
            s.bind((f"127.0.{1 + i // 50 // 250}.{2 + (i // 50) % 250}", 0))
            s.settimeout(5)
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /api/v1/me HTTP/1.1\r\n")
            s.setblocking(False)
        except OSError:
            s.close()
            return None
        return s

    def run(self) -> None:
        while not self.stop.is_set():
            for i in range(self.n):
                s = self.socks[i]
                if s is None:
                    self.socks[i] = self._open(i)
                    continue
                try:
                    s.send(b"X")
                    s.recv(4096)  # an answer (408) or b"": the server cut it off
                except BlockingIOError:
                    continue  # still open, nothing from the server
                except OSError:
                    pass
                self.cut += 1
                s.close()
                self.socks[i] = None
            self.stop.wait(2.0)
        for s in self.socks:
            if s is not None:
                s.close()


def slow_phase(srv: Server, keys: dict[str, str], seconds: float, subscribers: int, sockets: int) -> dict[str, float]:
    """Genuine request latency, alert delay, memory and engine step with `subscribers` + `sockets` slow clients."""
    sup = Client(srv.url, keys["sup"])
    rss_before = rss_mb(srv)
    slow = SlowSockets(srv.port, sockets)
    if sockets:
        slow.start()
    subs = [non_reader(srv.port, keys["blue"], f"127.0.2.{2 + i // 50}") for i in range(subscribers)]
    opened = sum(s is not None for s in subs)
    rss0 = rss_mb(srv)
    peak = rss0
    lat: list[float] = []
    t_end = time.monotonic() + seconds
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {keys['blue']}"}) as c:
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            c.get(srv.url + "/api/v1/me", headers={"Connection": "close"})
            lat.append(time.monotonic() - t0)
            peak = max(peak, rss_mb(srv))
            time.sleep(0.25)
    alert = head_on(srv, Client(srv.url, keys["blue"]), Client(srv.url, keys["red"]), int(time.time()) % 200)
    m = sup.metrics()
    slow.stop.set()
    if sockets:
        slow.join(30)
    for s in subs:
        if s is not None:
            s.close()
    return {"latency_median_s": statistics.median(lat), "latency_max_s": max(lat), "alert_s": alert,
            "rss_before_mb": rss_before, "rss_opened_mb": rss0, "rss_peak_mb": peak,
            "rss_rise_mb": peak - rss_before, "engine_median_ms": m["engine_step_ms_median"],
            "engine_max_ms": m["engine_step_ms_max"], "subscribers_open": opened,
            "subscribers_left": m["clients"], "sockets_cut": slow.cut}


def main_slow(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "a.toml").write_text(agreement_text(disclosure="all"))
        ks = KeyStore(d / "s.db")
        keys = {"blue": ks.issue("blue").api_key, "red": ks.issue("red").api_key,
                "sup": ks.issue("un", supervisor=True).api_key}
        ks.close()
        srv = Server(d / "a.toml", d / "s.db").start()
        stop = threading.Event()
        threading.Thread(target=mover, args=(srv.url, keys["blue"], stop), daemon=True).start()
        try:
            time.sleep(3)
            quiet = slow_phase(srv, keys, args.seconds / 4, 0, 0)
            loud = slow_phase(srv, keys, args.seconds, args.slow_subscribers, args.slow_sockets)
        finally:
            stop.set()
            srv.stop()
    print(f"{'':34}{'no slow clients':>16}{'slow clients':>16}")
    for k in quiet:
        print(f"{k:34}{quiet[k]:16.2f}{loud[k]:16.2f}")
    print(f"({args.slow_subscribers} non-reading WebSocket subscribers and {args.slow_sockets} slow-header sockets "
          f"for {args.seconds:g} s; subscribers_left counts every open stream at the end)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="head-on pairs per run")
    ap.add_argument("--flood-aircraft", type=int, default=50_000,
                    help="aircraft per flood batch (10000: the default aircraft_live quota, all taken)")
    ap.add_argument("--connections", type=int, default=1, help="connections the flooding party posts over at once")
    ap.add_argument("--slow", action="store_true", help="measure slow and non-reading clients instead")
    ap.add_argument("--seconds", type=float, default=60.0, help="--slow: how long the slow clients stay")
    ap.add_argument("--slow-subscribers", type=int, default=100)
    ap.add_argument("--slow-sockets", type=int, default=2000)
    args = ap.parse_args()
    if args.slow:
        main_slow(args)
        return
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
            floods = [Flood(srv.url, kg, args.flood_aircraft) for _ in range(args.connections)]
            for f in floods:
                f.start()
            time.sleep(3.0)  # the flood is under way
            loud = [head_on(srv, blue, red, 100 + k) for k in range(args.repeat)]
            for f in floods:
                f.stop.set()
            for f in floods:
                f.join(120)
            m = Client(srv.url, kb).metrics()
        finally:
            srv.stop()
    print(f"{'':24}{'no flood':>12}{'flood':>12}")
    for k in range(args.repeat):
        print(f"{'alert delay, pair ' + str(k + 1) + ', s':24}{quiet[k]:12.2f}{loud[k]:12.2f}")
    codes: dict[int, int] = {}
    for f in floods:
        for c, k in f.codes.items():
            codes[c] = codes.get(c, 0) + k
    print(f"flooding party's answers over {args.connections} connection(s): {dict(sorted(codes.items()))} "
          f"(engine step median {m['engine_step_ms_median']} ms, max {m['engine_step_ms_max']} ms over the last "
          f"120 steps; live aircraft {m['aircraft']})")


if __name__ == "__main__":
    main()
