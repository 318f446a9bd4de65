"""Guidance bands against NASA DAIDALUS v2.0.4's own outputs (issue 12, bands step).

Every scenario x configuration run of ../shared/data/daidalus/reference/MANIFEST.csv is
computed with sharedsky and its bands compared with DAIDALUS's `.bands.csv`: a (time,
dimension) row agrees when it has the same number of intervals and every interval's
low and high are within 1 deg, 1 kt, 10 fpm or 100 ft and its region is the same. The
agreement per configuration and dimension is printed (run with -s to see it).

To keep the suite's time small, bands are computed at every `EVERY`-th step of each run
(alerting, whose hysteresis the bands depend on, still runs at every step); the
`sharedsky daa --bands` command computes every step. With M-of-N hysteresis the N - 1
steps before each sampled one are computed too; resolutions' persistence reaches further
back, so sampled guidance agrees a little less than a full run (benchmarks/bench_bands.py
measures every step). Floors are the agreement measured when this test was written: it
may only go up.
"""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest

from sharedsky.agreement.daa_conf import load_conf
from sharedsky.alerting.daa_bands import (
    alerts_csv_lines,
    bands_csv_lines,
    bands_scenario,
    guidance_csv_lines,
)
from sharedsky.ingest.daa import read_daa

from conftest import SHARED_DATA
from reference_bands import OwnshipBands

REF = SHARED_DATA / "daidalus" / "reference"
TOL = {"hdir": 1.0, "hs": 1.0, "vs": 10.0, "alt": 100.0}
EVERY = 60
DIMS = ("hdir", "hs", "vs", "alt")


def _manifest() -> list[dict[str, str]]:
    path = REF / "MANIFEST.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


MANIFEST = _manifest()
needs_reference = pytest.mark.skipif(not MANIFEST, reason=f"no DAIDALUS reference at {REF}")

Row = tuple[float, float, str]


def _reference(stem: str) -> dict[tuple[float, str], list[Row]]:
    out: dict[tuple[float, str], list[Row]] = defaultdict(list)
    with open(REF / f"{stem}.bands.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out[(float(r["time_s"]), r["dimension"])].append((float(r["low"]), float(r["high"]), r["region"]))
    return out


def _same(dim: str, mine: list[Row], ref: list[Row]) -> bool:
    return len(mine) == len(ref) and all(
        abs(a[0] - b[0]) <= TOL[dim] and abs(a[1] - b[1]) <= TOL[dim] and a[2] == b[2]
        for a, b in zip(mine, ref, strict=True))


#: Guidance columns compared, with their tolerance (None: equal as text; per dimension
#: for resolutions): region of the current value, resolutions, preferred direction,
#: recovery time (s), distances (nmi, ft), reduction count, peripheral aircraft.
GUIDANCE = (("region_of_current_value", None), ("resolution_up_or_right", "dim"),
            ("resolution_down_or_left", "dim"), ("preferred", None), ("recovery_time_s", 0.5),
            ("recovery_hdist", 0.01), ("recovery_vdist", 1.0), ("recovery_nfactor", None),
            ("peripheral_MID", None), ("peripheral_NEAR", None))


def _field_same(a: str, b: str, tol: float | None) -> bool:
    if tol is None:
        return a == b
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y) or math.isinf(x) or math.isinf(y):
        return (math.isnan(x) and math.isnan(y)) or x == y
    return abs(x - y) <= tol


