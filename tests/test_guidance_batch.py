"""Bands for many ownships at once (`guidance_batch.bands_for_ownships`) equal the bands
of each ownship alone (`OwnshipBands`): every interval bound, region, recovery time,
reduction count, recovery cylinder and peripheral aircraft, bit for bit.

Two kinds of input: random dense traffic around many ownships in one batch (ownships
with no traffic, climbing ones, SUM sensor errors on some frames and not others, alert
levels already shown with early alerting times), and the steps of DAIDALUS's own
scenarios under each of its eight configurations (CD3D, TCAS3D, SUM, instantaneous
bands, several alerters), all sampled steps of a run in one batch.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from sharedsky.agreement.daa_conf import load_conf
from sharedsky.alerting.daa_bands import _frame
from sharedsky.alerting.daa_run import ownship_row
from sharedsky.alerting.guidance import DIMENSIONS, DimensionBands
from sharedsky.alerting.guidance_batch import BandsInput, bands_for_ownships
from sharedsky.alerting.wellclear import WellClearAlerting, WellClearConfig
from sharedsky.engine.bands import Frame
from sharedsky.ingest.daa import read_daa

from conftest import SHARED_DATA
from reference_bands import OwnshipBands

DAA = SHARED_DATA / "daidalus"
REF = DAA / "reference"


def _same(a: DimensionBands, b: DimensionBands) -> bool:
    return (a.dim == b.dim and a.value == b.value and a.region == b.region
            and np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high)
            and np.array_equal([a.recovery_time_s, a.recovery_h_nm, a.recovery_v_ft],
                               [b.recovery_time_s, b.recovery_h_nm, b.recovery_v_ft], equal_nan=True)
            and a.recovery_nfactor == b.recovery_nfactor
            and len(a.peripheral) == len(b.peripheral)
            and all(np.array_equal(x, y) for x, y in zip(a.peripheral, b.peripheral, strict=True)))


def _check(cfg: WellClearConfig, ins: list[BandsInput]) -> tuple[int, int]:
    """Compare the batch with each ownship alone; (results compared, with a conflict band)."""
    batch = bands_for_ownships(cfg, ins)
    assert len(batch) == len(ins)
    busy = 0
    for p, x in enumerate(ins):
        ob = OwnshipBands(cfg, x.frame, x.alerter_idx, x.out_level, x.init_time_s, x.t_s)
        for d, got in zip(DIMENSIONS, batch[p], strict=True):
            want = ob.dimension(d)
            assert _same(got, want), (p, d, got, want)
            busy += any(r != "NONE" for r in want.region)
    return len(ins) * len(DIMENSIONS), busy


def _random_ownships(rng: np.random.Generator, n_own: int, errors: bool) -> list[BandsInput]:
    out = []
    for o in range(n_own):
        n = 0 if o == 3 else int(rng.integers(1, 12 if errors else 30))
        trk = rng.uniform(0, 2 * np.pi, n)
        gs = rng.uniform(150.0, 450.0, n) / 3600.0
        own_trk = rng.uniform(0, 2 * np.pi)
        own_gs = rng.uniform(200.0, 400.0) / 3600.0
        z0 = 30000.0
        own_vz = 25.0 if o % 4 == 1 else 0.0
        err = None
        if errors and o % 2 == 0 and n:
            err = (np.full(n, 0.05), np.full(n, 30.0), np.full(n, 5.0), np.full(n, 50.0))
        fr = Frame(np.zeros(2), own_gs * np.array([np.sin(own_trk), np.cos(own_trk)]), z0, own_vz,
                   rng.uniform(-6.0, 6.0, (2, n)), np.vstack([gs * np.sin(trk), gs * np.cos(trk)]),
                   z0 + rng.choice([-2000.0, -600.0, -300.0, 0.0, 300.0, 1500.0], n),
                   rng.choice([0.0, 0.0, -20.0, 20.0], n), err)
        level = rng.integers(0, 4, n).astype(np.int64)
        init = np.where(rng.random(n) < 0.5, rng.uniform(0.0, 9.0, n), np.nan)
        out.append(BandsInput(fr, np.ones(n, dtype=np.int64), level, init, 10.0))
    return out


@pytest.mark.parametrize("conf", ["DO_365B_no_SUM", "DO_365B_SUM"])
def test_batch_equals_each_ownship_in_dense_traffic(conf: str) -> None:
    """Twelve ownships among up to 30 (SUM: 12) close neighbours each, one batch."""
    path = DAA / "configurations" / f"{conf}.conf"
    if not path.exists():
        pytest.skip("no DAIDALUS configuration")
    cfg = load_conf(path)
    compared, busy = _check(cfg, _random_ownships(np.random.default_rng(5), 12, errors="SUM" in conf))
    print(f"{conf}: {compared} results equal, {busy} with a conflict band")
    assert compared == 48 and busy >= 12, busy


def _steps(stem: str, every: int, last: int = 10**9) -> tuple[WellClearConfig, list[BandsInput]]:
    """Every `every`-th step of a reference run up to step `last` as bands inputs
    (alerting at every step)."""
    with open(REF / "MANIFEST.csv", newline="", encoding="utf-8") as fh:
        m = next(r for r in csv.DictReader(fh) if r["stem"] == stem)
    cfg = load_conf(REF / m["configuration"])
    scn = read_daa(REF / m["scenario_input"])
    alerting = WellClearAlerting(cfg)
    ins: list[BandsInput] = []
    for n, rows in enumerate(scn.steps[: last + 1]):
        own = ownship_row(scn, rows, None)
        if own is None:
            continue
        traffic = rows[rows != own]
        frame, pairs = _frame(scn, own, traffic)
        j = traffic.astype(np.intp)
        a_idx = np.full(j.size, scn.alerter[own]) if cfg.ownship_centric else scn.alerter[j]
        t = float(scn.time_s[own])
        keys = np.char.add(np.char.add(scn.name[np.full(j.size, own)], "\x1f"), scn.name[j])
        alerting.step(t, keys, a_idx, pairs)
        level, init = alerting.state_of(keys)
        if n % every == 0:
            ins.append(BandsInput(frame, a_idx.astype(np.int64), level, init, t))
    return cfg, ins


#: One run per configuration (SUM configurations on the scenario with sensor errors,
#: one on the scenario with wind).
RUNS = ["H1__Buffered_DWC_SC_228_nom_a", "C1_0_120_W__Buffered_DWC_SC_228_nom_b", "H1__CD3D",
        "H1_SUM__DO_365A_SUM", "C1_0_120__DO_365A_no_SUM", "H1_SUM__DO_365B_SUM", "H1__DO_365B_no_SUM",
        "H1__TCAS3D"]


@pytest.mark.skipif(not (REF / "MANIFEST.csv").exists(), reason=f"no DAIDALUS reference at {REF}")
def test_batch_equals_each_ownship_on_daidalus_runs() -> None:
    """Every 40th step of one run per configuration (every 20th of the first 100 with sensor
    errors, whose alerting is slow), each run's steps in one batch."""
    total = busy = 0
    for stem in RUNS:
        cfg, ins = _steps(stem, 20, 100) if "SUM" in stem.split("__")[0] else _steps(stem, 40)
        n, b = _check(cfg, ins)
        total, busy = total + n, busy + b
    print(f"DAIDALUS runs: {total} results equal, {busy} with a conflict band")
    assert total >= 8 * 4 * 4 and busy >= 40, (total, busy)


