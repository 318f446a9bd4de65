"""Time to build an incident dossier (HTML with figures, no PDF) from a large record (issue 16: < 10 s at 10^6).

Grows a record to N entries (report batches of other aircraft, one a 0.1 s), with a two-aircraft
encounter in its middle (the pair's reports for 5 minutes, a conflict and a loss of separation),
signs a checkpoint, then builds the dossier of the loss of separation by its seq in this process,
median of `--runs`.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_dossier.py --entries 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

AGREEMENT = """
[agreement]
name = "bench"
default_party = "unknown"
alert_levels = ["advisory", "warning"]
[[party]]
id = "blue"
name = "Blue"
colour = "#1f77b4"
[[party]]
id = "red"
name = "Red"
colour = "#d62728"
[[party]]
id = "unknown"
name = "Unattributed"
[[minima_default.level]]
name = "advisory"
h_nm = 10
v_ft = 2000
t_s = 300
[[minima_default.level]]
name = "warning"
h_nm = 5
v_ft = 1000
t_s = 120
"""


def _cols(icao: str, cs: str, t: float, lat: float, lon: float, trk: float) -> dict:
    return {"n": 1, "t_s": [t], "icao24": [icao], "callsign": [cs], "latitude": [lat], "longitude": [lon],
            "altitude": [20000.0], "groundspeed": [420.0], "track": [trk], "vertical_rate": [0.0]}


def grow(db: Path, n: int) -> int:
    """The record of about `n` entries; the loss of separation's seq."""
    from sharedsky.record.log import Record

    rec = Record(db)
    t0 = time.time() - n * 0.1 - 10
    mid = n // 2
    los = 0
    batch: list = []
    t = t0
    k = rec.size
    t_build = time.perf_counter()
    while k < n:
        t += 0.1
        k += 1
        items = [("reports", "blue", {"source": "blue", "columns": _cols(f"aa{k % 9999:04x}", "X", t, 30, 30, 0)}, None)]
        if mid <= k < mid + 3000 and k % 10 == 0:  # the pair, once a second for 5 minutes
            s = (k - mid) / 10
            items = [("reports", "blue", {"source": "blue", "columns": _cols("ab0001", "BLU1", t, 35.0, 36.0 + s * 0.0022, 90)}, None),
                     ("reports", "red", {"source": "red", "columns": _cols("bc0001", "RED1", t, 35.0, 37.3 - s * 0.0022, 270)}, None)]
            if k - mid == 1000:
                items.append(("conflict", "", {"to": ["blue", "red"], "event": {
                    "kind": "conflict", "state": "new", "level": "warning", "id": "c1", "a": "ab0001", "b": "bc0001",
                    "party_a": "blue", "party_b": "red", "t": t, "d_cpa_nm": 0.1, "dz_cpa_ft": 0, "t_cpa_s": 60,
                    "t_in_s": 40, "t_out_s": 80}}, None))
            if k - mid == 1400:
                items.append(("loss_of_separation", "", {"to": ["blue", "red"], "event": {
                    "kind": "loss_of_separation", "state": "start", "id": "l1", "a": "ab0001", "b": "bc0001",
                    "party_a": "blue", "party_b": "red", "t": t, "d_nm": 4.9, "dz_ft": 0}}, None))
        for it in items:
            batch.append((it, t))
        if len(batch) >= 1000 or k >= n:  # one time per batch (100 s of the record)
            entries = rec.append_many([b[0] for b in batch], t=batch[0][1])
            for e in entries:
                if e.kind == "loss_of_separation":
                    los = e.seq
            batch = []
            if k % 100_000 < 1000:
                print(f"  {rec.size:,} entries ({time.perf_counter() - t_build:.0f} s)", flush=True)
    rec.close()
    return los


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", type=Path, help="Keep (or reuse) the record here.")
    args = ap.parse_args()
    from sharedsky.agreement.load import loads_agreement
    from sharedsky.record.log import Record
    from sharedsky.record.notary import Notary, trust_of
    from sharedsky.reports.dossier import build_dossier, choose_incident
    from sharedsky.reports.dossier_source import RecordSource

    with tempfile.TemporaryDirectory(prefix="sharedsky-bench-dossier-") as td:
        db = args.db or Path(td) / "big.db"
        t = time.perf_counter()
        los = grow(db, args.entries)
        print(f"record: {args.entries:,} entries in {time.perf_counter() - t:.0f} s; loss of separation at {los}")
        ag = loads_agreement(AGREEMENT)
        rec = Record(db)
        Notary(rec, trust_of(ag, rec.public_key)).sign()
        key = rec.public_key
        rec.close()
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            src = RecordSource(db, trust_of(ag, key))
            inc = choose_incident(src, los, [], None, None)
            html = build_dossier(src, ag, inc)
            src.close()
            times.append(time.perf_counter() - t)
            print(f"  dossier: {len(html):,} bytes in {times[-1]:.2f} s")
        print(f"build a dossier (open, choose, cite, prove, draw, render) in a {args.entries:,}-entry record: "
              f"median {statistics.median(times):.2f} s of {args.runs}")


if __name__ == "__main__":
    main()
