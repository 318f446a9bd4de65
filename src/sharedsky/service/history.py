"""The past on the map: the air picture as it was at any moment, for the key that asks.

A picture of the past is rebuilt the way the engine loop builds the live one: the reports
of the last `WINDOW_S` before the moment go into a fresh track table (attributed as the
service attributed them), the table's snapshot at that moment goes through the one
assessment step, and the party's disclosure rule picks what it may see from the snapshot
and the step's conflicts (`engine_loop.Picture`). A value older than the snapshot's max
age is unknown in the live picture too, so a window a few times longer than the max age
gives the same snapshot as a table that had seen the whole past.

Two sources of reports: the record of a service (`RecordReports`: `serve --history`, and
the live service's own record for a link to a moment), and a recording read into memory
(`RecordingReports`: `replay RECORDING --map`). Events come from the hub as always, so a
party's past shows only what its streams showed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from sharedsky.alerting.step import Assessment
from sharedsky.ingest.tracks import TrackTable
from sharedsky.service.engine_loop import Picture
from sharedsky.service.reports import columns_from_payload

#: Reports read before the moment asked for (the live service rebuilds from 120 s too).
WINDOW_S = 120.0


class ReportSource(Protocol):
    """Report columns, with the party code of each row, received in a window of time."""

    def window(self, t0_s: float, t1_s: float, seq_max: int | None) -> tuple[dict[str, np.ndarray], np.ndarray]: ...

    def span(self) -> tuple[float, float]: ...


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


class RecordReports:
    """The report batches of a service's record: each as the service attributed it."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def window(self, t0_s: float, t1_s: float, seq_max: int | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        hub = self.hub
        parts: list[dict[str, np.ndarray]] = []
        codes: list[np.ndarray] = []
        # Entries are in seq order and their times increase with it: read from t0 - a margin
        # for the record's own clock, keep rows whose report time is inside the window.
        start = hub.record.first_seq_at(t0_s - WINDOW_S)
        for e in hub.record.entries(after=start - 1, kinds=["reports"]):
            if seq_max is not None and e.seq > seq_max:
                break
            if e.t > t1_s + WINDOW_S:
                break
            d = e.data
            cols = columns_from_payload(d["columns"])
            keep = (cols["t_s"] > t0_s) & (cols["t_s"] <= t1_s)
            if not keep.any():
                continue
            cols = {k: v[keep] for k, v in cols.items()}
            n = cols["t_s"].shape[0]
            source = str(d.get("source", e.party))
            cols["source"] = np.full(n, source, dtype=object)
            if e.party in hub.parties and not d.get("supervisor"):
                # a party's own reports are its own (the service refuses any other)
                code = np.full(n, hub.parties.index(e.party), dtype=np.int32)
            else:
                code = np.asarray(hub.agreement.attribute(cols["icao24"], cols["callsign"],
                                                          np.full(n, source, dtype=object)), dtype=np.int32)
            parts.append(cols)
            codes.append(code)
        if not parts:
            return {}, np.zeros(0, dtype=np.int32)
        return _concat(parts), np.concatenate(codes)

    def span(self) -> tuple[float, float]:
        first = next(iter(self.hub.record.entries(kinds=["reports"], page=1)), None)
        if first is None:
            return (float("nan"), float("nan"))
        cols = columns_from_payload(first.data["columns"])
        last_t = float(self.hub.clock())
        return (float(cols["t_s"].min()), last_t)


class RecordingReports:
    """A whole recording in memory, sorted by report time, with party codes."""

    def __init__(self, cols: dict[str, np.ndarray], party: np.ndarray) -> None:
        order = np.argsort(cols["t_s"], kind="stable")
        self.cols = {k: np.asarray(v)[order] for k, v in cols.items()}
        self.party = np.asarray(party, dtype=np.int32)[order]

    def window(self, t0_s: float, t1_s: float, seq_max: int | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        t = self.cols["t_s"]
        lo, hi = np.searchsorted(t, [t0_s, t1_s], side="right")
        return {k: v[lo:hi] for k, v in self.cols.items()}, self.party[lo:hi]

    def span(self) -> tuple[float, float]:
        t = self.cols["t_s"]
        return (float(t[0]), float(t[-1])) if t.shape[0] else (float("nan"), float("nan"))


@dataclass
class History:
    """Pictures of the past for a hub's keys, from one source of reports."""

    hub: Any
    source: ReportSource
    max_age_s: float = 20.0
    levels: Any = None  # minima levels (None: the agreement's)
    step_s: float = 1.0

    def span(self) -> dict[str, Any]:
        t0, t1 = self.source.span()
        return {"t0": None if t0 != t0 else t0, "t1": None if t1 != t1 else t1, "step_s": self.step_s,
                "last_seq": self.hub.last_seq}

    def picture(self, t_s: float, seq_max: int | None = None) -> Picture:
        """The air picture at `t_s` from the reports recorded up to `seq_max` (all if None)."""
        hub = self.hub
        cols, party = self.source.window(t_s - WINDOW_S, t_s, seq_max)
        table = TrackTable(hub.parties)
        if party.shape[0]:
            table.update_columns(cols, party)
        snap = table.snapshot(t_s, self.max_age_s)
        assessment = Assessment.for_agreement(hub.agreement, levels=self.levels, airspace=False, distress=False,
                                              wellclear=False)  # the picture needs the conflicts only
        return Picture(hub, snap, assessment.step(snap).conflicts, hub.last_seq if seq_max is None else seq_max)