@cache
def run(stem: str) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Bands per dimension and guidance per column: (rows compared, rows that agree)."""
    m = next(x for x in MANIFEST if x["stem"] == stem)
    cfg = load_conf(REF / m["configuration"])
    scn = read_daa(REF / m["scenario_input"])
    ref = _reference(stem)
    counts = {d: [0, 0] for d in DIMS}
    steps = bands_scenario(scn, cfg, every=EVERY)
    for st in steps:
        for d in st.dims:
            mine = list(zip(d.low.tolist(), d.high.tolist(), d.region, strict=True))
            counts[d.dim][0] += 1
            counts[d.dim][1] += _same(d.dim, mine, ref.get((st.time_s, d.dim), []))
    with open(REF / f"{stem}.guidance.csv", newline="", encoding="utf-8") as fh:
        gref = {(r["time_s"], r["dimension"]): r for r in csv.DictReader(fh)}
    gcount = {c: [0, 0] for c, _ in GUIDANCE}
    for row in csv.DictReader(guidance_csv_lines(steps)):
        r = gref[(row["time_s"], row["dimension"])]
        for c, tol in GUIDANCE:
            t = TOL[row["dimension"]] if tol == "dim" else tol
            gcount[c][0] += 1
            gcount[c][1] += _field_same(row[c], r[c], t if not isinstance(t, str) else None)
    return ({d: (n, ok) for d, (n, ok) in counts.items()},
            {c: (n, ok) for c, (n, ok) in gcount.items()})


#: Agreement measured per configuration (all four dimensions together), the floor.
FLOORS = {
    "Buffered_DWC_SC_228_nom_a": 0.99,
    "Buffered_DWC_SC_228_nom_b": 0.99,
    "CD3D": 0.99,
    "DO_365A_SUM": 0.96,
    "DO_365A_no_SUM": 0.99,
    "DO_365B_SUM": 0.96,
    "DO_365B_no_SUM": 0.99,
    "TCAS3D": 0.99,
}


@needs_reference
def test_bands_agreement_per_configuration() -> None:
    """All 56 runs (sampled steps); prints the agreement per configuration and dimension."""
    assert len(MANIFEST) == 56
    by_conf: dict[str, dict[str, list[int]]] = defaultdict(lambda: {d: [0, 0] for d in DIMS})
    for m in MANIFEST:
        conf = m["stem"].split("__")[1]
        for d, (n, ok) in run(m["stem"])[0].items():
            by_conf[conf][d][0] += n
            by_conf[conf][d][1] += ok
    print(f"\nDAIDALUS v2.0.4 bands conformance (every {EVERY}th step; intervals within "
          "1 deg, 1 kt, 10 fpm, 100 ft, same region)")
    print(f"{'configuration':28s} {'rows':>5s} " + " ".join(f"{d:>7s}" for d in DIMS) + f" {'all':>7s}")
    failures = []
    for conf, per in sorted(by_conf.items()):
        n_all = sum(v[0] for v in per.values())
        ok_all = sum(v[1] for v in per.values())
        frac = ok_all / n_all
        cells = " ".join(f"{per[d][1] / per[d][0]:7.1%}" for d in DIMS)
        print(f"{conf:28s} {n_all:5d} {cells} {frac:7.1%}")
        if frac < FLOORS.get(conf, 0.95):
            failures.append(f"{conf}: {frac:.1%} < floor {FLOORS.get(conf, 0.95):.0%}")
    assert not failures, failures


#: Guidance agreement measured over all runs (sampled steps), per column: the floor.
GUIDANCE_FLOORS = {
    "region_of_current_value": 0.99, "resolution_up_or_right": 0.94, "resolution_down_or_left": 0.97,
    "preferred": 0.99, "recovery_time_s": 0.99, "recovery_hdist": 0.99, "recovery_vdist": 0.99,
    "recovery_nfactor": 0.99, "peripheral_MID": 0.99, "peripheral_NEAR": 0.99,
}
SHORT = {"region_of_current_value": "region", "resolution_up_or_right": "res up", "resolution_down_or_left":
         "res low", "preferred": "pref", "recovery_time_s": "rec t", "recovery_hdist": "rec h",
         "recovery_vdist": "rec v", "recovery_nfactor": "nfac", "peripheral_MID": "per MID",
         "peripheral_NEAR": "per NEAR"}


@needs_reference
def test_guidance_agreement() -> None:
    """All 56 runs (sampled steps): each guidance column against DAIDALUS's .guidance.csv
    (resolutions within the band tolerances, recovery time within 0.5 s)."""
    total: dict[str, list[int]] = {c: [0, 0] for c, _ in GUIDANCE}
    by_conf: dict[str, dict[str, list[int]]] = defaultdict(lambda: {c: [0, 0] for c, _ in GUIDANCE})
    for m in MANIFEST:
        conf = m["stem"].split("__")[1]
        for c, (n, ok) in run(m["stem"])[1].items():
            for acc in (total[c], by_conf[conf][c]):
                acc[0] += n
                acc[1] += ok
    print("\nDAIDALUS v2.0.4 guidance conformance per column (all runs)")
    for conf, per in sorted(by_conf.items()):
        print(f"{conf:28s} " + " ".join(f"{SHORT[c]} {per[c][1] / per[c][0]:.1%}" for c in per))
    low = {c: v[1] / v[0] for c, v in total.items() if v[1] / v[0] < GUIDANCE_FLOORS[c]}
    print("all runs", {c: f"{v[1] / v[0]:.1%}" for c, v in total.items()})
    assert not low, low


ALERTS_EVERY = 120
LTM = ("hdir", "hs", "vs", "alt")


@needs_reference
def test_last_time_to_manoeuvre() -> None:
    """All 56 runs at every 120th step: the last time to manoeuvre per intruder and
    dimension against DAIDALUS's .alerts.csv (equal within 1 s, or both NaN / -inf)."""
    ok = {d: [0, 0] for d in LTM}
    by_conf: dict[str, dict[str, list[int]]] = defaultdict(lambda: {d: [0, 0] for d in LTM})
    for m in MANIFEST:
        lines = alerts_csv_lines(read_daa(REF / m["scenario_input"]), load_conf(REF / m["configuration"]),
                                 every=ALERTS_EVERY)
        with open(REF / f"{m['stem']}.alerts.csv", newline="", encoding="utf-8") as fh:
            ref = {(r["time_s"], r["intruder"]): r for r in csv.DictReader(fh)}
        conf = m["stem"].split("__")[1]
        for r in csv.DictReader(lines):
            f = ref[(r["time_s"], r["intruder"])]
            assert r["alert_level"] == f["alert_level"], (m["stem"], r["time_s"])
            for d in LTM:
                c = f"last_time_{d}_maneuver_s"
                x, y = float(r[c]), float(f[c])
                same = (math.isnan(x) and math.isnan(y)) or x == y or abs(x - y) <= 1.0
                for acc in (ok[d], by_conf[conf][d]):
                    acc[0] += 1
                    acc[1] += same
    print("\nLast time to manoeuvre within 1 s of DAIDALUS (every 120th step)")
    for conf, per in sorted(by_conf.items()):
        print(f"{conf:28s} " + " ".join(f"{d} {per[d][1] / per[d][0]:.1%}" for d in LTM))
    frac = {d: v[1] / v[0] for d, v in ok.items()}
    print("all runs", {d: f"{v:.1%}" for d, v in frac.items()})
    assert all(v >= 0.99 for v in frac.values()), frac


