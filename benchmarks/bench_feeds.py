"""Frames decoded and tracked per second on one core (median of runs).

    .venv/bin/python benchmarks/bench_feeds.py [--copies 4] [--runs 5] [--batch 50000]

Input: the 57,793 raw frames of ../shared/data/adsb/full_flight_short.jsonl.gz, read
into memory first (JSON parsing is not timed), replicated `--copies` times as other
aircraft (addresses changed, parity recomputed) flying the same flight 0.37 s apart. Timed: `FrameDecoder.decode` in batches (hex/CRC/fields in numpy,
squitters through rs1090, CPR in numpy), then `QualityGate.filter`,
`TrackBuilder.update` (merged state, derived motion) and `TrackTable.update` on each
decoded batch. The process is pinned to one CPU and
rs1090's thread pool to one thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("RAYON_NUM_THREADS", "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from sharedsky.ingest.feeds.decode import FrameDecoder, crc_residual, hex_to_bytes  # noqa: E402
from sharedsky.ingest.feeds.derive import TrackBuilder  # noqa: E402
from sharedsky.ingest.quality import QualityGate  # noqa: E402
from sharedsky.ingest.tracks import TrackTable  # noqa: E402

DATA = Path(os.environ.get("SHAREDSKY_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def readdress(frames: list[str], delta: int) -> list[str]:
    """The same frames from another aircraft: address XOR `delta`, parity made valid again.

    DF11/17/18 carry the address in clear (parity recomputed over the new bytes, keeping
    DF11's interrogator code); the other replies overlay it on the parity (AP ^= delta).
    """
    out = list(frames)
    for n_chars in (14, 28):
        idx = [i for i, f in enumerate(frames) if len(f) == n_chars]
        if not idx:
            continue
        msg, ok = hex_to_bytes([frames[i] for i in idx], n_chars)
        msg = msg.copy()
        df = msg[:, 0] >> 3
        res = crc_residual(msg)
        clear = np.isin(df, (11, 17, 18))
        ap = np.isin(df, (0, 4, 5, 16, 20, 21))
        d = np.array([(delta >> 16) & 0xFF, (delta >> 8) & 0xFF, delta & 0xFF], dtype=np.uint8)
        msg[np.ix_(clear, np.array([1, 2, 3]))] ^= d
        zero = msg[clear].copy()
        zero[:, -3:] = 0
        par = crc_residual(zero) ^ res[clear]
        msg[clear, -3] = (par >> 16) & 0xFF
        msg[clear, -2] = (par >> 8) & 0xFF
        msg[clear, -1] = par & 0xFF
        msg[np.ix_(ap, np.array([-3, -2, -1]))] ^= d
        for j, i in enumerate(idx):
            out[i] = msg[j].tobytes().hex() if ok[j] else frames[i]
    return out


def load(copies: int) -> tuple[list[str], np.ndarray]:
    """The flight's frames and `copies - 1` more aircraft flying it (other addresses,
    0.37 s apart), merged in time order."""
    with gzip.open(DATA / "adsb" / "full_flight_short.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    frames = [r["frame"] for r in rows]
    t = np.array([r["timestamp"] for r in rows], dtype=np.float64)
    all_frames = list(frames)
    all_t = [t]
    for k in range(1, copies):
        all_frames += readdress(frames, (k * 0x010101) & 0xFFFFFF)
        all_t.append(t + 0.37 * k)
    tt = np.concatenate(all_t)
    order = np.argsort(tt, kind="stable")
    return [all_frames[i] for i in order], tt[order]


def run(frames: list[str], t: np.ndarray, batch: int, track: bool) -> tuple[float, float]:
    """(seconds for decode only, seconds for decode + gate + track table)."""
    dec = FrameDecoder()
    gate = QualityGate()
    builder = TrackBuilder()
    table = TrackTable()
    dec_s = 0.0
    t0 = time.perf_counter()
    for i in range(0, len(frames), batch):
        a = time.perf_counter()
        out = dec.decode(frames[i : i + batch], t[i : i + batch])
        dec_s += time.perf_counter() - a
        if track:
            table.update(builder.update(gate.filter(out)))
    return dec_s, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=50_000)
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to [default: the first allowed]")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
    frames, t = load(args.copies)
    n = len(frames)
    run(frames[:20_000], t[:20_000], args.batch, True)  # warm up imports and caches
    dec_rates, all_rates = [], []
    for _ in range(args.runs):
        dec_s, all_s = run(frames, t, args.batch, True)
        dec_rates.append(n / dec_s)
        all_rates.append(n / all_s)
    cmd = " ".join([Path(sys.executable).name, *sys.argv])
    print(f"bench_feeds: {cmd}")
    print(f"bench_feeds: {n:,} frames ({args.copies} aircraft x full_flight_short), batches of {args.batch:,}, one core, "
          f"{args.runs} runs")
    print(f"bench_feeds: decoded:                   median {statistics.median(dec_rates):>10,.0f} frames/s "
          f"(min {min(dec_rates):,.0f}, max {max(dec_rates):,.0f})")
    print(f"bench_feeds: decoded + gated + tracked: median {statistics.median(all_rates):>10,.0f} frames/s "
          f"(min {min(all_rates):,.0f}, max {max(all_rates):,.0f})")


if __name__ == "__main__":
    main()
