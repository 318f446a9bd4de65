"""Well clear against NASA DAIDALUS v2.0.4's own outputs (issue 12, alerting step).

Every scenario x configuration run listed in ../shared/data/daidalus/reference/MANIFEST.csv
is computed with sharedsky (readers, engine, alerting) and compared row by row with
DAIDALUS's `DaidalusAlerting` output: the alert level of every (time, ownship, traffic)
row, and the time to the corrective volume where finite. The agreement per
configuration is printed (run with -s to see it).

SUM (WCV_TAUMOD_SUM) is modelled from its definition (a violation for some state within
the z-scored position and velocity errors; velocity errors sampled on 32 directions), not
from DAIDALUS's exact construction. On H1_SUM, the only scenario with non-zero
uncertainty, its times to the corrective volume run 0.015-0.046 s later than DAIDALUS's
(inside the 0.05 s tolerance); one row (t = 116 s, DAIDALUS 49.996 s against a 50 s
alerting time) therefore alerts one step late. If a SUM run falls outside the tolerance
it xfails with the measured figure instead of failing silently.

Plus a property: DO-365 without SUM is symmetric, A seeing B gives the same level and
time to corrective volume as B seeing A, at every step.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from sharedsky.agreement.daa_conf import DaaConfError, conf_from_text, load_conf
from sharedsky.alerting.daa_run import alert_scenario, alerting_csv_lines
from sharedsky.alerting.wellclear import WellClearAlerting
from sharedsky.engine.wellclear import WcvTaumod, pairs_flat, pairs_geodetic
from sharedsky.ingest.daa import DaaScenarioError, parse_daa_text, read_daa

from conftest import SHARED_DATA

DAA = SHARED_DATA / "daidalus"
REF = DAA / "reference"
TIME_TOL_S = 0.05


def _manifest() -> list[dict[str, str]]:
    path = REF / "MANIFEST.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


MANIFEST = _manifest()
RUNS = [m["stem"] for m in MANIFEST]


@dataclass(frozen=True)
class RunResult:
    stem: str
    config: str
    rows: int
    same_level: int
    corr_rows: int  # rows where either side has a finite time to the corrective volume
    corr_within: int  # of those, rows within TIME_TOL_S (both finite) or both infinite
    corr_max_err_s: float  # over rows where both are finite
    corr_one_sided: int  # rows finite on one side only
    uncertain: bool  # scenario with non-zero sensor uncertainty under a SUM configuration
    fields: int  # every field of every data row, times to volume aside
    fields_equal: int  # equal as printed, or numerically within 1e-3
    ttv_fields: int  # the "Time to Volume of Alert(k)" fields
    ttv_equal: int

    @property
    def level_agreement(self) -> float:
        return self.same_level / self.rows if self.rows else 1.0


def _read_reference(stem: str) -> list[list[str]]:
    with open(REF / f"{stem}.alerting.csv", newline="", encoding="utf-8") as fh:
        return [[f.strip() for f in row] for row in csv.reader(fh)][2:]


def _close(x: str, y: str) -> bool:
    try:
        return abs(float(x.replace("infty", "inf")) - float(y.replace("infty", "inf"))) <= 1e-3
    except ValueError:
        return False


@cache
def run(stem: str) -> RunResult:
    """Compute one run and compare it with DAIDALUS's reference output."""
    m = next(x for x in MANIFEST if x["stem"] == stem)
    cfg = load_conf(REF / m["configuration"])
    scn = read_daa(REF / m["scenario_input"])
    table = alert_scenario(scn, cfg)
    ref = _read_reference(stem)
    assert len(ref) == len(table), f"{stem}: {len(table)} rows, reference has {len(ref)}"
    ref_time = np.array([float(r[0]) for r in ref])
    assert np.array_equal(ref_time, table.time_s), f"{stem}: row times differ"
    assert [r[2] for r in ref] == table.traffic.tolist(), f"{stem}: traffic differs"
    ref_level = np.array([int(r[4]) for r in ref])
    ref_alerter = np.array([int(r[3]) for r in ref])
    assert np.array_equal(ref_alerter, table.alerter), f"{stem}: alerter column differs"
    corr = np.array([cfg.corrective_level(int(a)) for a in table.alerter])
    ref_tc = np.array([float(r[4 + c].replace("infty", "inf")) for r, c in zip(ref, corr, strict=True)])
    mine_tc = table.time_to_volume_s[np.arange(len(table)), corr - 1]
    either = np.isfinite(ref_tc) | np.isfinite(mine_tc)
    both = np.isfinite(ref_tc) & np.isfinite(mine_tc)
    diff = np.abs(np.where(both, ref_tc, 0.0) - np.where(both, mine_tc, 0.0))
    err = np.where(both, diff, np.where(either, np.inf, 0.0))
    fields = fields_equal = ttv_fields = ttv_equal = 0
    ttv_cols = range(5, 5 + cfg.max_levels)
    for mine_line, ref_row in zip(alerting_csv_lines(table, cfg.max_levels)[2:], ref, strict=True):
        for c, (x, y) in enumerate(zip([f.strip() for f in mine_line.split(",")], ref_row, strict=True)):
            same = x == y or _close(x, y)
            if c in ttv_cols:
                ttv_fields, ttv_equal = ttv_fields + 1, ttv_equal + same
            else:
                fields, fields_equal = fields + 1, fields_equal + same
    sum_conf = "WCV_TAUMOD_SUM" in (REF / m["configuration"]).read_text()
    uncertain = sum_conf and bool((scn.h_pos_std_nm > 0).any() or (scn.v_pos_std_ft > 0).any())
    return RunResult(
        stem=stem, config=stem.split("__")[1], rows=len(ref),
        same_level=int((ref_level == table.level).sum()),
        corr_rows=int(either.sum()), corr_within=int((err[either] <= TIME_TOL_S).sum()),
        corr_max_err_s=float(diff[both].max()) if both.any() else 0.0,
        corr_one_sided=int((either & ~both).sum()), uncertain=uncertain,
        fields=fields, fields_equal=fields_equal, ttv_fields=ttv_fields, ttv_equal=ttv_equal,
    )