@needs_reference
def test_daa_command_writes_the_bands_layout(tmp_path: Path) -> None:
    """`sharedsky daa --bands` writes the reference layout; a CD3D run agrees row for row
    on at least 99 % of its (time, dimension) rows; `--guidance` writes one row per time
    and dimension in the reference guidance layout, `--alerts` one row per time and
    intruder in the reference alerts layout."""
    out = tmp_path / "b.csv"
    conf = SHARED_DATA / "daidalus" / "configurations" / "CD3D.conf"
    scn = SHARED_DATA / "daidalus" / "scenarios" / "H0_0_120.daa"
    res = subprocess.run([sys.executable, "-m", "sharedsky.cli", "daa", str(scn), "--conf", str(conf),
                          "--alerting", str(tmp_path / "a.csv"), "--bands", str(out),
                          "--guidance", str(tmp_path / "g.csv"), "--alerts", str(tmp_path / "al.csv")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    ref_lines = (REF / "H0_0_120__CD3D.bands.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == ref_lines[0].strip()
    mine: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for ln in lines[1:]:
        f = ln.split(",")
        mine[(f[0], f[1])].append((float(f[4]), float(f[5]), f[6]))
    ref = _reference("H0_0_120__CD3D")
    keys = [(t, d) for (t, d) in ref]
    same = sum(_same(d, mine.get((f"{t:.1f}", d), []), ref[(t, d)]) for t, d in keys)
    assert same / len(keys) >= 0.99, f"{same}/{len(keys)}"
    g = (tmp_path / "g.csv").read_text(encoding="utf-8").splitlines()
    assert g[0] == (REF / "H0_0_120__CD3D.guidance.csv").read_text(encoding="utf-8").splitlines()[0].strip()
    assert len(g) == 1 + 4 * 121
    al = (tmp_path / "al.csv").read_text(encoding="utf-8").splitlines()
    ref_al = (REF / "H0_0_120__CD3D.alerts.csv").read_text(encoding="utf-8").splitlines()
    assert al[0] == ref_al[0].strip() and len(al) == len(ref_al)


def test_bands_lines_name_every_interval() -> None:
    """The CSV writer: one row per interval, DAIDALUS's number style."""
    if not MANIFEST:
        pytest.skip("no reference data")
    m = next(x for x in MANIFEST if x["stem"] == "C0_0_120__CD3D")
    steps = bands_scenario(read_daa(REF / m["scenario_input"]), load_conf(REF / m["configuration"]), every=60)
    lines = bands_csv_lines(steps)
    assert lines[0] == "time_s,dimension,unit,index,low,high,region"
    assert lines[1].startswith("0.0,hdir,deg,0,0.0,")


def test_daa_bands_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    """An output that cannot be written exits 2 naming it; the ownship alone gets
    all-NONE bands."""
    scn = tmp_path / "tiny.xyz"
    scn.write_text("NAME sx sy sz trk gs vs time\n"
                   "[none] [nmi] [nmi] [ft] [deg] [knot] [fpm] [s]\n"
                   "Own, 0.0, 0.0, 15000.0, 90.0, 120.0, 0.0, 0.0\n"
                   "Own, 0.033, 0.0, 15000.0, 90.0, 120.0, 0.0, 1.0\n", encoding="utf-8")
    conf = SHARED_DATA / "daidalus" / "configurations" / "CD3D.conf"
    if not conf.exists():
        pytest.skip("no DAIDALUS configuration")
    bad = tmp_path / "missing" / "b.csv"
    res = subprocess.run([sys.executable, "-m", "sharedsky.cli", "daa", str(scn), "--conf", str(conf),
                          "--alerting", str(tmp_path / "a.csv"), "--bands", str(bad)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and str(bad) in res.stderr and "cannot write" in res.stderr
    ok = tmp_path / "b.csv"
    res = subprocess.run([sys.executable, "-m", "sharedsky.cli", "daa", str(scn), "--conf", str(conf),
                          "--alerting", str(tmp_path / "a.csv"), "--bands", str(ok)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = ok.read_text(encoding="utf-8").splitlines()[1:]
    assert len(rows) == 8 and all(r.endswith(",NONE") for r in rows)


def test_prefilter_changes_no_band() -> None:
    """Leaving out the aircraft that no manoeuvre of a dimension can reach (the engine's
    shortcut for dense traffic) gives the same bands as computing every aircraft: random
    traffic around five ownships (some close in altitude, some climbing), DO-365B, all
    four dimensions."""
    import numpy as np

    from sharedsky.alerting.guidance import DIMENSIONS
    from sharedsky.engine.bands import Frame

    conf = SHARED_DATA / "daidalus" / "configurations" / "DO_365B_no_SUM.conf"
    if not conf.exists():
        pytest.skip("no DAIDALUS configuration")
    cfg = load_conf(conf)
    rng = np.random.default_rng(11)
    compared = busy = 0
    for _ in range(5):
        n = 12
        trk = rng.uniform(0, 2 * np.pi, n)
        gs = rng.uniform(150.0, 450.0, n) / 3600.0
        fr = Frame(np.zeros(2), np.array([0.0, 300.0 / 3600.0]), 30000.0, 0.0,
                   rng.uniform(-12.0, 12.0, (2, n)), np.vstack([gs * np.sin(trk), gs * np.cos(trk)]),
                   30000.0 + rng.choice([-2000.0, -600.0, -300.0, 0.0, 300.0, 1500.0], n),
                   rng.choice([0.0, 0.0, -20.0, 20.0], n))
        args = (cfg, fr, np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.full(n, np.nan), 0.0)
        fast, slow = OwnshipBands(*args), OwnshipBands(*args, prefilter=False)
        for d in DIMENSIONS:
            a, b = fast.dimension(d), slow.dimension(d)
            assert a.region == b.region and np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high), d
            compared += 1
            busy += any(r != "NONE" for r in a.region)
    assert compared == 20 and busy >= 8, busy
