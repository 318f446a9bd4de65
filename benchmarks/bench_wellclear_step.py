"""Well clear in the assessment step: what `[minima.wellclear]` costs per step, at scale.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_wellclear_step.py            # 1k, 10k, 20k
    PYTHONPATH=src .venv/bin/python benchmarks/bench_wellclear_step.py --quick    # 1k only

Traffic: `sharedsky.sim.synthetic.random_enroute` (one aircraft per 200 NM^2, FL200-FL400,
70 % level) in two parties, under an agreement giving every pair of parties (each party's
own pairs too) a bare `[minima.wellclear]` (DO-365B without SUM, Phase I). The same
snapshot is stepped again each second (its time advanced), so the M-of-N state settles
as in a live picture. Per size, side by side in one run (medians over the timed steps):

* the whole assessment step without well clear (separation at the agreement's minima);
* the same step with well clear: levels of every (ownship, intruder) pair both ways, the
  bands of the corrective ownships (each every 2 s while its levels hold), and the events;
  median and mean, since steps with and without bands alternate; the bands of a step's due
  ownships in one batch (`wellclear_watch.ownships_bands`, as the step does it) and, on a
  second watch stepped alternately on the same snapshots, one `OwnshipBands` per ownship (tests/reference_bands.py; as
  the step did before the batch; the same events, checked);
* of which the levels alone (`WellClearWatch.levels`: broad phase with the DO-365 envelope
  over the 180 s lookahead, geometry, alerting state), and the cost of one ownship's bands.
"""

from __future__ import annotations

import argparse
import os
import statistics
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from sharedsky.agreement import loads_agreement
from sharedsky.alerting import wellclear_watch
from sharedsky.alerting.guidance import DIMENSIONS, DimensionBands
from sharedsky.alerting.step import Assessment
from sharedsky.alerting.wellclear import WellClearConfig
from sharedsky.ingest.snapshot import Snapshot
from sharedsky.sim.synthetic import random_enroute

AGREEMENT = textwrap.dedent("""\
    [agreement]
    name = "bench"
    default_party = "p1"
    alert_levels = ["warning"]
    [[party]]
    id = "p0"
    name = "P0"
    [party.attribution]
    icao_ranges = [["000000", "7fffff"]]
    [[party]]
    id = "p1"
    name = "P1"
    [minima_default]
    same_party = true
    [[minima_default.level]]
    name = "warning"
    h_nm = 5
    v_ft = 1000
    t_s = 120
    """)
PAIR = textwrap.dedent("""\
    [[minima]]
    parties = ["{a}", "{b}"]
    [[minima.level]]
    name = "warning"
    h_nm = 5
    v_ft = 1000
    t_s = 120
    [minima.wellclear]
    """)


def agreement(wellclear: bool):  # noqa: ANN201 - an Agreement
    text = AGREEMENT + ("".join(PAIR.format(a=a, b=b) for a, b in (("p0", "p0"), ("p0", "p1"), ("p1", "p1")))
                        if wellclear else "")
    return loads_agreement(text)


def one_by_one(cfg: WellClearConfig, snap: Snapshot, own: np.ndarray, nb: np.ndarray, sizes: np.ndarray,
               alerter: int, level: np.ndarray, init_time_s: np.ndarray) -> list[dict[str, DimensionBands]]:
    """`wellclear_watch.ownships_bands` ownship by ownship: one `OwnshipBands` each (the
    step's bands before the batch), in the same frames."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from reference_bands import OwnshipBands  # the per-ownship form, kept as the tests' reference

    frames = wellclear_watch.ownship_frames(snap, own, nb, sizes)
    ends = np.cumsum(sizes).tolist()
    out = []
    for fr, a, b in zip(frames, [0, *ends[:-1]], ends, strict=True):
        ob = OwnshipBands(cfg, fr, np.full(b - a, alerter, dtype=np.int64), level[a:b], init_time_s[a:b], snap.t_s)
        out.append({d: ob.dimension(d) for d in DIMENSIONS})
    return out


@contextmanager
def bands_by(fn: Callable[..., list[dict[str, DimensionBands]]]) -> Iterator[None]:
    """The step's bands computed by `fn` meanwhile."""
    batched = wellclear_watch.ownships_bands
    wellclear_watch.ownships_bands = fn
    try:
        yield
    finally:
        wellclear_watch.ownships_bands = batched


