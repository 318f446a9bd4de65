"""Guidance bands: conformance with DAIDALUS on every step of its 56 runs, and cost at scale.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_bands.py                 # both parts
    PYTHONPATH=src .venv/bin/python benchmarks/bench_bands.py --skip-conformance
    PYTHONPATH=src .venv/bin/python benchmarks/bench_bands.py --every 5       # sampled runs
    PYTHONPATH=src .venv/bin/python benchmarks/bench_bands.py --skip-conformance --per-ownship

Part 1 (conformance): every scenario x configuration run of DAIDALUS v2.0.4's reference,
bands at every step (`--every` samples), compared with `.bands.csv` ((time, dimension)
rows whose intervals all agree within 1 deg, 1 kt, 10 fpm, 100 ft and region) and the
guidance columns with `.guidance.csv`; the time per step of bands (four dimensions).

Part 2 (scale): random en-route traffic (`random_enroute`, one aircraft per 200 NM^2) of
1,000 aircraft under DO_365B_no_SUM.conf; the separation engine's broad phase and the
DO-365B alerting of bench_wellclear.py give the alerting aircraft; each gets its bands in
all four dimensions against its candidate-pair neighbours, placed in its own plane
(`guidance_batch.inputs_from_pairs`), all ownships in one batch (`bands_for_ownships`);
with `--per-ownship` also one `OwnshipBands` per ownship (the per-ownship form the batch
was written from, now only the tests' reference: tests/reference_bands.py), alternating, medians side by
side (wall and CPU time: the machine may be shared). Then the same at one aircraft per
10 NM^2, where many more alert.

Part 3 (with --daidalus-jar): the dense case's alerting ownships written as a DAIDALUS
encounter file (one ownship per step with its neighbours) and run through NASA's own
DaidalusBatch (Java; built from its public sources for this comparison only, never
shipped) and through `bands_scenario`, wall time side by side.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from sharedsky.agreement.daa_conf import load_conf
from sharedsky.alerting.daa_bands import bands_scenario, guidance_csv_lines
from sharedsky.alerting.guidance import DIMENSIONS, DimensionBands
from sharedsky.alerting.guidance_batch import BandsInput, bands_for_ownships, inputs_from_pairs
from sharedsky.ingest.daa import read_daa
from sharedsky.sim.synthetic import random_enroute

DAA = Path(__file__).resolve().parents[2] / "shared" / "data" / "daidalus"
REF = DAA / "reference"
TOL = {"hdir": 1.0, "hs": 1.0, "vs": 10.0, "alt": 100.0}


def conformance(every: int) -> None:
    """Part 1: agreement per configuration and dimension, and seconds per step."""
    with open(REF / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh))
    agg: dict[str, dict[str, list[int]]] = defaultdict(lambda: {d: [0, 0] for d in DIMENSIONS})
    gagg: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    per_step: list[float] = []
    for m in manifest:
        cfg = load_conf(REF / m["configuration"])
        scn = read_daa(REF / m["scenario_input"])
        t0 = time.perf_counter()
        steps = bands_scenario(scn, cfg, every=every)
        per_step.append((time.perf_counter() - t0) / max(len(steps), 1))
        ref: dict[tuple[float, str], list[tuple[float, float, str]]] = defaultdict(list)
        with open(REF / f"{m['stem']}.bands.csv", newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                ref[(float(r["time_s"]), r["dimension"])].append((float(r["low"]), float(r["high"]), r["region"]))
        conf = m["stem"].split("__")[1]
        for st in steps:
            for d in st.dims:
                mine = list(zip(d.low.tolist(), d.high.tolist(), d.region, strict=True))
                rr = ref.get((st.time_s, d.dim), [])
                same = len(mine) == len(rr) and all(
                    abs(a[0] - b[0]) <= TOL[d.dim] and abs(a[1] - b[1]) <= TOL[d.dim] and a[2] == b[2]
                    for a, b in zip(mine, rr, strict=True))
                agg[conf][d.dim][0] += 1
                agg[conf][d.dim][1] += same
        with open(REF / f"{m['stem']}.guidance.csv", newline="", encoding="utf-8") as fh:
            gref = {(r["time_s"], r["dimension"]): r for r in csv.DictReader(fh)}
        for row in csv.DictReader(guidance_csv_lines(steps)):
            g = gref[(row["time_s"], row["dimension"])]
            for c in ("region_of_current_value", "resolution_up_or_right", "resolution_down_or_left",
                      "preferred", "recovery_time_s", "recovery_nfactor"):
                tol = TOL[row["dimension"]] if c.startswith("resolution") else (0.5 if c == "recovery_time_s" else None)
                if tol is None:
                    ok = row[c] == g[c]
                else:
                    x, y = float(row[c]), float(g[c])
                    ok = (math.isnan(x) and math.isnan(y)) or x == y or abs(x - y) <= tol
                gagg[c][0] += 1
                gagg[c][1] += ok
    print(f"Bands against DAIDALUS v2.0.4, {'every step' if every == 1 else f'every {every}th step'} "
          "of all 56 runs")
    print(f"{'configuration':28s} {'rows':>6s} " + " ".join(f"{d:>7s}" for d in DIMENSIONS) + f" {'all':>7s}")
    n_tot = ok_tot = 0
    for conf, per in sorted(agg.items()):
        n = sum(v[0] for v in per.values())
        ok = sum(v[1] for v in per.values())
        n_tot, ok_tot = n_tot + n, ok_tot + ok
        print(f"{conf:28s} {n:6d} " + " ".join(f"{per[d][1] / per[d][0]:7.1%}" for d in DIMENSIONS)
              + f" {ok / n:7.1%}")
    print(f"{'all':28s} {n_tot:6d} {'':31s} {ok_tot / n_tot:7.1%}")
    print("guidance: " + ", ".join(f"{c} {v[1] / v[0]:.1%}" for c, v in gagg.items()))
    print(f"bands, four dimensions, one ownship: median {statistics.median(per_step) * 1000:.0f} ms per step "
          f"(max over runs {max(per_step) * 1000:.0f} ms)")


def scale(n: int, steps: int, nm2_per_aircraft: float = 200.0, per_ownship: bool = False) -> None:
    """Part 2: bands of every alerting ownship among n aircraft, per step: all of them in
    one batch (`bands_for_ownships`) and, with `per_ownship`, one `OwnshipBands` per
    ownship (the loop callers had before), in the same run."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from bench_wellclear import CONF, Stepper  # the alerting step of the well-clear benchmark

    from reference_bands import OwnshipBands  # the per-ownship form, kept as the tests' reference

    cfg = load_conf(CONF)
    snap = random_enroute(n, seed=7, nm2_per_aircraft=nm2_per_aircraft)
    stepper = Stepper(cfg, full=True)
    stepper(snap)
    k, i, j, level = stepper(snap)
    on = level > 0
    # Both aircraft of an alerting pair are ownships; each sees its candidate-pair
    # neighbours (DO-365 without SUM is symmetric: the pair's level holds both ways).
    alerting = np.union1d(i[on], j[on])
    keep = np.isin(i, alerting) | np.isin(j, alerting)
    own = np.concatenate([i[keep], j[keep]])
    tfc = np.concatenate([j[keep], i[keep]])
    lv = np.concatenate([level[keep], level[keep]]).astype(np.int64)
    sel = np.isin(own, alerting)
    own, tfc, lv = own[sel], tfc[sel], lv[sel]
    trk = np.radians(snap.track_deg)
    ve, vn = snap.gs_kt * np.sin(trk), snap.gs_kt * np.cos(trk)

    def inputs() -> list[BandsInput]:
        return inputs_from_pairs(snap.lat_deg, snap.lon_deg, snap.alt_ft, ve, vn, snap.vs_fpm, own, tfc,
                                 np.ones(own.size, dtype=np.int64), lv, np.full(own.size, np.nan), 1.0)[1]

    def batched() -> list[tuple[DimensionBands, ...]]:
        return bands_for_ownships(cfg, inputs())

    def looped() -> list[tuple[DimensionBands, ...]]:
        out = []
        for x in inputs():  # per alerting ownship; every call inside is vectorised
            ob = OwnshipBands(cfg, x.frame, x.alerter_idx, x.out_level, x.init_time_s, x.t_s)
            out.append(tuple(ob.dimension(d) for d in DIMENSIONS))
        return out

    runs = [("batched", batched)] + ([("per ownship", looped)] if per_ownship else [])
    wall: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    res: dict[str, list[tuple[DimensionBands, ...]]] = {}
    for _ in range(steps):  # alternate, so that both see the same load
        for name, fn in runs:
            t0, c0 = time.perf_counter(), time.process_time()
            res[name] = fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    load = os.getloadavg()[0]
    print(f"{n:,} aircraft (one per {nm2_per_aircraft:g} NM^2): {k:,} candidate pairs, {alerting.size} alerting "
          f"ownships, bands (4 dimensions) for all of them, median of {steps} (load average {load:.1f}):")
    for name, _ in runs:
        med = statistics.median(wall[name])
        print(f"  {name:12s} {med:6.2f} s per step ({med / max(alerting.size, 1) * 1000:5.1f} ms per ownship), "
              f"CPU {statistics.median(cpu[name]):6.2f} s")
    if per_ownship:
        same = sum(_identical(a, b) for x, y in zip(res["batched"], res["per ownship"], strict=True)
                   for a, b in zip(x, y, strict=True))
        print(f"  identical bands (intervals, regions, recovery, peripheral): {same} of "
              f"{len(res['batched']) * len(DIMENSIONS)} (ownship, dimension)")
        print(f"  batched / per ownship: {statistics.median(wall['batched']) / statistics.median(wall['per ownship']):.2f}"
              f" (wall), {statistics.median(cpu['batched']) / statistics.median(cpu['per ownship']):.2f} (CPU)")


