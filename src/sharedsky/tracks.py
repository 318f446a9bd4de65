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

from sharedsky.schema import epoch_s
from sharedsky.snapshot import DEFAULT_MAX_AGE_S, Snapshot, build_snapshot

FLOAT_COLS = ("latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate")
TEXT_COLS = ("callsign", "squawk", "emergency", "source")


_FILL: dict[str, object] = {"t_pos_s": -np.inf, "t_report_s": -np.inf, "party": 0}
_FILL_DEFAULT: dict[str, object] = {"f": np.nan, "b": False, "O": "", "i": 0}


def _last_per_slot(slot: NDArray[np.intp]) -> NDArray[np.intp]:
    """Index of the last row of each distinct slot (rows are in time order)."""
    rev = slot[::-1]
    _, first_in_rev = np.unique(rev, return_index=True)
    return slot.shape[0] - 1 - first_in_rev


class TrackTable:
    """Latest state per aircraft; `snapshot(t)` gives the engine's view at an instant."""

    def __init__(self, parties: tuple[str, ...] = ("default",), capacity: int = 1024) -> None:
        self.parties = parties
        self._index = pd.Index([], dtype=object)
        self._n = 0
        self._cap = 0
        self._f: dict[str, np.ndarray] = {}
        self._t: dict[str, np.ndarray] = {}
        self._grow(capacity)

    # -- storage -----------------------------------------------------------------
    def _grow(self, cap: int) -> None:
        def extend(a: np.ndarray | None, fill: object, dtype: object) -> np.ndarray:
            out = np.full(cap, fill, dtype=dtype)
            if a is not None:
                out[: a.shape[0]] = a
            return out

        for c in FLOAT_COLS:
            self._f[c] = extend(self._f.get(c), np.nan, np.float64)
        for c in ("t_pos_s", "t_report_s"):
            self._f[c] = extend(self._f.get(c), -np.inf, np.float64)
        self._f["onground"] = extend(self._f.get("onground"), False, bool)
        self._f["party"] = extend(self._f.get("party"), 0, np.int32)
        for c in TEXT_COLS:
            self._t[c] = extend(self._t.get(c), "", object)
        self._cap = cap

    def _slots(self, ids: np.ndarray) -> NDArray[np.intp]:
        """Slot of each id, creating slots for new aircraft (vectorised)."""
        pos = self._index.get_indexer(ids)
        new = pos < 0
        if new.any():
            fresh = pd.unique(ids[new])
            need = self._n + fresh.shape[0]
            if need > self._cap:
                self._grow(max(need, 2 * self._cap))
            self._index = self._index.append(pd.Index(fresh, dtype=object))
            self._n = need
            pos = self._index.get_indexer(ids)
        return pos.astype(np.intp)

    def __len__(self) -> int:
        return self._n

    @property
    def ids(self) -> np.ndarray:
        return self._index.to_numpy()

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
            store = self._f if c in self._f else self._t
            store[c][s[k]] = vv[k]
            if c == "latitude":
                self._f["t_pos_s"][s[k]] = tt[k]

    def set_party(self, party_of_slot: np.ndarray) -> None:
        """Replace every aircraft's party code (e.g. after re-attribution)."""
        self._f["party"][: self._n] = party_of_slot

    def expire(self, t_s: float, coast_s: float) -> int:
        """Forget aircraft not heard from for `coast_s`; returns how many ended."""
        if self._n == 0:
            return 0
        alive = self._f["t_report_s"][: self._n] >= t_s - coast_s
        ended = int(self._n - np.count_nonzero(alive))
        if ended:
            keep = np.flatnonzero(alive)
            self._index = pd.Index(self._index.to_numpy()[keep], dtype=object)
            for store in (self._f, self._t):
                for c, a in store.items():
                    # Free slots must hold the empty state again: a new aircraft takes
                    # them over and must not inherit anything (NaN, -inf, "", False).
                    b = np.full_like(a, _FILL[c] if c in _FILL else _FILL_DEFAULT[a.dtype.kind])
                    b[: keep.shape[0]] = a[keep]
                    store[c] = b
            self._n = keep.shape[0]
        return ended

    # -- views -------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        store = self._f if name in self._f else self._t
        return store[name][: self._n]

    def snapshot(self, t_s: float, max_age_s: float = DEFAULT_MAX_AGE_S) -> Snapshot:
        """The engine's view at `t_s`: aircraft with a position and altitude, dead-reckoned."""
        n = self._n
        f = self._f
        has_pos = np.isfinite(f["latitude"][:n]) & np.isfinite(f["altitude"][:n])
        report = np.where(has_pos, f["t_pos_s"][:n], -np.inf)
        return build_snapshot(
            t_s,
            id=self._index.to_numpy().astype(str),
            lat_deg=np.where(has_pos, f["latitude"][:n], 0.0),
            lon_deg=np.where(has_pos, f["longitude"][:n], 0.0),
            alt_ft=np.where(has_pos, f["altitude"][:n], 0.0),
            track_deg=f["track"][:n],
            gs_kt=f["groundspeed"][:n],
            vs_fpm=f["vertical_rate"][:n],
            report_s=report,
            party=f["party"][:n],
            parties=self.parties,
            onground=f["onground"][:n],
            callsign=self._t["callsign"][:n],
            squawk=self._t["squawk"][:n],
            max_age_s=max_age_s,
        )
