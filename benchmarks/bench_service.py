"""Load benchmark of the service: N parties' clients report M aircraft at 1 Hz.

A real `sharedsky serve` runs in a subprocess on loopback with a fresh record. Each
party has a pusher (REST batches once a second) and a WebSocket client. Every second one
party adds a *probe*: a new aircraft 20 NM ahead of another party's aircraft, head-on at
the same level, so that a new conflict is predicted at once. The latency measured is
from just before the POST carrying the probe's first report to the moment the other
party's client receives the `conflict` event naming it. Reported: p50, p99, max.

    .venv/bin/python benchmarks/bench_service.py                    # 10 parties, 10,000 aircraft, 60 s
    .venv/bin/python benchmarks/bench_service.py --parties 3 --aircraft 600 --duration 15
    .venv/bin/python benchmarks/bench_service.py --witnesses 0,3   # none, then three witnesses cosigning

With `--witnesses K`, the first K parties each run `sharedsky witness` (their own node,
following the record and cosigning its checkpoints; quorum: all K); runs for several
values are made one after the other and printed side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from service_support import Server  # noqa: E402
from sharedsky.record.keys import KeyStore  # noqa: E402
from sharedsky.record.log import (  # noqa: E402
    load_or_create_server_key,
    private_key_b64,
    public_key_b64,
    server_key_path,
)

NM_PER_DEG = 60.0


def agreement(n: int, log_key: str = "", witnesses: dict[str, str] | None = None) -> str:
    parts = ['[agreement]\nname = "bench"\ndefault_party = "unknown"\nalert_levels = ["advisory", "warning"]\n']
    for k in range(n):
        parts.append(f'[[party]]\nid = "p{k}"\nname = "Party {k}"\n[party.attribution]\n'
                     f'icao_ranges = [["{0x100000 * (k + 1):06x}", "{0x100000 * (k + 1) + 0xfffff:06x}"]]\n')
    parts.append('[[party]]\nid = "unknown"\nname = "Unattributed"\n')
    parts.append("[[minima_default.level]]\nname = \"advisory\"\nh_nm = 10\nv_ft = 2000\nt_s = 300\n"
                 "[[minima_default.level]]\nname = \"warning\"\nh_nm = 5\nv_ft = 1000\nt_s = 120\n")
    parts.append("[channels]\nack_within_s = 3600\n")
    if witnesses:
        parts.append(f'[record]\nlog_key = "{log_key}"\n[record.witnesses]\n'
                     + "".join(f'{p} = "{k}"\n' for p, k in witnesses.items()))
    return "\n".join(parts)


class Fleet:
    """One party's aircraft, flown straight on a flat approximation (good enough for load)."""

    def __init__(self, k: int, n: int, rng: np.random.Generator) -> None:
        self.k = k
        self.base = 0x100000 * (k + 1)
        self.ids = [f"{self.base + i:06x}" for i in range(n)]
        self.lat = rng.uniform(20, 50, n)
        self.lon = rng.uniform(0, 40, n)
        self.alt = rng.integers(10, 45, n).astype(float) * 1000.0
        self.trk = rng.uniform(0, 360, n)
        self.gs = rng.uniform(250, 480, n)
        self.probes = 0
        self.lock = threading.Lock()

    def advance(self, dt: float) -> None:
        d = self.gs * dt / 3600.0 / NM_PER_DEG
        r = np.radians(self.trk)
        self.lat = self.lat + d * np.cos(r)
        self.lon = self.lon + d * np.sin(r) / np.cos(np.radians(self.lat))

    def add_probe(self, lat: float, lon: float, alt: float, trk: float) -> str:
        """A new aircraft of this party (appended), returns its id."""
        with self.lock:
            icao = f"{self.base + 0xf0000 + self.probes:06x}"
            self.probes += 1
            self.ids.append(icao)
            self.lat = np.append(self.lat, lat)
            self.lon = np.append(self.lon, lon)
            self.alt = np.append(self.alt, alt)
            self.trk = np.append(self.trk, trk)
            self.gs = np.append(self.gs, 450.0)
        return icao

    def reports(self, t: float) -> list[dict]:
        with self.lock:
            return [{"timestamp": t, "icao24": i, "latitude": round(a, 5), "longitude": round(o, 5),
                     "altitude": h, "groundspeed": round(g, 1), "track": round(c, 1), "vertical_rate": 0}
                    for i, a, o, h, g, c in zip(self.ids, self.lat.tolist(), self.lon.tolist(),
                                                self.alt.tolist(), self.gs.tolist(), self.trk.tolist(),
                                                strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parties", type=int, default=10)
    ap.add_argument("--aircraft", type=int, default=10_000, help="in total, shared equally")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of reporting")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warmup", type=float, default=10.0,
                    help="also report latencies of probes sent after this many seconds (steady state)")
    ap.add_argument("--witnesses", default="0", help="comma-separated: parties running a witness, per run")
    args = ap.parse_args()
    for w in (int(x) for x in args.witnesses.split(",")):
        run(args, w)


def start_witnesses(work: Path, url: str, keys: list[str], n: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(
        [sys.executable, "-m", "sharedsky.cli", "witness", "--party", f"p{k}", "--key", str(work / f"p{k}.wkey"),
         "--server", url, "--store", str(work / f"witness-p{k}"), "--agreement", str(work / "a.toml"),
         "--poll-s", "0.2"], cwd=REPO, env={**os.environ, "SHAREDSKY_API_KEY": keys[k]},
        stdout=subprocess.DEVNULL, stderr=open(work / f"witness-p{k}.log", "ab")) for k in range(n)]


def run(args: argparse.Namespace, n_witnesses: int) -> None:
    rng = np.random.default_rng(args.seed)
    n_per = args.aircraft // args.parties
    work = Path(tempfile.mkdtemp(prefix="bench_service_"))
    wkeys: dict[str, str] = {}
    for k in range(n_witnesses):
        sk = Ed25519PrivateKey.generate()
        (work / f"p{k}.wkey").write_text(private_key_b64(sk) + "\n")
        wkeys[f"p{k}"] = public_key_b64(sk.public_key())
    log_key = public_key_b64(load_or_create_server_key(server_key_path(work / "s.db")).public_key())
    (work / "a.toml").write_text(agreement(args.parties, log_key, wkeys))
    ks = KeyStore(work / "s.db")
    keys = [ks.issue(f"p{k}").api_key for k in range(args.parties)]
    sup = ks.issue("sup", supervisor=True).api_key
    ks.close()
    srv = Server(work / "a.toml", work / "s.db").start()
    witnesses = start_witnesses(work, srv.url, keys, n_witnesses)
    start_seq = httpx.get(srv.url + "/metrics", headers={"Authorization": f"Bearer {sup}"}).json()["last_seq"]
    fleets = [Fleet(k, n_per, rng) for k in range(args.parties)]
    probes: dict[str, tuple[float, int]] = {}  # probe id -> (t sent, party that must be told)
    latencies: dict[str, float] = {}
    stop = threading.Event()
    post_ms: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def reader(k: int) -> None:
        from websockets.sync.client import connect

        url = srv.url.replace("http", "ws") + f"/api/v1/stream?after={start_seq}&key={keys[k]}"
        with connect(url, max_size=None) as ws:
            while not stop.is_set():
                try:
                    text = ws.recv(timeout=0.5)
                except TimeoutError:
                    continue
                t = time.monotonic()
                if not isinstance(text, str) or not text.startswith('{"type":"event"'):
                    continue
                ev = json.loads(text)["event"]
                if ev["kind"] != "conflict" or ev["state"] != "new":
                    continue
                for icao in (ev["a"], ev["b"]):
                    p = probes.get(icao)
                    if p is not None and p[1] == k and icao not in latencies:
                        with lock:
                            latencies[icao] = t - p[0]

    def pusher(k: int) -> None:
        c = httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {keys[k]}"}, timeout=30)
        f = fleets[k]
        t_start = time.monotonic()
        tick = 0
        pending_probe: tuple[str, int] | None = None
        while not stop.is_set():
            f.advance(1.0)
            # Every second one party (in turn) sends a probe at the next party's aircraft.
            if tick % args.parties == k and tick > 2:
                target = (k + 1) % args.parties
                tf = fleets[target]
                j = int(rng.integers(0, n_per))
                la, lo, al, tr = tf.lat[j], tf.lon[j], tf.alt[j], tf.trk[j]
                r = np.radians(tr)
                d = 20.0 / NM_PER_DEG
                pla, plo = la + d * np.cos(r), lo + d * np.sin(r) / np.cos(np.radians(la))
                pending_probe = (f.add_probe(pla, plo, al, (tr + 180.0) % 360.0), target)
            body = {"reports": f.reports(time.time())}
            t0 = time.monotonic()
            if pending_probe is not None:
                probes[pending_probe[0]] = (t0, pending_probe[1])
                pending_probe = None
            try:
                r = c.post("/api/v1/reports", json=body)
                if r.status_code != 202:
                    errors.append(r.text[:200])
            except httpx.HTTPError as exc:
                errors.append(str(exc))
            post_ms.append((time.monotonic() - t0) * 1000)
            tick += 1
            nxt = t_start + tick
            time.sleep(max(0.0, nxt - time.monotonic()))

    readers = [threading.Thread(target=reader, args=(k,), daemon=True) for k in range(args.parties)]
    for t in readers:
        t.start()
    time.sleep(1.0)
    pushers = [threading.Thread(target=pusher, args=(k,), daemon=True) for k in range(args.parties)]
    t_begin = time.monotonic()
    for t in pushers:
        t.start()
    time.sleep(args.duration)
    stop.set()
    for t in pushers:
        t.join(30)
    elapsed = time.monotonic() - t_begin
    time.sleep(2.0)
    m = httpx.get(srv.url + "/metrics", headers={"Authorization": f"Bearer {sup}"}).json()
    for w in witnesses:
        w.terminate()
        w.wait(30)
    srv.stop()
    lat = np.array(sorted(latencies.values())) * 1000.0
    steady = np.array(sorted(v for k, v in latencies.items() if probes[k][0] - t_begin >= args.warmup)) * 1000.0
    sent = len(probes)
    sent_steady = sum(1 for t, _ in probes.values() if t - t_begin >= args.warmup)
    db_mb = sum(p.stat().st_size for p in work.glob("s.db*")) / 1e6
    with sqlite3.connect(work / "s.db") as db:  # the engine's carried state, as last written
        row = db.execute("SELECT length(body) FROM working_state WHERE name = 'engine'").fetchone()
    carried_kb = None if row is None else row[0] / 1e3
    print(f"bench_service: {args.parties} parties, {n_per * args.parties} aircraft (+{sent} probes), "
          f"{args.duration:.0f} s at 1 Hz, {n_witnesses} witnesses cosigning "
          f"(witnessed size {m.get('witnessed_size')} of {m['last_seq']})")
    print(f"  reports accepted      {m['reports_accepted']:,} ({m['reports_accepted'] / elapsed:,.0f}/s), "
          f"batches {m['report_batches']}, errors {len(errors)}")
    print(f"  POST /reports         median {np.median(post_ms):.0f} ms, p99 {np.percentile(post_ms, 99):.0f} ms")
    print(f"  engine step           median {m['engine_step_ms_median']} ms (last 120), max {m['engine_step_ms_max']} ms")
    print(f"  events                {m['events']}")
    print(f"  carried engine state  {'none written' if carried_kb is None else f'{carried_kb:,.1f} kB'}")
    if lat.size:
        print(f"  report -> alert at the other party: n={lat.size}/{sent}, p50 {np.percentile(lat, 50):.0f} ms, "
              f"p99 {np.percentile(lat, 99):.0f} ms, max {lat.max():.0f} ms")
        if steady.size:
            print(f"  ... after {args.warmup:.0f} s warm-up: n={steady.size}/{sent_steady}, "
                  f"p50 {np.percentile(steady, 50):.0f} ms, p90 {np.percentile(steady, 90):.0f} ms, "
                  f"p99 {np.percentile(steady, 99):.0f} ms, max {steady.max():.0f} ms")
    else:
        print(f"  report -> alert: no probe matched ({sent} sent)")
    print(f"  record                {db_mb:.0f} MB, {m['last_seq']} entries ({work})")
    if errors:
        print("  first error:", errors[0])


if __name__ == "__main__":
    main()