needs_reference = pytest.mark.skipif(not MANIFEST, reason=f"no DAIDALUS reference at {REF}")


@needs_reference
def test_agreement_per_configuration() -> None:
    """All 56 runs; prints alert-level and corrective-time agreement per configuration."""
    assert len(RUNS) == 56
    by_conf: dict[str, list[RunResult]] = defaultdict(list)
    for stem in RUNS:
        r = run(stem)
        by_conf[r.config].append(r)
    print("\nDAIDALUS v2.0.4 conformance (alert levels; time to corrective volume within 0.05 s)")
    print(f"{'configuration':28s} {'runs':>4s} {'rows':>5s} {'levels equal':>14s} {'worst run':>10s} "
          f"{'t_corr within':>14s} {'max err s':>10s} {'one-sided':>9s}")
    for conf, rs in sorted(by_conf.items()):
        rows = sum(r.rows for r in rs)
        same = sum(r.same_level for r in rs)
        worst = min(r.level_agreement for r in rs)
        cr = sum(r.corr_rows for r in rs)
        cw = sum(r.corr_within for r in rs)
        mx = max(r.corr_max_err_s for r in rs)
        one = sum(r.corr_one_sided for r in rs)
        print(f"{conf:28s} {len(rs):4d} {rows:5d} {100 * same / rows:13.2f}% {100 * worst:9.2f}% "
              f"{100 * cw / max(cr, 1):13.2f}% {mx:10.4f} {one:9d}")
    assert set(by_conf) == {m["configuration"].rsplit("/", 1)[-1].removesuffix(".conf") for m in MANIFEST}


