"""What carrying the engine's state costs the service each step (issue 13: a restarted
service resumes from it).

`n` aircraft at en-route density (`random_enroute`, two parties), flown straight for a
few steps through the one assessment step under an agreement with every carried stage on
(conflicts, resolution advisories, DO-365 well clear, distress). Per step: the step's own
time, then `carry` + `dumps` (what the engine loop does outside the hub's lock), the
state's size, and writing it beside a real record (SQLite, WAL, synchronous=FULL, the
service's settings) in a transaction of its own. Medians over the measured steps.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_carry.py                 # 10,000 aircraft
    PYTHONPATH=src .venv/bin/python benchmarks/bench_carry.py --aircraft 2000 --steps 10
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from service_support import agreement_text  # noqa: E402
from sharedsky.agreement.load import loads_agreement  # noqa: E402
from sharedsky.alerting.carry import context_of, dumps, sealer  # noqa: E402
from sharedsky.alerting.step import Assessment  # noqa: E402
from sharedsky.engine.heap import keep_freed_memory  # noqa: E402
from sharedsky.ingest.snapshot import Snapshot  # noqa: E402
from sharedsky.record.log import Record  # noqa: E402
from sharedsky.sim.synthetic import random_enroute  # noqa: E402


def flown(snap: Snapshot, dt_s: float) -> Snapshot:
    """The snapshot `dt_s` later, every aircraft straight on (flat Earth: a few seconds)."""
    d_nm = snap.gs_kt * dt_s / 3600.0
    trk = np.radians(snap.track_deg)
    lat = snap.lat_deg + d_nm * np.cos(trk) / 60.0
    lon = snap.lon_deg + d_nm * np.sin(trk) / (60.0 * np.cos(np.radians(snap.lat_deg)))
    return dataclasses.replace(snap, t_s=snap.t_s + dt_s, lat_deg=lat, lon_deg=lon,
                               alt_ft=snap.alt_ft + snap.vs_fpm * dt_s / 60.0,
                               last_report_s=snap.last_report_s + dt_s)


def _sealed(body: bytes, key: bytes, t: float) -> Callable[[int], bytes]:
    """The state as the service writes it: its MAC made for the record entry it goes with."""
    seal = sealer(body, key)
    return lambda seq: seal(context_of("engine", t, seq))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--aircraft", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=7, help="steps measured (after 3 not measured)")
    ap.add_argument("--no-wellclear", action="store_true", help="without the DO-365 well-clear stage")
    args = ap.parse_args()
    keep_freed_memory()
    agreement = loads_agreement(agreement_text(resolution=True, wellclear=not args.no_wellclear))
    snap = random_enroute(args.aircraft, seed=1, n_parties=2)
    snap = dataclasses.replace(snap, t_s=1.8e9, last_report_s=np.full(len(snap), 1.8e9),
                               parties=tuple(agreement.party_ids))
    a = Assessment.for_agreement(agreement)
    step_ms, carry_ms, write_ms, size_kb = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        record = Record(Path(tmp) / "s.db")
        for k in range(3 + args.steps):
            t0 = time.perf_counter()
            res = a.step(snap)
            t1 = time.perf_counter()
            body = dumps({"agreement": "-", "assessment": a.carry()}, record.state_key(), None)
            state = _sealed(body, record.state_key(), snap.t_s)  # hashed here, as in the service's `_carry`
            t2 = time.perf_counter()
            record.append_many([], snap.t_s, state=("engine", state))
            t3 = time.perf_counter()
            if k >= 3:
                step_ms.append((t1 - t0) * 1e3)
                carry_ms.append((t2 - t1) * 1e3)
                write_ms.append((t3 - t2) * 1e3)
                size_kb.append(len(body) / 1e3)
            snap = flown(snap, 1.0)
        record.close()
    open_alerts = len(a.conflicts._alerts)
    held = len(a.advisories.held) if a.advisories is not None else 0
    wc = a.wellclear
    wc_rows = sum(al._keys.size for al in wc.alerting) if wc is not None else 0
    print(f"bench_carry: {args.aircraft:,} aircraft (random_enroute, 2 parties), {args.steps} steps measured; "
          f"at the end {open_alerts:,} open conflicts, {held:,} held advisories, "
          f"{len(wc.open) if wc is not None else 0:,} well-clear alerts, {wc_rows:,} well-clear pair states, "
          f"{len(res.events):,} events in the last step")
    med = float(np.median(step_ms))
    print(f"  assessment step        median {med:,.0f} ms")
    print(f"  carry + dumps          median {np.median(carry_ms):,.1f} ms ({np.median(carry_ms) / med:.1%} of the step), "
          f"max {max(carry_ms):,.1f} ms")
    print(f"  state size             median {np.median(size_kb):,.0f} kB")
    print(f"  write beside record    median {np.median(write_ms):,.1f} ms (own transaction, fsync)")


if __name__ == "__main__":
    main()