def run(n: int, steps: int) -> None:
    snap = random_enroute(n, seed=7, n_parties=2)
    snap = replace(snap, parties=("p0", "p1"))
    plain = Assessment.for_agreement(agreement(False), airspace=False, distress=False)
    wc = Assessment.for_agreement(agreement(True), airspace=False, distress=False)
    old = Assessment.for_agreement(agreement(True), airspace=False, distress=False)
    assert wc.wellclear is not None and old.wellclear is not None
    watch = wc.wellclear
    t_plain, t_wc, t_old, t_levels, n_events = [], [], [], [], []
    c_wc, c_old = [], []
    bands0 = 0
    for k in range(steps + 2):  # two warm-up steps (the M-of-N window fills)
        s = replace(snap, t_s=float(k))
        t0 = time.perf_counter()
        plain.step(s)
        t1, c1 = time.perf_counter(), time.process_time()
        events = [e for e in wc.step(s).events if e["kind"] == "wellclear"]
        t2, c2 = time.perf_counter(), time.process_time()
        with bands_by(one_by_one):
            events_old = [e for e in old.step(s).events if e["kind"] == "wellclear"]
        t3, c3 = time.perf_counter(), time.process_time()
        assert events_old == events, "one by one and batched give other events"
        if k == 1:
            bands0 = watch.counts["bands_computed"]
        if k >= 2:
            t_plain.append(t1 - t0)
            t_wc.append(t2 - t1)
            t_old.append(t3 - t2)
            c_wc.append(c2 - c1)
            c_old.append(c3 - c2)
            n_events.append(len(events))
    bands_per_step = (watch.counts["bands_computed"] - bands0) / steps
    corrective = sum(h.bands is not None for h in watch.open.values())
    # the levels alone, on a fresh watch stepped the same way
    fresh = Assessment.for_agreement(agreement(True), airspace=False, distress=False).wellclear
    assert fresh is not None
    for k in range(steps + 2):
        s = replace(snap, t_s=float(k))
        t0 = time.perf_counter()
        seen = fresh.levels(s)
        if k >= 2:
            t_levels.append(time.perf_counter() - t0)
    pairs = sum(x.own.size for x in seen)
    alerting = len({int(o) for x in seen for o in x.own[x.level > 0]})
    med = [statistics.median(x) * 1000 for x in (t_plain, t_wc, t_levels, t_old)]
    mean = [statistics.fmean(x) * 1000 for x in (t_plain, t_wc, t_levels, t_old)]

    def per(m: float) -> float:
        return (m - mean[0] - mean[2]) / bands_per_step if bands_per_step else float("nan")

    print(f"{n:7,d} {pairs:14,d} {alerting:9d} {corrective:10d} {med[0]:11.1f} ms "
          f"{med[1]:7.0f} /{mean[1]:6.0f} ms {med[3]:7.0f} /{mean[3]:6.0f} ms {mean[1] / mean[3]:6.2f} "
          f"{statistics.fmean(c_wc) / statistics.fmean(c_old):6.2f} {med[2]:10.1f} ms {bands_per_step:12.1f} "
          f"{per(mean[1]):6.1f} /{per(mean[3]):5.1f} ms {statistics.fmean(n_events):7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 aircraft only")
    ap.add_argument("--steps", type=int, default=7, help="steps timed per size (median)")
    args = ap.parse_args()
    print(f"DO-365B for every pair of parties; median of {args.steps} steps (after 2 warm-up steps); "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'N':>7s} {'ordered pairs':>14s} {'alerting':>9s} {'corrective':>10s} {'step, no WC':>14s} "
          f"{'WC batched':>16s} {'WC one by one':>16s} {'ratio':>6s} {'(CPU)':>6s} {'WC levels':>13s} "
          f"{'bands / step':>12s} {'per bands*':>16s} {'events':>7s}")
    for n in [1_000] if args.quick else [1_000, 10_000, 20_000]:
        run(n, args.steps)
    print("step with well clear: median / mean (steps with and without bands alternate); its bands in one batch "
          "(as the step does) or one OwnshipBands per ownship (as it did), the same events; ratio: batched / one "
          "by one, mean wall time and mean CPU time")
    print("* (mean step with WC - without - WC levels) / bands computed per step: one corrective ownship's "
          "bands in four dimensions, batched / one by one (a corrective ownship's bands are computed every 2 s "
          "while its levels hold)")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