def test_no_ownship_and_no_traffic() -> None:
    """An empty batch is empty; an ownship alone has NONE everywhere."""
    path = DAA / "configurations" / "DO_365B_no_SUM.conf"
    if not path.exists():
        pytest.skip("no DAIDALUS configuration")
    cfg = load_conf(path)
    assert bands_for_ownships(cfg, []) == []
    alone = Frame(np.zeros(2), np.array([0.0, 0.1]), 20000.0, 0.0, np.zeros((2, 0)), np.zeros((2, 0)),
                  np.zeros(0), np.zeros(0))
    (res,) = bands_for_ownships(cfg, [BandsInput(alone, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                                                 np.zeros(0), 0.0)])
    assert [d.dim for d in res] == list(DIMENSIONS) and all(d.region == ("NONE",) for d in res)


def test_ownships_beyond_their_speed_ranges() -> None:
    """Ownships diving and climbing at 8,000 fpm and flying at 750 kt, beyond DO-365B's
    +-6,000 fpm and 700 kt bands ranges (the simulator's dives do it), in one batch with a
    level one, each closing on traffic: the batch equals each alone, and a vertical speed
    beyond the range leaves no candidate on that side (before engine.bands' fix, the batch
    gave the dive and the climb a RECOVERY band of their own on the side beyond, and
    `OwnshipBands` raised)."""
    path = DAA / "configurations" / "DO_365B_no_SUM.conf"
    if not path.exists():
        pytest.skip("no DAIDALUS configuration")
    cfg = load_conf(path)
    rng = np.random.default_rng(1)

    def ownship(vs_fpm: float, gs_kt: float = 400.0, n: int = 6) -> BandsInput:
        s = np.vstack([rng.uniform(-1.0, 1.0, n), rng.uniform(1.0, 5.0, n)])
        v = np.vstack([np.zeros(n), np.full(n, -400.0 / 3600.0)])  # head-on
        z = 20000.0 + rng.choice([-1500.0, -500.0, 0.0, 400.0], n)
        fr = Frame(np.zeros(2), np.array([0.0, gs_kt / 3600.0]), 20000.0, vs_fpm / 60.0, s, v, z, np.zeros(n))
        return BandsInput(fr, np.ones(n, dtype=np.int64), np.full(n, 2, dtype=np.int64), np.full(n, np.nan), 10.0)

    ins = [ownship(0.0), ownship(-8000.0), ownship(8000.0), ownship(0.0, gs_kt=750.0)]
    compared, busy = _check(cfg, ins)
    assert compared == 16 and busy >= 8, busy
    vs = DIMENSIONS.index("vs")
    for p in (1, 2):
        b = bands_for_ownships(cfg, [ins[p]])[0][vs]
        assert b.low[0] == pytest.approx(cfg.bands.min_vs_fpm) and b.high[-1] == pytest.approx(cfg.bands.max_vs_fpm)
        assert len(b.region) == 1, b  # the head-on traffic makes every vertical speed alike