def _identical(a: DimensionBands, b: DimensionBands) -> bool:
    return (a.region == b.region and np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high)
            and np.array_equal([a.recovery_time_s, a.recovery_h_nm, a.recovery_v_ft],
                               [b.recovery_time_s, b.recovery_h_nm, b.recovery_v_ft], equal_nan=True)
            and a.recovery_nfactor == b.recovery_nfactor
            and all(np.array_equal(x, y) for x, y in zip(a.peripheral, b.peripheral, strict=True)))


def dense_daa(path: Path, n: int = 1_000, nm2_per_aircraft: float = 10.0) -> int:
    """Write the dense case as a DAIDALUS encounter file (local Euclidean `.xyz`): one time
    step per alerting ownship, the ownship first and its candidate-pair neighbours after
    it, so DAIDALUS and sharedsky compute the same bands. Returns the number of steps."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_wellclear import CONF, Stepper

    cfg = load_conf(CONF)
    snap = random_enroute(n, seed=7, nm2_per_aircraft=nm2_per_aircraft)
    stepper = Stepper(cfg, full=True)
    stepper(snap)
    _, i, j, level = stepper(snap)
    alerting = np.union1d(i[level > 0], j[level > 0])
    lines = ["NAME sx sy sz trk gs vs time", "[none] [nmi] [nmi] [ft] [deg] [knot] [fpm] [s]"]
    for t, own in enumerate(alerting):
        nb = np.concatenate([[own], j[i == own], i[j == own]])
        lat0 = math.radians(float(snap.lat_deg[own]))
        x = (snap.lon_deg[nb] - snap.lon_deg[own]) * 60.0 * math.cos(lat0)
        y = (snap.lat_deg[nb] - snap.lat_deg[own]) * 60.0
        for k, a in enumerate(nb):
            lines.append(f"AC{a:04d}, {x[k]:.6f}, {y[k]:.6f}, {snap.alt_ft[a]:.1f}, {snap.track_deg[a]:.6f}, "
                         f"{snap.gs_kt[a]:.6f}, {snap.vs_fpm[a]:.3f}, {float(t):.1f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return int(alerting.size)


def versus_daidalus(jar: Path) -> None:
    """Part 3: the dense case's ownships, one per step, through DAIDALUS's DaidalusBatch
    (Java, built from NASA's sources for this comparison only) and through sharedsky."""
    import subprocess
    import tempfile

    sys_conf = Path(__file__).resolve().parents[2] / "shared" / "data" / "daidalus" / "configurations"
    conf = sys_conf / "DO_365B_no_SUM.conf"
    with tempfile.TemporaryDirectory() as tmp:
        scn_path = Path(tmp) / "dense.xyz"
        n_steps = dense_daa(scn_path)
        t0 = time.perf_counter()
        subprocess.run(["java", "-cp", f"{jar}:{jar.parent.parent / 'src'}", "DaidalusBatch", "--conf", str(conf),
                        "--out", str(Path(tmp) / "out.txt"), str(scn_path)], check=True, capture_output=True)
        t_daidalus = time.perf_counter() - t0
        scn = read_daa(scn_path)
        t0 = time.perf_counter()
        steps = bands_scenario(scn, load_conf(conf))
        t_ours = time.perf_counter() - t0
    print(f"dense case, {n_steps} ownships (one per step): DAIDALUS DaidalusBatch (Java, incl. JVM start and its "
          f"text output) {t_daidalus:.1f} s = {t_daidalus / n_steps * 1000:.0f} ms per ownship; sharedsky "
          f"{t_ours:.1f} s = {t_ours / max(len(steps), 1) * 1000:.0f} ms per ownship")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--every", type=int, default=1, help="bands at every n-th step of each run")
    ap.add_argument("--skip-conformance", action="store_true")
    ap.add_argument("--n", type=int, default=1_000)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--per-ownship", action="store_true",
                    help="part 2 also times one OwnshipBands per ownship (the loop before batching)")
    ap.add_argument("--daidalus-jar", type=Path, default=None,
                    help="DAIDALUS v2 Java jar (lib/DAIDALUSv2.0.4.jar of a build of NASA's sources, "
                         "with the compiled example programs in ../src) for part 3")
    args = ap.parse_args()
    if not args.skip_conformance:
        conformance(args.every)
    scale(args.n, args.steps, per_ownship=args.per_ownship)
    scale(args.n, args.steps, nm2_per_aircraft=10.0, per_ownship=args.per_ownship)  # dense: many alerting ownships
    if args.daidalus_jar is not None:
        versus_daidalus(args.daidalus_jar)


if __name__ == "__main__":
    main()