@needs_reference
@pytest.mark.parametrize("stem", RUNS)
def test_alert_levels(stem: str) -> None:
    """Alert levels equal on >= 99 % of rows of every run, and on every row of CD3D."""
    r = run(stem)
    need = 1.0 if r.config == "CD3D" else 0.99
    assert r.level_agreement >= need, f"{stem}: {r.same_level}/{r.rows} levels equal"


@needs_reference
@pytest.mark.parametrize("stem", RUNS)
def test_time_to_corrective_volume(stem: str) -> None:
    """Time to the corrective volume within 0.05 s wherever either side has one."""
    r = run(stem)
    ok = r.corr_within == r.corr_rows
    if not ok and r.uncertain:
        pytest.xfail(f"SUM with sensor uncertainty is modelled, not DAIDALUS's construction: {r.corr_within}/{r.corr_rows} "
                     f"rows within {TIME_TOL_S} s, max error {r.corr_max_err_s:.3f} s where both "
                    f"finite, {r.corr_one_sided} rows finite on one side only")
    assert ok, (f"{stem}: {r.corr_within}/{r.corr_rows} within {TIME_TOL_S} s, max "
                f"{r.corr_max_err_s:.4f} s, {r.corr_one_sided} one-sided")


@needs_reference
@pytest.mark.parametrize("stem", RUNS)
def test_every_column(stem: str) -> None:
    """Every field of every row (alerter, separations, closure rates, HMD/VMD/TCPA/DCPA/
    TCOA/TAUMOD) within 1e-3 of DAIDALUS's; the times to every volume too, except under
    SUM with real uncertainty, where they are held to 0.05 s by the test above. (The
    alert level column is held by test_alert_levels.)"""
    r = run(stem)
    level_rows = r.rows - r.same_level  # a different level is counted by its own test
    assert r.fields_equal + level_rows == r.fields, f"{stem}: {r.fields_equal}/{r.fields} fields equal"
    if not r.uncertain:
        assert r.ttv_equal == r.ttv_fields, f"{stem}: {r.ttv_equal}/{r.ttv_fields} times to volume equal"


@needs_reference
def test_csv_layout_matches_daidalus() -> None:
    """Same two header rows and the same alert-level column, line by line, on one run."""
    stem = "C0_0_120__DO_365B_no_SUM"
    m = next(x for x in MANIFEST if x["stem"] == stem)
    cfg = load_conf(REF / m["configuration"])
    lines = alerting_csv_lines(alert_scenario(read_daa(REF / m["scenario_input"]), cfg), cfg.max_levels)
    ref = (REF / f"{stem}.alerting.csv").read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ref[:2]
    assert [x.split(",")[:5] for x in lines[2:]] == [x.split(",")[:5] for x in ref[2:]]


# --- Readers: errors name key/column and line ----------------------------------------


