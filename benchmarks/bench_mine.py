"""Mining a synthetic day on Dask: rows per second per worker, speed-up, memory per worker.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_mine.py [--scale 1] [--aircraft 1000] [--runs 1]

A day (`--scale` 0.25: six hours) of `--aircraft` aircraft in the air at every instant,
each reporting every 5 s (1,000 aircraft over a day: 17,280,000 reports): level flights
of an hour each (FL200-FL400, 250-480 kt, random tracks) starting at random points of a
box about 450 x 450 NM over central Europe, one flight after another, each with its own
address; the reports of an aircraft fall at its own phase within the 5 s. They are
written straight into the hour-partition layout (`sharedsky.mine.store`; straight
flights give the gate nothing to reject and need no derived motion), not timed.

Then `sharedsky mine STORE --all-pairs --no-report --workers W` runs in a child process
for W = 1 and 2 (a local Dask cluster, one process per worker); the figures are the
median wall time over `--runs`, reports per second per worker, the speed-up, and the
largest peak resident memory of a worker process (ru_maxrss, reported by each task).
Both runs must give the same events.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.mine.store import HOUR_S, MANIFEST, hour_name, part_name, write_json, write_part

T0 = 1_600_000_000 - 1_600_000_000 % 86400  # a midnight, UTC
FLIGHT_S = 3600
REPORT_S = 5.0


def write_day(root: Path, n_aircraft: int, hours: int, seed: int = 0) -> int:
    """The synthetic traffic as hour partitions; returns the number of reports."""
    rng = np.random.default_rng(seed)
    n_flights = hours + 2
    shape = (n_aircraft, n_flights)
    lat0 = rng.uniform(44.0, 51.5, shape)
    lon0 = rng.uniform(0.0, 11.0, shape)
    trk = rng.uniform(0.0, 360.0, shape)
    gs = rng.uniform(250.0, 480.0, shape)
    alt = rng.choice(np.arange(20000.0, 41000.0, 1000.0), shape)
    start = rng.uniform(-FLIGHT_S, 0.0, n_aircraft)  # each slot's first flight began before T0
    phase = rng.uniform(0.0, REPORT_S, n_aircraft)
    rows = 0
    hour_rows = {}
    for h in range(hours):
        h0 = T0 + h * HOUR_S
        k = np.arange(int(HOUR_S / REPORT_S))
        t = h0 + phase[:, None] + k[None, :] * REPORT_S  # (aircraft, reports)
        slot = np.broadcast_to(np.arange(n_aircraft)[:, None], t.shape).ravel()
        t = t.ravel()
        since = t - T0 - start[slot]
        f = np.floor(since / FLIGHT_S).astype(np.int64)
        dt = since - f * FLIGHT_S
        dist_deg = gs[slot, f] * dt / 3600.0 / 60.0
        order = np.argsort(t, kind="stable")
        lat = lat0[slot, f] + dist_deg * np.cos(np.radians(trk[slot, f]))
        df = pd.DataFrame({
            "timestamp": pd.to_datetime((t * 1e9).astype(np.int64), utc=True),
            "icao24": np.char.mod("%06x", 0x100000 + slot * n_flights + f).astype(object),
            "callsign": "",
            "latitude": lat,
            "longitude": lon0[slot, f] + dist_deg * np.sin(np.radians(trk[slot, f]))
            / np.cos(np.radians(lat0[slot, f])),
            "altitude": alt[slot, f], "groundspeed": gs[slot, f], "track": trk[slot, f],
            "vertical_rate": 0.0,
        }).iloc[order].reset_index(drop=True)
        write_part(root / hour_name(h0) / part_name(0, 0), df)
        hour_rows[hour_name(h0)] = int(df.shape[0])
        rows += int(df.shape[0])
    write_json(root / MANIFEST, {"version": 1, "gate": False, "inputs": [], "done": 0, "finished": True,
                                 "reports": rows, "rejected": {}, "suspect_tracks": 0, "hours": hour_rows})
    return rows


def mine_once(store: Path, out: Path, workers: int) -> tuple[float, dict[str, Any], str]:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sharedsky.cli", "mine", str(store), "--all-pairs", "--no-report",
                    "--no-progress", "--workers", str(workers), "--out", str(out)],
                   check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    summary = json.loads((out / "summary.json").read_text())
    digest = hashlib.sha256((out / "events.jsonl").read_bytes()).hexdigest()
    return wall, summary, digest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of a day (0.25: six hours)")
    ap.add_argument("--aircraft", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args()
    hours = max(1, round(24 * a.scale))
    with tempfile.TemporaryDirectory(prefix="bench-mine-") as tmp:
        store = Path(tmp) / "parts"
        t0 = time.perf_counter()
        rows = write_day(store, a.aircraft, hours)
        print(f"synthetic: {a.aircraft} aircraft every {REPORT_S:g} s for {hours} h: {rows:,} reports "
              f"(written in {time.perf_counter() - t0:.0f} s, not timed)", flush=True)
        results = {}
        for w in (int(x) for x in a.workers.split(",")):
            walls: list[float] = []
            summary: dict[str, Any] = {}
            digest = ""
            for r in range(a.runs):
                wall, summary, digest = mine_once(store, Path(tmp) / f"out-{w}-{r}", w)
                walls.append(wall)
            results[w] = (statistics.median(walls), summary, digest)
            print(f"  {w} worker(s): {statistics.median(walls):.1f} s wall", flush=True)
        digests = {d for _, _, d in results.values()}
        print(f"same events with every number of workers: {'yes' if len(digests) == 1 else 'NO'}")
        base = min(results)
        print("\n| workers | wall (median) | reports / s / worker | speed-up | tasks' CPU | reports / CPU s | "
              "peak memory per worker | encounters | hours re-run |")
        print("|---|---|---|---|---|---|---|---|---|")
        for w, (wall, s, _) in sorted(results.items()):
            mem = max(x["peak_rss_mb"] for x in s["per_hour"])
            cpu = sum(x.get("cpu_s", float("nan")) for x in s["per_hour"])
            print(f"| {w} | {wall:.1f} s | {rows / wall / w:,.0f} | {results[base][0] / wall:.2f}x | {cpu:.0f} s | "
                  f"{rows / cpu:,.0f} | {mem:,.0f} MB | {s['encounters']:,} | {s['hours_rerun']} |")
        print(f"(load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
              f"{os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
