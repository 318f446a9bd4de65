"""Separation detection: cost versus N, memory, exactness against brute force, and
BlueSky's state-based detection (NumPy and C++) on the same states, in one run.

    .venv/bin/python benchmarks/bench_separation.py            # full table
    .venv/bin/python benchmarks/bench_separation.py --quick    # small sizes only

Traffic: `sharedsky.sim.synthetic.random_enroute` (one aircraft per 200 NM^2, FL200-FL400,
70 % level), minima 5 NM / 1,000 ft / 300 s for every pair. BlueSky (GPL, installed only
by the `bench` extra, never imported by sharedsky) gets the same states in SI units.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
import tracemalloc

import numpy as np

from sharedsky.engine.separation import Kinematics, Minima, detect, pair_conflicts
from sharedsky.sim.synthetic import random_enroute

LEVELS = [Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)]


def median_time(fn, repeat: int, warm_up: bool = True) -> float:
    if warm_up:
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def peak_bytes(fn) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def brute_force_pairs(snap, chunk: int = 2_000_000) -> set[tuple[int, int]]:
    """Every pair through the same exact narrow phase, no broad phase."""
    n = len(snap)
    kin = Kinematics.of(snap)
    i_all, j_all = np.triu_indices(n, 1)
    found: set[tuple[int, int]] = set()
    for s in range(0, i_all.shape[0], chunk):
        i, j = i_all[s : s + chunk], j_all[s : s + chunk]
        g = kin.pairs(i, j)
        k = i.shape[0]
        r = pair_conflicts(g, np.full(k, 5.0), np.full(k, 1000.0), np.full(k, 300.0))
        found.update(zip(i[r.hit].tolist(), j[r.hit].tolist(), strict=True))
    return found


class _Traf:
    """The attributes BlueSky's detectors read, in SI units."""

    def __init__(self, s) -> None:
        self.ntraf = len(s)
        self.lat, self.lon, self.trk = s.lat_deg, s.lon_deg, s.track_deg
        self.gs = s.gs_kt * 1852.0 / 3600.0
        self.alt = s.alt_ft * 0.3048
        self.vs = s.vs_fpm * 0.3048 / 60.0
        self.id = list(s.id)


def bluesky_detectors():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from bluesky.traffic.asas import cstatebased
            from bluesky.traffic.asas.statebased import StateBased
    except ImportError:
        return None, None
    sb = StateBased.__new__(StateBased)

    def numpy_detect(t, rpz, hpz, dt):
        return StateBased.detect(sb, t, t, rpz, hpz, dt)

    return numpy_detect, cstatebased.detect


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1k and 5k only, fewer repeats")
    ap.add_argument("--no-bluesky", action="store_true")
    args = ap.parse_args()
    sizes = [1000, 5000] if args.quick else [1000, 5000, 10000, 20000, 50000]
    bs_np, bs_c = (None, None) if args.no_bluesky else bluesky_detectors()
    rows = []
    for n in sizes:
        snap = random_enroute(n, seed=n)
        repeat = 3 if args.quick else (9 if n <= 10000 else 5)
        t_ours = median_time(lambda s=snap: detect(s, LEVELS), repeat)
        conflicts = detect(snap, LEVELS)
        peak = peak_bytes(lambda s=snap: detect(s, LEVELS))
        row = {"n": n, "conflicts": len(conflicts), "ours_ms": t_ours * 1e3,
               "bytes_per_ac": peak / n}
        ours = set(zip(np.minimum(conflicts.a, conflicts.b).tolist(),
                       np.maximum(conflicts.a, conflicts.b).tolist(), strict=True))
        if n <= 5000:
            t0 = time.perf_counter()
            ref = brute_force_pairs(snap)
            row["brute_ms"] = (time.perf_counter() - t0) * 1e3
            row["same_as_brute"] = ours == ref
        if bs_np is not None or bs_c is not None:
            traf = _Traf(snap)
            rpz = np.full(n, 5 * 1852.0)
            hpz = np.full(n, 1000 * 0.3048)
            dt = np.full(n, 300.0)
            bs_rep = 1 if n >= 5000 else 3
            if bs_np is not None and n <= 5000:
                row["bluesky_np_ms"] = median_time(lambda: bs_np(traf, rpz, hpz, dt), bs_rep, False) * 1e3
            if bs_c is not None and n <= 10000:
                row["bluesky_c_ms"] = median_time(lambda: bs_c(traf, traf, rpz, hpz, dt), bs_rep, False) * 1e3
                pairs = bs_c(traf, traf, rpz, hpz, dt)[0]
                idx = {k: i for i, k in enumerate(traf.id)}
                bs = {(min(idx[a], idx[b]), max(idx[a], idx[b])) for a, b in pairs}
                row["bluesky_agree"] = len(bs & ours) / max(len(bs | ours), 1)
        rows.append(row)
        print(row, flush=True)

    print()
    print("| N | conflicts | sharedsky median | peak memory / aircraft | brute force (same set?) "
          "| BlueSky NumPy | BlueSky C++ | speed-up vs NumPy | vs C++ | BlueSky set overlap |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        def f(key, fmt="{:.1f} ms"):
            return fmt.format(r[key]) if key in r else "-"
        brute = f"{r['brute_ms']:.0f} ms ({'yes' if r['same_as_brute'] else 'NO'})" if "brute_ms" in r else "-"
        sp_np = f"{r['bluesky_np_ms'] / r['ours_ms']:.0f}x" if "bluesky_np_ms" in r else "-"
        sp_c = f"{r['bluesky_c_ms'] / r['ours_ms']:.0f}x" if "bluesky_c_ms" in r else "-"
        overlap = f"{100 * r['bluesky_agree']:.1f} %" if "bluesky_agree" in r else "-"
        print(f"| {r['n']:,} | {r['conflicts']:,} | {r['ours_ms']:.1f} ms | {r['bytes_per_ac']:.0f} B "
              f"| {brute} | {f('bluesky_np_ms')} | {f('bluesky_c_ms')} | {sp_np} | {sp_c} | {overlap} |")
    by_n = {r["n"]: r for r in rows}
    if 5000 in by_n and 20000 in by_n:
        print(f"\n20k / 5k time ratio: {by_n[20000]['ours_ms'] / by_n[5000]['ours_ms']:.2f} "
              "(N^2 would be 16, N log N about 4.6)")


if __name__ == "__main__":
    main()