def test_conf_errors_name_key_and_line() -> None:
    base = (DAA / "configurations" / "DO_365B_no_SUM.conf").read_text(encoding="utf-8")
    bad_unit = base.replace("DWC_Phase_I_det_2_WCV_DTHR = 0.66 [nmi]", "DWC_Phase_I_det_2_WCV_DTHR = 0.66 [s]")
    line = next(n for n, t in enumerate(bad_unit.splitlines(), 1) if t.startswith("DWC_Phase_I_det_2_WCV_DTHR"))
    with pytest.raises(DaaConfError, match=rf"line {line}: DWC_Phase_I_det_2_WCV_DTHR: unit \[s\]"):
        conf_from_text(bad_unit, "x.conf")
    with pytest.raises(DaaConfError, match=r"line 4: expected 'key = value \[unit\]'"):
        conf_from_text("# a\n# b\nlookahead_time = 180 [s]\nnonsense line\n", "y.conf")
    with pytest.raises(DaaConfError, match=r"not a number"):
        conf_from_text(base.replace("lookahead_time = 180.0 [s]", "lookahead_time = soon [s]"))
    with pytest.raises(DaaConfError, match=r"DWC_Phase_I_alert_2_spread_hdir: non-zero spreads"):
        conf_from_text(base.replace("DWC_Phase_I_alert_2_spread_hdir = 0.0 [deg]",
                                    "DWC_Phase_I_alert_2_spread_hdir = 5.0 [deg]"))
    with pytest.raises(DaaConfError, match=r"dta_logic: the DAA terminal area logic"):
        conf_from_text(base.replace("dta_logic = 0", "dta_logic = 1"))
    cfg = conf_from_text(base)
    assert cfg.lookahead_s == 180.0 and cfg.alerting_m == 2 and cfg.alerting_n == 4
    # Bands keys are read into the bands configuration (units converted); keys no step
    # uses yet are kept verbatim.
    assert cfg.bands.turn_rate_degs == 3.0 and cfg.bands.vertical_rate_fpm == 500.0
    assert cfg.bands.v_accel_ms2 == pytest.approx(0.25 * 9.80665)
    assert cfg.bands.min_h_recovery_nm == pytest.approx(0.66) and cfg.bands.alerting_m == 2
    assert cfg.bands.persistence_preferred == pytest.approx((15.0, 100.0, 250.0, 250.0))
    assert cfg.extra["contour_thr"] == "180.0 [deg]"
    with pytest.raises(DaaConfError, match=r"turn_rate: unit \[ft\] is a length"):
        conf_from_text(base.replace("turn_rate = 3.0 [deg/s]", "turn_rate = 3.0 [ft]"))
    vol = cfg.alerters[1].levels[0].volume
    assert isinstance(vol, WcvTaumod)
    assert vol.dthr_nm == pytest.approx(1500 * 0.3048 / 1852)


def test_scenario_errors_name_line_and_column() -> None:
    head = "NAME lat lon alt trk gs vs time\n[none] [deg] [deg] [ft] [deg] [knot] [fpm] [s]\n"
    with pytest.raises(DaaScenarioError, match=r"line 4: column 'gs': not a number"):
        parse_daa_text(head + "A, 1, 2, 3, 4, 5, 6, 0\nB, 1, 2, 3, 4, x, 6, 0\n", "s.daa")
    with pytest.raises(DaaScenarioError, match=r"line 2: column 'alt': unit \[s\] not accepted"):
        parse_daa_text(head.replace("[ft]", "[s]"), "s.daa")
    scn = parse_daa_text(head + "A, 0, 0, 1000, 90, 360, 0, 0\nB, 0, 1, 1000, 270, 360, 0, 0\n"
                         "A, 0, 0.1, 1000, 90, 360, 0, 1\n", "s.daa")
    assert [s.tolist() for s in scn.steps] == [[0, 1], [2]]
    assert scn.ve_kt[0] == pytest.approx(360.0) and abs(scn.vn_kt[0]) < 1e-9


# --- Property: symmetry of DO-365 without SUM ------------------------------------------


