"""Well-clear alerting: alert levels per (ownship, intruder) pair, with DO-365 persistence.

An *alerter* is an ordered list of alert levels (1 = least severe). Each level names a
volume (`sharedsky.engine.wellclear`), an alerting time, an early alerting time and a
guidance region (NONE, FAR, MID, NEAR). The raw level of a pair is the most severe level
whose volume is entered now or strictly before its alerting time; a level that was the
pair's output at the previous step is held with its (longer) early alerting time, which
is DO-365's hysteresis on the way down.

On top of the raw level, per pair and over time (`WellClearAlerting.step`):

* **M of N**: the output is the highest level reached by at least M of the last N raw
  levels (the m-th largest of them); the window restarts from the current raw level
  when the pair was not seen within `hysteresis_time_s` (or time went backwards).
* **Persistence**: a level that went up at time t0 is not lowered before
  t0 + `persistence_time_s`.

Everything is vectorised over pairs: state lives in arrays keyed by a sorted array of
pair keys; there is no Python loop over aircraft or pairs (loops run over alerters and
levels, a handful each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.carry import Carried, StateError
from sharedsky.engine.bands import BandsConfig
from sharedsky.engine.wellclear import F64, Interval, PairStates, Volume, interval

REGIONS = ("NONE", "FAR", "MID", "NEAR")
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class AlertLevel:
    """One level of an alerter."""

    region: str
    alerting_time_s: float
    early_alerting_time_s: float
    volume: Volume


@dataclass(frozen=True)
class Alerter:
    """Named, ordered alert levels (index 0 is level 1)."""

    name: str
    levels: tuple[AlertLevel, ...]

    def level_for_region(self, region: str) -> int:
        """The first level (1-based) whose region is at least `region`, or 0 if none."""
        want = REGIONS.index(region)
        for n, lv in enumerate(self.levels, start=1):
            if lv.region in REGIONS and REGIONS.index(lv.region) >= want and want > 0:
                return n
        return 0


@dataclass(frozen=True)
class WellClearConfig:
    """Everything alerting needs from a DAIDALUS configuration."""

    alerters: tuple[Alerter, ...]
    lookahead_s: float
    hysteresis_time_s: float = 0.0
    persistence_time_s: float = 0.0
    alerting_m: int = 0
    alerting_n: int = 0
    ownship_centric: bool = True
    corrective_region: str = "NEAR"
    extra: dict[str, str] = field(default_factory=dict)
    bands: BandsConfig = field(default_factory=BandsConfig)  # guidance bands (engine/bands.py)

    def corrective_level(self, alerter_index: int) -> int:
        """1-based corrective level of the alerter at 1-based index, 0 if none."""
        if not 1 <= alerter_index <= len(self.alerters):
            return 0
        return self.alerters[alerter_index - 1].level_for_region(self.corrective_region)

    @property
    def max_levels(self) -> int:
        return max((len(a.levels) for a in self.alerters), default=0)


@dataclass(frozen=True)
class AlertResult:
    """Per pair: output level, raw level, and the violation interval of every level."""

    level: I64  # after M-of-N and persistence; -1 where the alerter index is invalid
    raw_level: I64
    intervals: tuple[Interval, ...]  # one per level index 1..max_levels (padded with empties)


def _empty_interval(k: int) -> Interval:
    return Interval(np.full(k, np.inf), np.full(k, -np.inf), np.zeros(k, dtype=bool))


class WellClearAlerting(Carried):
    """Alert levels over time for pairs identified by string keys (e.g. 'own|intruder')."""

    CARRIED: ClassVar[tuple[str, ...]] = ("_keys", "_last_time", "_last_value", "_init_time", "_queue")

    def __init__(self, config: WellClearConfig) -> None:
        self.config = config
        n = max(config.alerting_n, 1)
        self._keys: np.ndarray = np.zeros(0)
        self._last_time = np.zeros(0)
        self._last_value = np.zeros(0, dtype=np.int64)
        self._init_time = np.zeros(0)
        self._queue = np.zeros((0, n), dtype=np.int64)

    def check(self, state: Any) -> None:
        """Also: one row per key in every array, and the M of N queue as wide as this config's."""
        super().check(state)
        n = state["_keys"].shape[0]
        rows = [state[k].shape[0] for k in self.CARRIED]
        if rows != [n] * len(rows) or state["_queue"].shape[1:] != self._queue.shape[1:]:
            raise StateError(f"WellClearAlerting: carried arrays of shapes "
                             f"{[state[k].shape for k in self.CARRIED]} for a queue of width {self._queue.shape[1]}")

    @property
    def _mofn_valid(self) -> bool:
        c = self.config
        return 0 < c.alerting_m <= c.alerting_n

    def _rows(self, keys: np.ndarray) -> NDArray[np.intp]:
        """Row of each key in the state arrays, adding new keys with fresh state.

        Keys are any sortable 1-D array (strings such as 'own|intruder', or integers);
        membership is found by binary search on the sorted keys (no per-pair Python).
        """
        if self._keys.size == 0:
            self._keys = np.zeros(0, dtype=keys.dtype)
        pos = np.searchsorted(self._keys, keys)
        found = pos < self._keys.size
        found[found] = self._keys[pos[found]] == keys[found]
        new = np.unique(keys[~found])
        if new.size:
            k = new.size
            self._keys = np.concatenate([self._keys, new])
            self._last_time = np.concatenate([self._last_time, np.full(k, np.nan)])
            self._last_value = np.concatenate([self._last_value, np.full(k, -1, dtype=np.int64)])
            self._init_time = np.concatenate([self._init_time, np.full(k, np.nan)])
            self._queue = np.concatenate(
                [self._queue, np.full((k, self._queue.shape[1]), -1, dtype=np.int64)])
            order = np.argsort(self._keys, kind="stable")
            self._keys = self._keys[order]
            self._last_time = self._last_time[order]
            self._last_value = self._last_value[order]
            self._init_time = self._init_time[order]
            self._queue = self._queue[order]
            pos = np.searchsorted(self._keys, keys)
        return pos.astype(np.intp)

    def forget(self, before_s: float) -> int:
        """Drop the state of pairs last stepped before `before_s` (at least the hysteresis
        time ago: their M of N and persistence restart anyway), so that a long watch keeps
        state for recent pairs only. Returns how many were dropped."""
        keep = ~(self._last_time < before_s)  # never-stepped keys (nan) are kept
        dropped = int(keep.size - keep.sum())
        if dropped:
            self._keys, self._last_time = self._keys[keep], self._last_time[keep]
            self._last_value, self._init_time = self._last_value[keep], self._init_time[keep]
            self._queue = self._queue[keep]
        return dropped

    @property
    def pairs_kept(self) -> int:
        """Pairs whose state is kept."""
        return int(self._keys.size)

    def state_of(self, keys: np.ndarray) -> tuple[I64, F64]:
        """Per pair key already stepped: its output level and the time it went up (nan)."""
        rows = self._rows(keys)
        return self._last_value[rows].copy(), self._init_time[rows].copy()

    def raw_levels(self, t_s: float, rows: NDArray[np.intp], alerter_idx: I64,
                   pairs: PairStates) -> tuple[I64, tuple[Interval, ...]]:
        """Raw level per pair (before M of N / persistence) and each level's interval."""
        c = self.config
        k = len(pairs)
        raw = np.where((alerter_idx >= 1) & (alerter_idx <= len(c.alerters)), 0, -1).astype(np.int64)
        t_in = np.full((c.max_levels, k), np.inf)
        t_out = np.full((c.max_levels, k), -np.inf)
        hit = np.zeros((c.max_levels, k), dtype=bool)
        last_t, last_v = self._last_time[rows], self._last_value[rows]
        held = ~np.isnan(last_t) & (last_t < t_s)
        for a_no, alerter in enumerate(c.alerters, start=1):
            sel = np.flatnonzero(alerter_idx == a_no)
            if sel.size == 0:
                continue
            sub = pairs.take(sel)
            for l_no, lv in enumerate(alerter.levels, start=1):
                iv = interval(lv.volume, sub, c.lookahead_s)
                t_in[l_no - 1, sel], t_out[l_no - 1, sel], hit[l_no - 1, sel] = (
                    iv.t_in_s, iv.t_out_s, iv.hit)
                early = held[sel] & (last_v[sel] == l_no)
                at = np.where(early, lv.early_alerting_time_s, lv.alerting_time_s)
                on = iv.before(at)
                raw[sel] = np.where(on & (raw[sel] < l_no), l_no, raw[sel])
        ivs = tuple(Interval(t_in[n], t_out[n], hit[n]) for n in range(c.max_levels))
        return raw, ivs

    def step(self, t_s: float, keys: np.ndarray, alerter_idx: I64,
             pairs: PairStates) -> AlertResult:
        """Alert levels at time `t_s` for the pairs `keys` (one unique key per pair, all of
        one dtype across calls: strings or integers)."""
        c = self.config
        k = len(pairs)
        if k == 0:
            e = np.zeros(0, dtype=np.int64)
            return AlertResult(e, e, tuple(_empty_interval(0) for _ in range(c.max_levels)))
        rows = self._rows(keys)
        raw, ivs = self.raw_levels(t_s, rows, alerter_idx, pairs)
        last_t = self._last_time[rows]
        reset = np.isnan(last_t) | (t_s <= last_t) | (t_s - last_t > c.hysteresis_time_s)
        queue = self._queue[rows]
        init_time = np.where(reset, np.nan, self._init_time[rows])
        last_v = np.where(reset, -1, self._last_value[rows])
        if self._mofn_valid:
            m, n = c.alerting_m, c.alerting_n
            fresh = np.full((k, n), -1, dtype=np.int64)
            fresh[:, :m] = raw[:, None]
            queue = np.where(reset[:, None], fresh, queue)
            queue = np.concatenate([queue[:, 1:], raw[:, None]], axis=1)
            mofn = np.sort(queue, axis=1)[:, n - m]  # the m-th largest of the window
        else:
            mofn = raw.copy()
        invalid = mofn < 0
        keep = (~invalid & ~np.isnan(init_time) & (last_v > 0) & (mofn < last_v)
                & (t_s >= init_time) & (t_s - init_time < c.persistence_time_s))
        went_up = ~invalid & ~keep & (mofn > 0) & (mofn > last_v)
        out = np.where(invalid, raw, np.where(keep, last_v, np.maximum(mofn, 0)))
        init_time = np.where(invalid, np.nan, np.where(went_up, t_s, init_time))
        self._queue[rows] = queue
        self._last_value[rows] = out
        self._init_time[rows] = init_time
        self._last_time[rows] = t_s
        return AlertResult(out.astype(np.int64), raw, ivs)


def empty_config() -> WellClearConfig:
    """A configuration with no alerters (every pair gets level -1)."""
    return WellClearConfig(alerters=(), lookahead_s=0.0)


def time_to_volumes(result: AlertResult) -> F64:
    """(levels, K) time to each level's volume within the lookahead, inf when none."""
    return np.array([iv.time_to_volume_s for iv in result.intervals]).reshape(len(result.intervals), -1)
