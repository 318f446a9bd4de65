"""Recordings to hour-partitioned Parquet, gated once: `sharedsky partition`.

Each input is read whole by the routine every command uses (`read_recording`), gated by
one `QualityGate` that runs across all inputs (in the order given: time order, as
hourly or daily files sort by name), motion derived after the gate as `replay` does, and
its accepted reports written as one part per hour it touches. The last input's reports
still waiting for a neighbour are decided by the gate's `flush` and written as parts of
their own (sequence 99999).

Resumable and idempotent: after each input the gate's state (taken before any flush) is
saved beside a manifest naming the inputs done (path, size, modification time). A run
over the same inputs finds them done and writes nothing; a run over the same inputs and
more (tomorrow's file) removes the flushed parts, restores the gate and goes on, so the
result is the one a single run over all inputs gives; a run interrupted part-way redoes
only the input it was in (its parts are named by input and overwritten).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.ingest.schema import epoch_s
from sharedsky.mine.store import (
    HOUR_S,
    MANIFEST,
    Store,
    hour_name,
    part_name,
    write_json,
    write_part,
)

STATE = "_gate_state.pkl"
FLUSH_SEQ = 99999
FORMAT_VERSION = 1


class PartitionError(ValueError):
    """The output directory holds partitions of other inputs, or an input cannot be read."""


@dataclass
class PartitionRun:
    """What a run did: inputs read now and before, reports, rejections, hours."""

    inputs_read: int = 0
    inputs_done_before: int = 0
    reports: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    suspect_tracks: int = 0
    hours: dict[str, int] = field(default_factory=dict)
    up_to_date: bool = False


def _identity(spec: str) -> dict[str, Any]:
    """What names an input: its resolved path, size and modification time."""
    p = Path(spec).resolve()
    st = p.stat()
    return {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_hours(store: Store, df: pd.DataFrame, input_no: int, seq: int) -> int:
    """Write the reports of `df` as one part per hour; returns how many were written."""
    if df.shape[0] == 0:
        return 0
    t = epoch_s(df["timestamp"])
    hour = (np.floor(t / HOUR_S) * HOUR_S).astype(np.int64)
    for h in np.unique(hour).tolist():
        part = df.loc[hour == h].reset_index(drop=True)
        part.attrs = {}
        write_part(store.root / hour_name(h) / part_name(input_no, seq), part)
    return int(df.shape[0])


def _remove_parts(store: Store, keep: Callable[[int, int], bool]) -> None:
    """Remove parts whose (input, sequence) `keep` refuses, and stale temporary files."""
    if not store.root.is_dir():
        return
    for d in store.root.glob("hour=*"):
        for p in list(d.glob("part-*.parquet*")):
            stem = p.name.split(".")[0]
            try:
                _, i, s = stem.split("-")
                ok = keep(int(i), int(s)) and not p.name.endswith(".tmp")
            except ValueError:
                ok = False
            if not ok:
                p.unlink()


def partition(inputs: list[str], out: Path, *, fmt: str | None = None, gate: bool = True,
              on_input: Callable[[int, str], None] | None = None) -> PartitionRun:
    """Partition `inputs` into `out` (see the module's docstring); `on_input(n, spec)` is
    called after each input is written (progress)."""
    from sharedsky.ingest.feeds import TrackBuilder
    from sharedsky.ingest.feeds.recordings import read_recording
    from sharedsky.ingest.quality import QualityGate

    if not inputs:
        raise PartitionError("no input given")
    try:
        ids = [_identity(s) for s in inputs]
    except OSError as exc:
        raise PartitionError(f"{exc.filename}: cannot read: {exc.strerror}") from exc
    store = Store(out)
    run = PartitionRun()
    man = store.manifest()
    done = 0
    state: dict[str, Any] = {"gate": QualityGate() if gate else None, "tracks": TrackBuilder(),
                             "reports": 0, "read_rejected": {}}
    if man is not None:
        done = int(man.get("done", 0))
        if man.get("version") != FORMAT_VERSION or man.get("gate") != gate or man["inputs"][:done] != ids[:done] \
                or len(ids) < done:
            raise PartitionError(f"{out} holds partitions of other inputs or options "
                                 f"({len(man['inputs'])} inputs, gate {man.get('gate')}); give another --out")
        if done == len(ids) and man.get("finished") and man["inputs"] == ids:
            run.up_to_date = True
            run.inputs_done_before = done
            _fill_counts(run, man)
            return run
        if done:
            with open(out / STATE, "rb") as fh:
                state = pickle.load(fh)
    run.inputs_done_before = done
    # Parts of inputs not done yet (an interrupted run) and the flushed parts (more input follows).
    _remove_parts(store, lambda i, s: i < done and s != FLUSH_SEQ)
    out.mkdir(parents=True, exist_ok=True)
    g, tracks = state["gate"], state["tracks"]
    for n in range(done, len(inputs)):
        spec = inputs[n]
        df = read_recording(spec, fmt)
        state["reports"] += int(df.shape[0])
        for reason, k in df.attrs.get("rejected", {}).items():
            state["read_rejected"][reason] = state["read_rejected"].get(reason, 0) + k
        accepted = tracks.update(g.filter(df) if g is not None else df)
        _write_hours(store, accepted, n, 0)
        tmp = out / (STATE + ".tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(state, fh)
        os.replace(tmp, out / STATE)
        write_json(out / MANIFEST, {"version": FORMAT_VERSION, "gate": gate, "inputs": ids,
                                    "done": n + 1, "finished": False})
        run.inputs_read += 1
        if on_input is not None:
            on_input(n, spec)
    if g is not None:
        _write_hours(store, tracks.update(g.flush()), len(inputs) - 1, FLUSH_SEQ)
    rejected = dict(state["read_rejected"])
    if g is not None:
        for reason, k in g.rejected.items():
            rejected[reason] = rejected.get(reason, 0) + k
    man = {"version": FORMAT_VERSION, "gate": gate, "inputs": ids, "done": len(inputs), "finished": True,
           "reports": state["reports"], "rejected": rejected,
           "suspect_tracks": len(g.suspect) if g is not None else 0, "hours": _hour_rows(store)}
    write_json(out / MANIFEST, man)
    _fill_counts(run, man)
    return run


def _hour_rows(store: Store) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {hour_name(h): sum(pq.ParquetFile(p).metadata.num_rows for p in store.parts(h))
            for h in store.hours()}


def _fill_counts(run: PartitionRun, man: dict[str, Any]) -> None:
    run.reports = int(man.get("reports", 0))
    run.rejected = dict(man.get("rejected", {}))
    run.suspect_tracks = int(man.get("suspect_tracks", 0))
    run.hours = dict(man.get("hours", {}))
    run.accepted = sum(run.hours.values())
