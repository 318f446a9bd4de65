"""The track table: one row per aircraft holding its latest state, updated in batches.

Messages of different kinds arrive separately (a position here, a velocity there), so
each column keeps the last non-missing value it was given, and the time of the last
position is kept apart: dead reckoning starts from it. Updates and snapshots are
vectorised over the batch; the only per-aircraft Python work is none.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sharedsky.ingest.schema import epoch_s
from sharedsky.ingest.slots import SlotStore
from sharedsky.ingest.snapshot import DEFAULT_MAX_AGE_S, Snapshot, build_snapshot

FLOAT_COLS = ("latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate")
TEXT_COLS = ("callsign", "squawk", "emergency", "source")


def _last_per_slot(slot: NDArray[np.intp]) -> NDArray[np.intp]:
    """Index of the last row of each distinct slot (rows are in time order)."""
    rev = slot[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    return slot.shape[0] - 1 - first_in_rev


class TrackTable:
    """Latest state per aircraft; `snapshot(t)` gives the engine's view at an instant."""

    def __init__(self, parties: tuple[str, ...] = ("default",)) -> None:
        self.parties = parties
        spec: dict[str, tuple[object, object]] = {c: (np.float64, np.nan) for c in FLOAT_COLS}
        spec.update({"t_pos_s": (np.float64, -np.inf), "t_report_s": (np.float64, -np.inf),
                     "onground": (bool, False), "party": (np.int32, 0)})
        spec.update({c: (object, "") for c in TEXT_COLS})
        self._store = SlotStore(spec)
        # Numeric and text columns live in one dict (the names differ).
        self._f = self._t = self._store.cols

    def _slots(self, ids: np.ndarray) -> NDArray[np.intp]:
        return self._store.slots(ids)

    def __len__(self) -> int:
        return len(self._store)

    @property
    def ids(self) -> np.ndarray:
        return self._store.ids

    # -- updates -----------------------------------------------------------------
    def update(self, reports: pd.DataFrame, party: np.ndarray | None = None) -> None:
        """Merge a batch of normalised reports (any order); `party` codes per row."""
        if reports.shape[0] == 0:
            return
        cols: dict[str, np.ndarray] = {"t_s": epoch_s(reports["timestamp"])}
        cols["icao24"] = reports["icao24"].to_numpy(dtype=object)
        for c in FLOAT_COLS:
            if c in reports:
                cols[c] = reports[c].to_numpy(dtype=np.float64)
        for c in (*TEXT_COLS, "onground"):
            if c in reports:
                cols[c] = reports[c].to_numpy()
        self.update_columns(cols, party)

    def update_columns(self, cols: Mapping[str, np.ndarray], party: np.ndarray | None = None) -> None:
        """Merge a batch given as arrays: `t_s`, `icao24` and any report columns."""
        t = np.asarray(cols["t_s"], dtype=np.float64)
        if t.shape[0] == 0:
            return
        order = np.argsort(t, kind="stable")
        t = t[order]
        slot = self._slots(np.asarray(cols["icao24"], dtype=object)[order])
        # Never let an older report overwrite a newer state.
        newer = t >= self._f["t_report_s"][slot]
        last = _last_per_slot(slot[newer])
        s_all, t_all = slot[newer], t[newer]
        self._f["t_report_s"][s_all[last]] = t_all[last]
        if party is not None:
            self._f["party"][s_all[last]] = np.asarray(party)[order][newer][last]
        for c in (*FLOAT_COLS, *TEXT_COLS, "onground"):
            if c not in cols:
                continue
            v = np.asarray(cols[c])[order][newer]
            if c in FLOAT_COLS:
                has = ~pd.isna(v)
            elif c in TEXT_COLS:
                has = v != ""
            else:
                has = np.ones(v.shape, dtype=bool)
            if not has.any():
                continue
            s, vv, tt = s_all[has], v[has], t_all[has]
            k = _last_per_slot(s)
            self._f[c][s[k]] = vv[k]
            if c == "latitude":
                self._f["t_pos_s"][s[k]] = tt[k]

    def expire(self, t_s: float, coast_s: float) -> int:
        """Forget aircraft not heard from for `coast_s`; returns how many ended."""
        return self._store.keep(self._f["t_report_s"] >= t_s - coast_s)

    # -- views -------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        return self._store[name]

    def snapshot(self, t_s: float, max_age_s: float = DEFAULT_MAX_AGE_S) -> Snapshot:
        """The engine's view at `t_s`: aircraft with a position and altitude, dead-reckoned."""
        f = self._f
        has_pos = np.isfinite(f["latitude"]) & np.isfinite(f["altitude"])
        report = np.where(has_pos, f["t_pos_s"], -np.inf)
        return build_snapshot(
            t_s,
            id=self._store.ids.astype(str),
            lat_deg=np.where(has_pos, f["latitude"], 0.0),
            lon_deg=np.where(has_pos, f["longitude"], 0.0),
            alt_ft=np.where(has_pos, f["altitude"], 0.0),
            track_deg=f["track"],
            gs_kt=f["groundspeed"],
            vs_fpm=f["vertical_rate"],
            report_s=report,
            party=f["party"],
            parties=self.parties,
            onground=f["onground"],
            callsign=self._t["callsign"],
            squawk=self._t["squawk"],
            emergency=self._t["emergency"],
            max_age_s=max_age_s,
        )
