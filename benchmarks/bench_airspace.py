"""Benchmark the airspace engine and watch: 20,000 aircraft against the Turkish and
Syrian borders (bundled, full resolution) and ten smaller zones.

    .venv/bin/python benchmarks/bench_airspace.py [--aircraft 20000] [--repeat 7]

Prints the median time of one pass (every aircraft against one airspace, or against all
twelve) as a table. Aircraft are spread over 31-43N, 25-46E (both countries and their
surroundings) at random altitudes, tracks, speeds and vertical rates.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point

from sharedsky.agreement.borders import country_geometry
from sharedsky.alerting.airspace_watch import AirspaceWatch
from sharedsky.engine.airspace import assess, prepare
from sharedsky.engine.geo import dead_reckon
from sharedsky.ingest.snapshot import build_snapshot


def timed(fn, repeat: int) -> float:
    """Median wall time (s) of `repeat` calls, after one warm-up."""
    fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def zones(rng: np.random.Generator) -> list[tuple[str, Any, float, float]]:
    """Turkey, Syria and ten smaller zones (discs and rings 8-40 NM, some with floors)."""
    out: list[tuple[str, Any, float, float]] = [
        ("TUR", country_geometry("TUR"), 0.0, 60000.0),
        ("SYR", country_geometry("SYR"), 0.0, 60000.0),
    ]
    for k in range(10):
        lat, lon = rng.uniform(33, 41), rng.uniform(28, 44)
        r_deg = rng.uniform(8, 40) / 60.0
        disc = Point(lon, lat).buffer(r_deg, quad_segs=32)
        if k % 3 == 0:
            disc = disc.difference(Point(lon, lat).buffer(r_deg / 3, quad_segs=16))
        floor = 0.0 if k % 2 else float(rng.choice([5000, 10000]))
        out.append((f"zone{k}", shapely.affinity.scale(disc, 1 / np.cos(np.radians(lat)), 1.0),
                    floor, 45000.0))
    return out


@dataclass
class _Stage:
    name: str
    lead_s: float


@dataclass
class _Schedule:
    stages: list[_Stage] = field(default_factory=lambda: [_Stage("advisory", 300), _Stage("warning", 120)])
    repeat_inside_s: float = 30.0


@dataclass
class _Space:
    id: str
    geometry: Any
    floor_ft: float
    ceiling_ft: float
    barred: list[str] = field(default_factory=lambda: ["red"])
    horizon_s: float = 300.0
    schedule: _Schedule = field(default_factory=_Schedule)
    name: str = ""
    owner: str = "blue"


@dataclass
class _Agreement:
    airspaces: list[_Space]
    party_ids: tuple[str, ...] = ("blue", "red")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aircraft", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    n, rep = args.aircraft, args.repeat
    rng = np.random.default_rng(2015)
    lat = rng.uniform(31, 43, n)
    lon = rng.uniform(25, 46, n)
    alt = rng.uniform(500, 45000, n)
    trk = rng.uniform(0, 360, n)
    gs = rng.uniform(150, 600, n)
    vs = rng.choice([0.0, 0.0, -1500.0, 1500.0], n)
    zs = zones(rng)

    rows: list[tuple[str, int, int, str, float, str]] = []
    preps = []
    for name, geom, floor, ceil in zs:
        t_prep = timed(lambda g=geom, f=floor, c=ceil: prepare(g, f, c), rep)
        p = prepare(geom, floor, ceil)
        preps.append(p)
        t_a = timed(lambda p=p: assess(p, lat, lon, alt, trk, gs, vs, 300.0, headings=False), rep)
        a = assess(p, lat, lon, alt, trk, gs, vs, 300.0, headings=False)
        rows.append((name, p.n_vertices, p.n_edges, f"{int(a.inside.sum())}/{int(a.predicted.sum())}",
                     t_prep, f"{t_a * 1e3:8.1f}"))

    def all_pass(headings: bool, max_nm: float | None = None, distances: bool = True) -> None:
        for p in preps:
            assess(p, lat, lon, alt, trk, gs, vs, 300.0, headings=headings, max_dist_nm=max_nm,
                   distances=distances)

    t_all = timed(lambda: all_pass(False), rep)
    t_all_cap = timed(lambda: all_pass(False, 60.0), rep)
    t_all_nod = timed(lambda: all_pass(False, distances=False), rep)
    t_all_h = timed(lambda: all_pass(True), max(1, rep // 2))

    # The stateful watch: every aircraft barred from every zone, stepped at 1 s.
    agr = _Agreement([_Space(nm, g, f, c, name=nm) for nm, g, f, c in zs])
    watch = AirspaceWatch(agr)
    ids = np.array([f"{i:06x}" for i in range(n)])
    party = np.ones(n, dtype=np.int32)
    state = {"t": 0.0, "lat": lat.copy(), "lon": lon.copy(), "alt": alt.copy()}

    def watch_step() -> None:
        state["t"] += 1.0
        state["lat"], state["lon"] = dead_reckon(state["lat"], state["lon"], trk, gs, np.ones(n))
        state["alt"] = state["alt"] + vs / 60.0
        snap = build_snapshot(
            state["t"], id=ids, lat_deg=state["lat"], lon_deg=state["lon"], alt_ft=state["alt"],
            track_deg=trk, gs_kt=gs, vs_fpm=vs, report_s=np.full(n, state["t"]), party=party,
            parties=agr.party_ids,
        )
        watch.step(snap)

    watch_step()  # first step: every approach and violation opens (many events)
    t_watch = timed(watch_step, rep)
    # A likelier picture: one aircraft in twenty belongs to a barred party.
    party[:] = (rng.uniform(size=n) < 0.05).astype(np.int32)
    watch = AirspaceWatch(agr)
    watch_step()
    t_watch5 = timed(watch_step, rep)

    cmd = "python benchmarks/bench_airspace.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"$ {cmd.strip()}")
    print(f"airspace engine: {n} aircraft, median of {rep} passes (s: seconds, ms: milliseconds)")
    print(f"{'airspace':<10}{'vertices':>9}{'edges':>8}{'inside/pred':>13}{'prepare ms':>12}{'assess ms':>11}")
    for name, nv, ne, ip, tp, ta in rows:
        print(f"{name:<10}{nv:>9}{ne:>8}{ip:>13}{tp * 1e3:>12.1f}{ta:>11}")
    print(f"{'all 12, assess (inside, entry time/point, distance)':<58}{t_all * 1e3:>9.1f} ms")
    print(f"{'all 12, distance searched within 60 NM only':<58}{t_all_cap * 1e3:>9.1f} ms")
    print(f"{'all 12, inside and entry only (no distances)':<58}{t_all_nod * 1e3:>9.1f} ms")
    print(f"{'all 12, with avoid headings for every predicted':<58}{t_all_h * 1e3:>9.1f} ms")
    print(f"{'AirspaceWatch.step, all 12, every aircraft barred':<58}{t_watch * 1e3:>9.1f} ms")
    print(f"{'AirspaceWatch.step, all 12, 5 % of aircraft barred':<58}{t_watch5 * 1e3:>9.1f} ms")
    s = watch.summary()
    print(f"watch after {s['steps']} steps: events {s['events']}, open violations {s['open_violations']}")


if __name__ == "__main__":
    main()
