"""Benchmark of the record as a Merkle log (issue 15).

Grows one record to `--entries` (10^6 by default) in batches, and measures, side by side:

- append + checkpoint cost per entry near 10^4 entries and near the end (a batch of
  `--batch` entries appended in one transaction, then a checkpoint signed; medians);
- an inclusion proof at the final size (a random leaf, median of 200) and a consistency
  proof between random sizes;
- opening the record (`Record(db)`) and starting the service's state on it
  (`Hub(agreement, db)`), each in a fresh process: wall time and peak RSS.

Entries are a realistic mix: report batches of three parties, with every tenth entry a
conflict event addressed to two parties.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_record.py                 # 10^6 entries
    PYTHONPATH=src .venv/bin/python benchmarks/bench_record.py --entries 20000  # quick
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sharedsky.record.checkpoint import Trust
from sharedsky.record.log import Record
from sharedsky.record.merkle import verify_consistency, verify_inclusion
from sharedsky.record.notary import Notary

REPO = Path(__file__).resolve().parents[1]
AGREEMENT = """
[agreement]
name = "bench record"
default_party = "unknown"
[[party]]
id = "a"
name = "A"
[[party]]
id = "b"
name = "B"
[[party]]
id = "c"
name = "C"
[[party]]
id = "unknown"
name = "Unattributed"
"""


def items(start: int, n: int) -> list[tuple[str, str, dict, None]]:
    out: list[tuple[str, str, dict, None]] = []
    for i in range(start, start + n):
        if i % 10 == 0:
            out.append(("conflict", "", {"to": ["a", "b"], "event": {
                "state": "new", "level": "warning", "a": f"aa{i % 9999:04d}", "b": f"bb{i % 9999:04d}",
                "party_a": "a", "party_b": "b", "t_in_s": 90.0, "d_cpa_nm": 1.2}}, None))
        else:
            p = "abc"[i % 3]
            out.append(("reports", p, {"source": p, "columns": {"icao24": [f"{p}{i % 99999:05d}"],
                                                                 "latitude": [36.0], "longitude": [37.0]}}, None))
    return out


def timed_batches(rec: Record, notary: Notary, batch: int, repeat: int, t: float) -> float:
    """Median seconds per entry of `repeat` (append `batch` entries + sign a checkpoint)."""
    per: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rec.append_many(items(rec.size, batch), t=t)
        notary.sign()
        per.append((time.perf_counter() - t0) / batch)
    return statistics.median(per)


OPEN_SCRIPT = """
import resource, sys, time
t0 = time.perf_counter()
if sys.argv[1] == "record":
    from sharedsky.record.log import Record
    r = Record(sys.argv[2]); n = r.size
else:
    from sharedsky.agreement import load_agreement
    from sharedsky.service.store import Hub
    h = Hub(load_agreement(sys.argv[3]), sys.argv[2]); n = h.record.size
print(n, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def open_in_fresh_process(what: str, db: Path, agreement: Path) -> tuple[int, float, float]:
    out = subprocess.run([sys.executable, "-c", OPEN_SCRIPT, what, str(db), str(agreement)], check=True,
                         capture_output=True, text=True, cwd=REPO).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100, help="entries per timed append (one checkpoint each)")
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--dir", type=Path, default=None, help="where to build the record (default: a temp dir)")
    args = ap.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_record_"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "record.db"
    agreement = work / "agreement.toml"
    agreement.write_text(AGREEMENT)
    rec = Record(db)
    notary = Notary(rec, Trust("sharedsky/bench-record", rec.key.public_key(), {}, 0))
    t_old = time.time() - 86400
    fill = 10_000
    t0 = time.perf_counter()
    while rec.size < 10_000 - args.batch * args.repeat:
        rec.append_many(items(rec.size, min(fill, 10_000 - args.batch * args.repeat - rec.size)), t=t_old)
    small = timed_batches(rec, notary, args.batch, args.repeat, t_old)
    small_size = rec.size
    while rec.size < args.entries - args.batch * args.repeat:
        rec.append_many(items(rec.size, min(fill, args.entries - args.batch * args.repeat - rec.size)), t=t_old)
        notary.sign()
    large = timed_batches(rec, notary, args.batch, args.repeat, t_old)
    build_s = time.perf_counter() - t0
    n = rec.size
    rng = random.Random(1)
    root = rec.root(n)
    inc: list[float] = []
    for _ in range(200):
        seq = rng.randint(1, n)
        t1 = time.perf_counter()
        proof = rec.inclusion(seq, n)
        inc.append(time.perf_counter() - t1)
        verify_inclusion(rec.tree.leaf(seq - 1), seq - 1, n, proof, root)
    con: list[float] = []
    for _ in range(200):
        s1 = rng.randint(1, n - 1)
        t1 = time.perf_counter()
        proof = rec.consistency(s1, n)
        con.append(time.perf_counter() - t1)
        verify_consistency(s1, n, proof, rec.root(s1), root)
    rec.close()
    size_mb = sum(f.stat().st_size for f in work.glob("record.db*")) / 1e6
    opened = open_in_fresh_process("record", db, agreement)
    hub = open_in_fresh_process("hub", db, agreement)
    print(json.dumps({"entries": n, "build_s": round(build_s, 1), "db_mb": round(size_mb, 1)}))
    print(f"| append + checkpoint per entry (batches of {args.batch}) | at {small_size:,} entries | "
          f"{small * 1e6:.0f} us | at {n:,} entries | {large * 1e6:.0f} us | ratio {large / small:.2f} |")
    print(f"| inclusion proof at {n:,} entries (median of 200) | {statistics.median(inc) * 1e3:.3f} ms | "
          f"max {max(inc) * 1e3:.3f} ms |")
    print(f"| consistency proof to {n:,} entries (median of 200) | {statistics.median(con) * 1e3:.3f} ms | "
          f"max {max(con) * 1e3:.3f} ms |")
    print(f"| open the record ({opened[0]:,} entries), fresh process | {opened[1]:.2f} s | "
          f"peak RSS {opened[2]:.0f} MB |")
    print(f"| start the service's state (Hub) on it | {hub[1]:.2f} s | peak RSS {hub[2]:.0f} MB |")


if __name__ == "__main__":
    main()
