"""Well clear at scale: DO-365B alert levels for every aircraft pair, per step.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_wellclear.py            # 1k, 10k, 20k
    PYTHONPATH=src .venv/bin/python benchmarks/bench_wellclear.py --quick    # 1k only

Traffic: `sharedsky.sim.synthetic.random_enroute` (one aircraft per 200 NM^2, FL200-FL400,
70 % level). Configuration: DAIDALUS's own DO_365B_no_SUM.conf (Phase I alerter for every
aircraft; preventive, corrective and warning levels; M of N 2/4, persistence 4 s).

One step = the separation engine's broad phase (`candidate_pairs`, the same uniform grid
over swept volumes) with an envelope that cannot miss a DO-365 alert, then the closed-form
volume intervals of every level for every candidate pair, then the alerting state machine
(early alerting time, M of N, persistence) over those pairs. DO-365 without SUM is
symmetric (tests/test_daa_conformance.py checks it), so each unordered pair is computed
once and its level holds for both aircraft.

Envelope: a WCV_TAUMOD violation entered at time t has |s(t)| <= DTHR + TTHR |v_rel|
(from |s|^2 + TTHR s.v <= DTHR^2), and |v_rel| <= 2 gs_max; vertically |dz| <= ZTHR
(TCOA = 0). Alert levels only need entries before the largest early alerting time (75 s),
so the broad phase uses H = DTHR + 2 TTHR gs_max, V = max ZTHR, T = 75 s. With
`--full-lookahead` it uses T = lookahead (180 s), so times to volume are complete too.
At 1,000 aircraft the result is checked against every pair (no broad phase).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from sharedsky.agreement.daa_conf import load_conf
from sharedsky.alerting.wellclear import WellClearAlerting, WellClearConfig
from sharedsky.engine.separation import Kinematics, Minima, candidate_pairs
from sharedsky.engine.wellclear import PairStates, WcvTaumod
from sharedsky.ingest.snapshot import Snapshot
from sharedsky.sim.synthetic import random_enroute

CONF = Path(__file__).resolve().parents[2] / "shared" / "data" / "daidalus" / "configurations" / "DO_365B_no_SUM.conf"


def envelope(cfg: WellClearConfig, gs_max_kt: float, full: bool) -> Minima:
    """Separation minima whose swept volumes contain every pair that can alert."""
    alerter = cfg.alerters[0]
    h = v = 0.0
    for lv in alerter.levels:
        vol = lv.volume
        assert isinstance(vol, WcvTaumod) and vol.tcoa_s == 0.0
        h = max(h, vol.dthr_nm + vol.tthr_s * 2.0 * gs_max_kt / 3600.0)
        v = max(v, vol.zthr_ft)
    t = cfg.lookahead_s if full else max(min(lv.early_alerting_time_s, cfg.lookahead_s)
                                         for lv in alerter.levels)
    # Minima compare strictly; the volumes are closed: pad by a hair.
    return Minima.uniform(1, h + 1e-6, v + 1e-3, t, same_party=True)


def pair_states(kin: Kinematics, i: np.ndarray, j: np.ndarray) -> PairStates:
    """The separation engine's pair geometry (WGS84, mid-point tangent plane)."""
    g = kin.pairs(i, j)
    return PairStates(g.rh, g.wh, g.dz_ft, g.dvz_fts, kin.alt_ft[i])


class Stepper:
    """One snapshot per call, the alerting state carried across calls."""

    def __init__(self, cfg: WellClearConfig, full: bool) -> None:
        self.cfg, self.full = cfg, full
        self.alerting = WellClearAlerting(cfg)
        self.t = 0.0

    def __call__(self, snap: Snapshot) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        kin = Kinematics.of(snap)
        env = envelope(self.cfg, float(snap.gs_kt.max()), self.full)
        i, j = candidate_pairs(snap, kin, [env])
        keys = i.astype(np.int64) * len(snap) + j
        res = self.alerting.step(self.t, keys, np.ones(i.size, dtype=np.int64), pair_states(kin, i, j))
        self.t += 1.0
        return i.size, i, j, res.level


def all_pairs_levels(cfg: WellClearConfig, snap: Snapshot, chunk: int = 250_000) -> dict[tuple[int, int], int]:
    """Levels of every pair at a first step, no broad phase (the exactness check).

    At a pair's first step the M-of-N window starts from its raw level, so chunks with
    fresh alerting states give the same levels as one pass.
    """
    kin = Kinematics.of(snap)
    i_all, j_all = np.triu_indices(len(snap), 1)
    out: dict[tuple[int, int], int] = {}
    for s in range(0, i_all.size, chunk):
        i, j = i_all[s:s + chunk], j_all[s:s + chunk]
        res = WellClearAlerting(cfg).step(0.0, i.astype(np.int64) * len(snap) + j,
                                          np.ones(i.size, dtype=np.int64), pair_states(kin, i, j))
        on = res.level > 0
        out.update(zip(zip(i[on].tolist(), j[on].tolist(), strict=True), res.level[on].tolist(), strict=True))
    return out


def check_broad_phase(cfg: WellClearConfig, snap: Snapshot, full: bool) -> str:
    """First-step levels through the broad phase versus every pair."""
    n = len(snap)
    _, i, j, level = Stepper(cfg, full)(snap)
    mine = {(a, b): lv for a, b, lv in zip(i.tolist(), j.tolist(), level.tolist(), strict=True) if lv > 0}
    ref = all_pairs_levels(cfg, snap)
    return f"same as all {n * (n - 1) // 2:,} pairs: {mine == ref} ({len(ref)} alerting)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 aircraft only")
    ap.add_argument("--full-lookahead", action="store_true", help="broad phase over the 180 s lookahead")
    ap.add_argument("--conf", type=Path, default=CONF)
    ap.add_argument("--steps", type=int, default=7, help="steps timed per size (median)")
    args = ap.parse_args()
    cfg = load_conf(args.conf)
    sizes = [1_000] if args.quick else [1_000, 10_000, 20_000]
    print(f"DO-365B ({args.conf.name}), envelope T = "
          f"{'lookahead' if args.full_lookahead else 'max early alerting time'}; median of {args.steps} steps")
    print(f"{'N':>7s} {'candidate pairs':>16s} {'alerting pairs':>15s} {'levels 1/2/3':>14s} "
          f"{'median / step':>14s} {'min':>9s}  check")
    for n in sizes:
        snap = random_enroute(n, seed=7)
        step = Stepper(cfg, args.full_lookahead)
        step(snap)  # warm-up (also the first step of the M-of-N window)
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            k, i, j, level = step(snap)
            times.append(time.perf_counter() - t0)
        check = check_broad_phase(cfg, snap, args.full_lookahead) if n <= 1_000 else "-"
        counts = [int((level == lv).sum()) for lv in (1, 2, 3)]
        print(f"{n:7,d} {k:16,d} {int((level > 0).sum()):15,d} {'/'.join(map(str, counts)):>14s} "
              f"{statistics.median(times) * 1000:11.1f} ms {min(times) * 1000:6.1f} ms  {check}")
    # Dense traffic (one aircraft per 10 NM^2) so that the exactness check sees many alerts.
    dense = random_enroute(1_500, seed=8, nm2_per_aircraft=10.0)
    print(f"exactness, 1,500 aircraft at one per 10 NM^2: {check_broad_phase(cfg, dense, args.full_lookahead)}")


if __name__ == "__main__":
    main()