@pytest.mark.parametrize("frame", ["flat", "wgs84"])
def test_do365_without_sum_is_symmetric(frame: str) -> None:
    """(A sees B) and (B sees A) give the same level and time to corrective volume at every
    step, for random encounters flown over 120 s with DO-365B (no SUM) persistence."""
    cfg = load_conf(DAA / "configurations" / "DO_365B_no_SUM.conf")
    rng = np.random.default_rng(12)
    k = 2000
    # Two aircraft per encounter, set up to pass within a few NM around t = 60..120 s.
    lat = np.concatenate([rng.uniform(-60, 60, k), np.zeros(k)])
    lon = np.concatenate([rng.uniform(-179, 179, k), np.zeros(k)])
    lat[k:], lon[k:] = lat[:k] + rng.uniform(-0.2, 0.2, k), lon[:k] + rng.uniform(-0.2, 0.2, k)
    alt = rng.uniform(5000, 30000, 2 * k)
    alt[k:] = alt[:k] + rng.choice([0.0, 200.0, -400.0, 700.0], k) + rng.uniform(-300, 300, k)
    ve, vn = rng.uniform(-400, 400, 2 * k), rng.uniform(-400, 400, 2 * k)
    vs = rng.choice([0.0, 0.0, 1500.0, -1500.0], 2 * k) + rng.uniform(-500, 500, 2 * k)
    a, b = np.arange(k), np.arange(k, 2 * k)
    alerter = np.full(k, cfg.alerters.index(cfg.alerters[0]) + 1, dtype=np.int64)
    ab, ba = WellClearAlerting(cfg), WellClearAlerting(cfg)
    keys_ab = keys_ba = np.arange(k, dtype=np.int64)
    x, y = lon * 60.0, lat * 60.0  # a flat frame in NM for the flat case
    levels_seen: set[int] = set()
    for t in range(0, 120):
        dt = float(t)
        if frame == "flat":
            xs, ys = x + ve * dt / 3600, y + vn * dt / 3600
            p_ab = pairs_flat(xs, ys, alt + vs * dt / 60, ve, vn, vs, a, b)
            p_ba = pairs_flat(xs, ys, alt + vs * dt / 60, ve, vn, vs, b, a)
        else:
            la, lo = lat + vn * dt / 3600 / 60, lon + ve * dt / 3600 / 60 / np.cos(np.radians(lat))
            p_ab = pairs_geodetic(la, lo, alt + vs * dt / 60, ve, vn, vs, a, b)
            p_ba = pairs_geodetic(la, lo, alt + vs * dt / 60, ve, vn, vs, b, a)
        r_ab = ab.step(dt, keys_ab, alerter, p_ab)
        r_ba = ba.step(dt, keys_ba, alerter, p_ba)
        assert np.array_equal(r_ab.level, r_ba.level), f"t={t}: levels differ"
        corr = cfg.corrective_level(1) - 1
        assert np.array_equal(r_ab.intervals[corr].time_to_volume_s, r_ba.intervals[corr].time_to_volume_s)
        levels_seen |= set(np.unique(r_ab.level).tolist())
    assert levels_seen >= {0, 1, 2, 3}, levels_seen  # the property was exercised at every level


def test_manifest_is_complete_if_present(shared_data: Path) -> None:
    if not MANIFEST:
        pytest.skip("no reference")
    for m in MANIFEST:
        assert (REF / f"{m['stem']}.alerting.csv").exists()


@needs_reference
def test_cli_writes_daidalus_alerting_csv(tmp_path: Path) -> None:
    """`sharedsky daa SCENARIO --conf CONF --alerting OUT` as a user runs it."""
    from conftest import run_cli

    out = tmp_path / "out.csv"
    scn, conf = DAA / "scenarios" / "H0_0_120.xyz", DAA / "configurations" / "TCAS3D.conf"
    r = run_cli("daa", str(scn), "--conf", str(conf), "--alerting", str(out), timeout=120)
    assert r.returncode == 0, r.stderr
    mine = out.read_text(encoding="utf-8").splitlines()
    ref = (REF / "H0_0_120_xyz__TCAS3D.alerting.csv").read_text(encoding="utf-8").splitlines()
    assert mine[:2] == ref[:2] and len(mine) == len(ref)
    assert [x.split(",")[4] for x in mine] == [x.split(",")[4] for x in ref]
    # Bands for another aircraft of the file as ownship (tests/test_daa_bands.py checks
    # bands against DAIDALUS's).
    r = run_cli("daa", str(scn), "--conf", str(conf), "--ownship", "Intruder", "--bands", str(tmp_path / "b.csv"),
                timeout=300)
    assert r.returncode == 0, r.stderr
    bands = (tmp_path / "b.csv").read_text(encoding="utf-8").splitlines()
    assert bands[0] == "time_s,dimension,unit,index,low,high,region" and len(bands) > 4 * 121
    r = run_cli("daa", str(scn), "--conf", str(conf), "--ownship", "Nobody")
    assert r.returncode == 2 and "no aircraft named 'Nobody'" in r.stderr
    r = run_cli("daa", str(scn), "--conf", str(conf), "--ownship", "Intruder")
    assert r.returncode == 0 and ", Intruder, Ownship, " in r.stdout
