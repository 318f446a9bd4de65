"""The track table: one row per aircraft holding its latest state, updated in batches.

Messages of different kinds arrive separately (a position here, a velocity there), so
each column keeps the last non-missing value it was given *and the time it was given*:
position, altitude, ground speed, track and vertical rate each carry their own report
time. A value older than the snapshot's max age is unknown, never held: an altitude
from the ground four minutes ago must not follow a track that reports positions only.
Dead reckoning starts from each value's own time. Updates and snapshots are vectorised
over the batch; there is no per-aircraft Python work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sharedsky.ingest.schema import epoch_s
from sharedsky.ingest.slots import SlotStore
from sharedsky.ingest.snapshot import DEFAULT_MAX_AGE_S, SEL_ALT_FT, Snapshot, build_snapshot

FLOAT_COLS = ("latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate", "selected_altitude")
TEXT_COLS = ("callsign", "squawk", "emergency", "source")
#: The time column of each value that feeds the engine (latitude and longitude: t_pos_s).
TIME_OF = {"latitude": "t_pos_s", "altitude": "t_alt_s", "groundspeed": "t_gs_s",
           "track": "t_trk_s", "vertical_rate": "t_vs_s", "selected_altitude": "t_sel_s"}


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
        spec.update({t: (np.float64, -np.inf) for t in (*TIME_OF.values(), "t_report_s")})
        spec.update({"onground": (bool, False), "party": (np.int32, 0)})
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
        # One report per aircraft (the usual live or replay step): each row is its slot's last.
        distinct = np.unique(s_all).shape[0] == s_all.shape[0]
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
            k = slice(None) if distinct else _last_per_slot(s)
            self._f[c][s[k]] = vv[k]
            if c in TIME_OF:
                self._f[TIME_OF[c]][s[k]] = tt[k]

    def expire(self, t_s: float, coast_s: float) -> int:
        """Forget aircraft not heard from for `coast_s`; returns how many ended."""
        return self._store.keep(self._f["t_report_s"] >= t_s - coast_s)

    # -- views -------------------------------------------------------------------
    def alone(self, icao24: str) -> dict[str, Any]:
        """What one aircraft's row holds and when any other aircraft was last heard: what
        replay needs to know before it merges a span of that aircraft's reports in one move."""
        slot = self._store.slot(icao24)
        t = self._f["t_report_s"]
        if slot is None:
            return {"others_heard_s": float(t.max()) if t.shape[0] else -np.inf, "t_pos_s": -np.inf,
                    "t_alt_s": -np.inf, "squawk": "", "emergency": ""}
        others = np.delete(t, slot)
        return {"others_heard_s": float(others.max()) if others.shape[0] else -np.inf,
                "t_pos_s": float(self._f["t_pos_s"][slot]), "t_alt_s": float(self._f["t_alt_s"][slot]),
                "squawk": str(self._f["squawk"][slot]), "emergency": str(self._f["emergency"][slot])}

    def column(self, name: str) -> np.ndarray:
        return self._store[name]

    def snapshot(self, t_s: float, max_age_s: float = DEFAULT_MAX_AGE_S) -> Snapshot:
        """The engine's view at `t_s`: aircraft with a fresh position, dead-reckoned.

        Every other value older than `max_age_s` (or from the future) is unknown (NaN):
        an altitude so is `altitude unknown`, a motion value is not used for prediction.
        """
        f = self._f
        has_pos = np.isfinite(f["latitude"]) & np.isfinite(f["longitude"])
        report = np.where(has_pos, f["t_pos_s"], -np.inf)

        def fresh(col: str) -> np.ndarray:
            age = t_s - f[TIME_OF[col]]
            return np.where((age <= max_age_s) & (age >= -1e-9), f[col], np.nan)

        return build_snapshot(
            t_s,
            id=self._store.ids.astype(str),
            lat_deg=np.where(has_pos, f["latitude"], 0.0),
            lon_deg=np.where(has_pos, f["longitude"], 0.0),
            alt_ft=fresh("altitude"),
            alt_report_s=f["t_alt_s"],
            track_deg=fresh("track"),
            gs_kt=fresh("groundspeed"),
            vs_fpm=fresh("vertical_rate"),
            report_s=report,
            party=f["party"],
            parties=self.parties,
            onground=f["onground"],
            callsign=self._t["callsign"],
            squawk=self._t["squawk"],
            emergency=self._t["emergency"],
            max_age_s=max_age_s,
            extra={SEL_ALT_FT: fresh("selected_altitude")},
        )
