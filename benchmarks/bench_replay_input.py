"""Replay of long and large recordings: wall time and peak memory of `sharedsky replay`.

    .venv/bin/python benchmarks/bench_replay_input.py [--runs 3] [--rows 2000000]

Two synthetic recordings, written once to a temporary folder (not timed):

* month: one aircraft, 9 flights of about 6 h at 1 Hz spread over 30 days (193,446
  reports: the pattern of a month of one aircraft's flights), traffic JSON (.json.gz);
* large: `--rows` reports of 2,000 aircraft over `rows / 2000` seconds, Parquet.

Each is replayed with `sharedsky replay FILE --all-pairs --summary-only` in a child
process; the figures are the median wall time and the child's peak resident memory
(ru_maxrss), and the replay summary's steps assessed and skipped.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def month(path: Path) -> int:
    t0 = 1_600_000_000
    flight_s = 21_494
    starts = t0 + np.linspace(0, 29 * 86400, 9).astype(np.int64)
    s = np.arange(flight_s)
    frames = []
    for start in starts:
        lon = 2.0 + s * 450 / 3600 / 60 / np.cos(np.radians(47))
        frames.append(pd.DataFrame({
            "timestamp": (start + s) * 1000, "icao24": "4b1801", "callsign": "SWR100",
            "latitude": 47.0 + 0.0 * s, "longitude": lon, "altitude": 35000.0, "groundspeed": 450.0,
            "track": 90.0, "vertical_rate": 0.0}))
    df = pd.concat(frames, ignore_index=True)
    df.to_json(path, orient="records", compression={"method": "gzip", "mtime": 0})
    return len(df)


def large(path: Path, rows: int, n_aircraft: int = 2000, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    seconds = rows // n_aircraft
    lat0 = rng.uniform(44.0, 50.0, n_aircraft)
    lon0 = rng.uniform(0.0, 10.0, n_aircraft)
    trk = rng.uniform(0.0, 360.0, n_aircraft)
    gs = rng.uniform(250.0, 480.0, n_aircraft)
    alt = rng.choice(np.arange(20000.0, 41000.0, 1000.0), n_aircraft)
    t = np.repeat(np.arange(seconds), n_aircraft)
    k = np.tile(np.arange(n_aircraft), seconds)
    dist_deg = gs[k] * t / 3600.0 / 60.0
    df = pd.DataFrame({
        "timestamp": pd.to_datetime(1_600_000_000 + t, unit="s", utc=True),
        "icao24": np.char.mod("%06x", 0x400000 + k),
        "latitude": lat0[k] + dist_deg * np.cos(np.radians(trk[k])),
        "longitude": lon0[k] + dist_deg * np.sin(np.radians(trk[k])) / np.cos(np.radians(lat0[k])),
        "altitude": alt[k], "groundspeed": gs[k], "track": trk[k], "vertical_rate": 0.0,
    })
    df.to_parquet(path, index=False)
    return len(df)


def replay_once(path: Path) -> tuple[float, float, dict]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "sharedsky.cli", "replay", str(path), "--all-pairs",
                        "--summary-only"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    summary = json.loads(p.stdout.splitlines()[-1])
    # ru_maxrss of children is the largest of any child so far: run the larger job last
    return wall, max(peak_kb, before) / 1024.0, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rows", type=int, default=2_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        m = Path(tmp) / "month.json.gz"
        cases.append(("month (1 aircraft, 9 flights, 30 days)", m, month(m)))
        g = Path(tmp) / "large.parquet"
        cases.append((f"large ({args.rows:,} rows, 2,000 aircraft)", g, large(g, args.rows)))
        for name, path, n in cases:
            runs = [replay_once(path) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            s = runs[-1][2]
            print(f"{name}: {n:,} reports, replay median {wall:.1f} s, peak RSS {peak:,.0f} MB, "
                  f"steps assessed {s['steps']:,}, skipped {s.get('steps_skipped', 0):,}")


if __name__ == "__main__":
    main()
