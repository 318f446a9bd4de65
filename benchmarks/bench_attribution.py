"""Attribution of a whole snapshot vs one separation `detect` pass, side by side.

20,000 aircraft at en-route density (one per 200 NM^2, FL200-FL400), attributed with
examples/syria-2015.toml (4 ICAO blocks, 7 callsign prefixes, a callsign regex,
sources). Goal (issue 3): attribution < 10 % of one detection pass.

    .venv/bin/python benchmarks/bench_attribution.py [--n 20000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from sharedsky.agreement import load_agreement
from sharedsky.engine.separation import detect
from sharedsky.ingest.snapshot import build_snapshot

ROOT = Path(__file__).resolve().parents[1]


def traffic(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """n aircraft over a square of n * 200 NM^2 centred at 40N 30E, with identities."""
    side_nm = np.sqrt(n * 200.0)
    lat = 40.0 + rng.uniform(-0.5, 0.5, n) * side_nm / 60.0
    lon = 30.0 + rng.uniform(-0.5, 0.5, n) * side_nm / (60.0 * np.cos(np.radians(lat)))
    # 5 % US military, 5 % Russian, 5 % Turkish, 2 % Syrian blocks, the rest anywhere
    blocks = [(0xAE0000, 0xAFFFFF, 0.05), (0x140000, 0x15FFFF, 0.05), (0x4B8000, 0x4BFFFF, 0.05),
              (0x778000, 0x77BFFF, 0.02)]
    addr = rng.integers(0, 0xFFFFFF, n)
    u = rng.uniform(size=n)
    acc = 0.0
    for lo, hi, share in blocks:
        sel = (u >= acc) & (u < acc + share)
        addr[sel] = rng.integers(lo, hi + 1, sel.sum())
        acc += share
    icao = np.char.mod("%06x", addr)
    airline = np.array(["THY", "SWR", "DLH", "RCH", "RFF", "TUAF", "AFR", "UAE", "N", ""])
    cs = np.char.add(airline[rng.integers(0, airline.size, n)], np.char.mod("%d", rng.integers(1, 9999, n)))
    source = np.array(["opensky", "coalition", "russia", "turkey"])[rng.integers(0, 4, n)]
    return dict(lat=lat, lon=lon, alt=rng.uniform(20000, 40000, n), trk=rng.uniform(0, 360, n),
                gs=rng.uniform(380, 500, n), vs=rng.choice([0.0, 0.0, 0.0, 1500.0, -1500.0], n),
                icao=icao, cs=cs, source=source)


T = TypeVar("T")


def median_s(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    out = fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    agr = load_agreement(ROOT / "examples" / "syria-2015.toml")
    civil = load_agreement(ROOT / "examples" / "civil.toml")
    t = traffic(args.n, np.random.default_rng(args.seed))

    party = agr.attribute(t["icao"], t["cs"], t["source"])
    snap = build_snapshot(0.0, id=t["icao"], lat_deg=t["lat"], lon_deg=t["lon"], alt_ft=t["alt"],
                          track_deg=t["trk"], gs_kt=t["gs"], vs_fpm=t["vs"],
                          report_s=np.zeros(args.n), party=party, parties=agr.party_ids)
    levels = agr.minima_levels()
    conflicts = detect(snap, levels)
    # Interleaved, so that both see the same load on a shared machine; the ratio is
    # the median of the per-run ratios.
    ta, ti, td = [], [], []
    for _ in range(args.runs):
        ta.append(median_s(lambda: agr.attribute(t["icao"], t["cs"], t["source"]), 1)[0])
        ti.append(median_s(lambda: agr.attribute(t["icao"], None, None), 1)[0])
        td.append(median_s(lambda: detect(snap, levels), 1)[0])
    t_attr, t_attr_icao, t_det = (statistics.median(x) for x in (ta, ti, td))
    ratio = statistics.median(a / d for a, d in zip(ta, td, strict=True))
    civil_snap = build_snapshot(0.0, id=t["icao"], lat_deg=t["lat"], lon_deg=t["lon"], alt_ft=t["alt"],
                                track_deg=t["trk"], gs_kt=t["gs"], vs_fpm=t["vs"],
                                report_s=np.zeros(args.n), party=civil.attribute(t["icao"], t["cs"]),
                                parties=civil.party_ids)
    civil_levels = civil.minima_levels()
    t_det_civil, civil_conflicts = median_s(lambda: detect(civil_snap, civil_levels), args.runs)

    counts = np.bincount(party, minlength=len(agr.party_ids))
    print("$ " + " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"{args.n} aircraft, one per 200 NM^2, FL200-FL400; median of {args.runs} runs")
    print("parties: " + ", ".join(f"{p} {c}" for p, c in zip(agr.party_ids, counts, strict=True)))
    print(f"{'step':<58}{'median ms':>10}{'% of detect':>13}")
    rows = [
        ("attribute (icao, callsign, source), syria-2015.toml", t_attr),
        ("attribute (icao only), syria-2015.toml", t_attr_icao),
        (f"detect, syria-2015.toml levels ({len(conflicts)} conflicts)", t_det),
        (f"detect, civil.toml 5 NM/1000 ft/300 s ({len(civil_conflicts)} conflicts)", t_det_civil),
    ]
    for name, s in rows:
        print(f"{name:<58}{s * 1e3:>10.2f}{100 * s / t_det:>12.1f}%")
    print(f"attribution / detection = {100 * ratio:.1f} % (median of per-run ratios; goal < 10 %): {'met' if ratio < 0.10 else 'NOT met'}")


if __name__ == "__main__":
    main()
