"""Benchmark the strategic check of notified volumes (issue 17).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_notices.py [--volumes 10000] [--repeat 7]

N volumes of 4 parties over Syria and its neighbours (31-38N, 35-43E), over 24 hours:
half circles of 3-15 NM radius, half polygons of 6-30 NM, level bands of 5,000 or
10,000 ft between the surface and FL400, one to three hours long, with a 2 NM / 500 ft
/ 60 s buffer. Prints the median of: every volume checked against every other (widen,
index, query, filter, exact test), the same with the overlap geometry of each conflict,
one new volume against the indexed N (as the book checks a NOTICE), and the all-pairs
count the index avoided.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import shapely

from sharedsky.engine.notices import (
    Overlap,
    Pairs,
    VolumeSet,
    circles,
    conflicts_between,
    conflicts_within,
    overlaps,
)

T0 = 1_700_000_000.0


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall and CPU time (s) of `repeat` calls, after one warm-up (CPU time shows
    what a loaded, shared machine's wall time hides)."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def volumes(n: int, seed: int) -> tuple:  # noqa: ANN401 - columns and circle columns
    rng = np.random.default_rng(seed)
    lon, lat = rng.uniform(35, 43, n), rng.uniform(31, 38, n)
    size_nm = rng.uniform(3, 15, n)
    geoms = circles(lon, lat, size_nm)
    half = n // 2
    dlat = size_nm[:half] / 60.0
    dlon = dlat / np.cos(np.radians(lat[:half]))
    geoms[:half] = shapely.box(lon[:half] - dlon, lat[:half] - dlat, lon[:half] + dlon * 1.2, lat[:half] + dlat)
    party = rng.integers(0, 4, n)
    floor = rng.integers(0, 8, n) * 5000.0
    ceiling = floor + rng.choice([5000.0, 10000.0], n)
    start = T0 + rng.uniform(0, 86400, n)
    end = start + rng.choice([3600.0, 7200.0, 10800.0], n)
    radius = size_nm.copy()
    radius[:half] = np.nan
    return party, geoms, floor, ceiling, start, end, (lon, lat, radius)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--volumes", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--new", type=int, default=200, help="new volumes timed one by one")
    args = ap.parse_args()
    n = args.volumes
    party, geoms, floor, ceiling, start, end, circ = volumes(n, 1)
    buf_nm, buf_ft, buf_s = 2.0, 500.0, 60.0

    def all_against_all() -> tuple[VolumeSet, Pairs]:
        vs = VolumeSet.build(party, geoms, floor, ceiling, start, end, buf_nm, circle=circ)
        return vs, conflicts_within(vs, buf_ft, buf_s)

    def with_overlaps() -> Overlap:
        vs, p = all_against_all()
        return overlaps(vs, vs, p)

    t_all = timed(all_against_all, args.repeat)
    t_ov = timed(with_overlaps, args.repeat)
    vs, p = all_against_all()
    # One new volume at a time against the indexed N (the widening of the new one included).
    npar, ngeo, nfl, nce, nst, nen, nci = volumes(args.new, 2)
    per: list[float] = []
    per_cpu: list[float] = []
    hits = 0
    for k in range(args.new):
        t, c = time.perf_counter(), time.process_time()
        one = VolumeSet.build(npar[k:k + 1], ngeo[k:k + 1], nfl[k:k + 1], nce[k:k + 1], nst[k:k + 1],
                              nen[k:k + 1], buf_nm, circle=tuple(c[k:k + 1] for c in nci))
        q = conflicts_between(one, vs, buf_ft, buf_s)
        per.append(time.perf_counter() - t)
        per_cpu.append(time.process_time() - c)
        hits += len(q)
    all_pairs = n * (n - 1) // 2
    print(f"{n:,} volumes, 4 parties, 24 h, buffer {buf_nm:g} NM / {buf_ft:g} ft / {buf_s:g} s")
    print("| pass | median wall | median CPU |")
    print("|---|---|---|")
    print(f"| all against all (widen, index, query, filter, exact test) | {t_all[0] * 1e3:.0f} ms "
          f"| {t_all[1] * 1e3:.0f} ms |")
    print(f"| the same with each conflict's overlap region, band and window | {t_ov[0] * 1e3:.0f} ms "
          f"| {t_ov[1] * 1e3:.0f} ms |")
    print(f"| one new volume against {n:,} (median of {args.new}) | {statistics.median(per) * 1e3:.2f} ms "
          f"| {statistics.median(per_cpu) * 1e3:.2f} ms |")
    print(f"all pairs {all_pairs:,}; bounding boxes met {p.candidates:,}; "
          f"of those, two parties sharing levels and time {p.filtered:,}; conflicts {len(p):,}; "
          f"new volumes' conflicts {hits} (p95 {np.percentile(per, 95) * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
