"""Well clear in the assessment step: DO-365 alert levels per (ownship, intruder), and
guidance bands for every ownship whose alert is corrective or worse.

For the pairs of parties the agreement gives a well-clear alerter (`[minima.wellclear]`,
`agreement.wellclear_pairs`), each step:

1. the separation engine's broad phase (`engine.separation.candidate_pairs`) with an
   envelope that cannot miss a volume entered within the lookahead (per level: DTHR +
   TTHR x the largest closing speed horizontally, ZTHR + TCOA x the largest vertical
   closure; see `_reach`);
2. the pairs' relative states in the separation engine's WGS84 geometry, in both
   directions (A sees B and B sees A: TCAS-like volumes depend on the ownship), and their
   levels from `alerting.wellclear.WellClearAlerting`, whose M-of-N and persistence state
   is kept per pair key ("own|intruder") across steps; all vectorised, loops only over
   the configs (a handful);
3. for each ownship alerting at or above its corrective level, its bands against every
   candidate neighbour, in the ownship's local plane: when its alert starts or its levels
   change, else every `BANDS_EVERY_S` (no bands-only update is sent more often); every due
   ownship of a config in one batch (`ownships_bands`, `guidance_batch.bands_for_ownships`);
4. one `wellclear` event per ownship when its alert starts (`new`), when an intruder's level
   changes or its bands change meaningfully (`updated`; bands-only changes at most every
   `BANDS_EVERY_S`), and when nothing alerts any more (`ended`). Each event holds the level,
   every intruder's level and times to each level's volume, and the bands per dimension as
   [low, high, region] intervals. The events go to the ownship's party only (service).

Aircraft whose altitude is unknown are left out of well clear (the volumes are 3-D).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from sharedsky.alerting.carry import Carried, StateError
from sharedsky.alerting.guidance import DIMENSIONS, DimensionBands
from sharedsky.alerting.guidance_batch import BandsInput, bands_for_ownships
from sharedsky.alerting.wellclear import WellClearAlerting, WellClearConfig, time_to_volumes
from sharedsky.engine.bands import Frame
from sharedsky.engine.separation import Kinematics, Minima, candidate_pairs
from sharedsky.engine.wellclear import Cylinder, PairStates, Tcas3d, Volume, WcvTaumod, WcvTaumodSum
from sharedsky.ingest.snapshot import Snapshot

if TYPE_CHECKING:  # the agreement package imports the alerting one
    from sharedsky.agreement.wellclear_pairs import WellClearPairs

IDX = NDArray[np.intp]
#: A bands-only change is sent at most this often per ownship (level changes at once), s.
BANDS_EVERY_S = 2.0
#: A band boundary that moved less than this (per dimension) is not a meaningful change.
BANDS_TOLERANCE = {"hdir": 5.0, "hs": 10.0, "vs": 200.0, "alt": 300.0}
#: Rounding of band boundaries in events (deg, kt, fpm, ft).
BANDS_DIGITS = {"hdir": 1, "hs": 1, "vs": 0, "alt": 0}

#: The alerting state of a pair not seen (not a candidate) for this long is dropped, checked
#: every FORGET_EVERY_S (both in snapshot time, s): a long watch keeps recent pairs only. A pair
#: seen again after that starts afresh, as after its hysteresis time, except that its last level
#: no longer lengthens its alerting time (early alerting).
FORGET_AFTER_S = 120.0
FORGET_EVERY_S = 60.0

Bands = dict[str, list[list[Any]]]


def _reach(vol: Volume, close_kt: float, close_fpm: float) -> tuple[float, float]:
    """Horizontal (NM) and vertical (ft) distance within which a pair can be in `vol`.

    WCV_TAUMOD: |s|^2 + TTHR s.v <= DTHR^2 implies |s| <= DTHR + TTHR |v|; vertically
    |sz| <= ZTHR, or a time to co-altitude within TCOA, so |sz| <= |vz| TCOA.
    """
    if isinstance(vol, WcvTaumod | WcvTaumodSum):
        return vol.dthr_nm + vol.tthr_s * close_kt / 3600.0, vol.zthr_ft + vol.tcoa_s * close_fpm / 60.0
    if isinstance(vol, Cylinder):
        return vol.d_nm, vol.h_ft
    if isinstance(vol, Tcas3d):
        return (max(d + t * close_kt / 3600.0 for d, t in zip(vol.dmod_nm, vol.tau_s, strict=True)),
                max(z + t * close_fpm / 60.0 for z, t in zip(vol.zthr_ft, vol.tcoa_s, strict=True)))
    raise TypeError(f"unknown volume {vol!r}")


def envelope(pairs: WellClearPairs, m: NDArray[np.int64], gs_max_kt: float, vs_max_fpm: float) -> Minima:
    """Separation minima (per pair of the snapshot's parties) whose broad phase keeps every
    pair that can enter a well-clear volume within the lookahead."""
    n = m.shape[0]
    h, v, t = np.zeros((n, n)), np.zeros((n, n)), np.full((n, n), -1.0)
    for c, cfg in enumerate(pairs.configs, start=1):
        on = m == c
        if not on.any():
            continue
        levels = cfg.alerters[pairs.alerters[c - 1] - 1].levels
        reach = [_reach(lv.volume, 2.0 * gs_max_kt, 2.0 * vs_max_fpm) for lv in levels]
        h[on] = max(r[0] for r in reach) + 1e-6  # the broad phase compares strictly
        v[on] = max(r[1] for r in reach) + 1e-3
        t[on] = cfg.lookahead_s
    return Minima("wellclear", h, v, t)


def ownship_frames(snap: Snapshot, own: IDX, nb: IDX, sizes: IDX) -> list[Frame]:
    """Each ownship's frame: `own[p]` and its `sizes[p]` neighbours (consecutive in `nb`) in
    the ownship's local plane (equirectangular about it: under 0.1 % distance error within
    the 20 NM that matter). Positions and velocities of every row at once; the frames are
    views of them."""
    lat0 = [math.radians(float(v)) for v in snap.lat_deg[own]]
    cos0 = np.array([math.cos(v) for v in lat0], dtype=np.float64)  # as the scalar formula had it
    rep = np.repeat(np.arange(own.size), sizes)
    x = (snap.lon_deg[nb] - snap.lon_deg[own][rep]) * 60.0 * cos0[rep]
    y = (snap.lat_deg[nb] - snap.lat_deg[own][rep]) * 60.0
    trk = np.radians(snap.track_deg)
    ve, vn = snap.gs_kt * np.sin(trk), snap.gs_kt * np.cos(trk)
    s_nm, v_nms = np.vstack([x, y]), np.vstack([ve[nb], vn[nb]]) / 3600.0
    own_v = np.vstack([ve[own], vn[own]]) / 3600.0
    z_ft, vz_fts = np.asarray(snap.alt_ft[nb], dtype=np.float64), snap.vs_fpm[nb] / 60.0
    own_vz = snap.vs_fpm[own] / 60.0
    ends = np.cumsum(sizes).tolist()
    return [Frame(np.zeros(2), own_v[:, p], float(snap.alt_ft[o]), float(own_vz[p]), s_nm[:, a:b], v_nms[:, a:b],
                  z_ft[a:b], vz_fts[a:b])
            for p, (o, a, b) in enumerate(zip(own.tolist(), [0, *ends[:-1]], ends, strict=True))]


def ownships_bands(cfg: WellClearConfig, snap: Snapshot, own: IDX, nb: IDX, sizes: IDX, alerter: int,
                   level: NDArray[np.int64], init_time_s: NDArray[np.float64]) -> list[dict[str, DimensionBands]]:
    """Bands in four dimensions for every ownship `own[p]` against its `sizes[p]` neighbours
    (consecutive in `nb`, with their levels as seen by it and when each went up), all in one
    batch (`guidance_batch.bands_for_ownships`: each ownship's bands as if alone, bit for bit)."""
    ends = np.cumsum(sizes).tolist()
    starts = [0, *ends[:-1]]
    ins = [BandsInput(fr, np.full(b - a, alerter, dtype=np.int64), level[a:b], init_time_s[a:b], snap.t_s)
           for fr, a, b in zip(ownship_frames(snap, own, nb, sizes), starts, ends, strict=True)]
    return [dict(zip(DIMENSIONS, r, strict=True)) for r in bands_for_ownships(cfg, ins)]


def ownship_bands(cfg: WellClearConfig, snap: Snapshot, own: int, nb: IDX, alerter: int,
                  level: NDArray[np.int64], init_time_s: NDArray[np.float64]) -> dict[str, DimensionBands]:
    """Bands in four dimensions for one ownship `own` against its neighbours `nb` (`ownships_bands`)."""
    return ownships_bands(cfg, snap, np.array([own], dtype=np.intp), np.asarray(nb, dtype=np.intp),
                          np.array([len(nb)], dtype=np.intp), alerter, level, init_time_s)[0]


def bands_json(bands: dict[str, DimensionBands]) -> Bands:
    """Bands as [low, high, region] per dimension, rounded for the event."""
    out: Bands = {}
    for d, b in bands.items():
        nd = BANDS_DIGITS[d]
        out[d] = [[round(float(lo), nd), round(float(hi), nd), r]
                  for lo, hi, r in zip(b.low, b.high, b.region, strict=True)]
    return out


def bands_moved(a: Bands | None, b: Bands | None) -> bool:
    """Whether two bands differ meaningfully: other regions, or a boundary moved past the tolerance."""
    if a is None or b is None:
        return (a is None) != (b is None)
    for d in DIMENSIONS:
        x, y = a.get(d, []), b.get(d, [])
        if [r[2] for r in x] != [r[2] for r in y]:
            return True
        tol = BANDS_TOLERANCE[d]
        if any(abs(p[0] - q[0]) > tol or abs(p[1] - q[1]) > tol for p, q in zip(x, y, strict=True)):
            return True
    return False


@dataclass
class _Held:
    """An ownship's open well-clear alert: what was last sent."""

    serial: int
    party: str
    levels: tuple[tuple[str, int], ...]
    bands: Bands | None
    bands_t: float
    changes: int = 0
    checked_t: float = float("-inf")  # when its bands were last computed

    def bands_due(self, t_s: float, levels: tuple[tuple[str, int], ...]) -> bool:
        """Whether bands must be computed now: its levels changed, or a bands-only update
        could be sent (none is sent within BANDS_EVERY_S of the last computation)."""
        return (self.bands is None or levels != self.levels or t_s < self.checked_t
                or t_s - self.checked_t >= BANDS_EVERY_S)


@dataclass
class _Seen:
    """This step's alerting pairs of one config (own, intruder, level, times to volumes)."""

    own: IDX
    intr: IDX
    level: NDArray[np.int64]
    ttv: NDArray[np.float64]  # (levels, K)
    config: int
    keys: NDArray[np.str_] = field(default_factory=lambda: np.zeros(0, dtype=str))


class WellClearWatch(Carried):
    """Snapshot -> `wellclear` events, with each config's alerting state across steps."""

    #: With each config's alerting state (`carry`); `aircraft` and `corrective` only count.
    CARRIED: ClassVar[tuple[str, ...]] = ("open", "serial", "counts", "_forget_t")

    def __init__(self, pairs: WellClearPairs) -> None:
        self.pairs = pairs
        self.alerting = [WellClearAlerting(cfg) for cfg in pairs.configs]
        self.open: dict[str, _Held] = {}
        self.serial = 0
        self.counts: dict[str, int] = {"wellclear_alerts": 0, "wellclear_updates": 0, "bands_computed": 0}
        self.aircraft: set[str] = set()  # ownships that alerted
        self.corrective: set[str] = set()  # episodes ("id") that reached the corrective level
        self._matrix: tuple[tuple[str, ...], NDArray[np.int64]] | None = None
        self._forget_t = float("-inf")

    def carry(self) -> dict[str, Any]:
        return {**super().carry(), "alerting": [al.carry() for al in self.alerting]}

    def check(self, state: Any) -> None:
        super().check(state)
        alerting = state.get("alerting")
        if not isinstance(alerting, list) or len(alerting) != len(self.alerting):
            n = len(alerting) if isinstance(alerting, list) else alerting
            raise StateError(f"WellClearWatch: the carried state has {n} alerters' states, "
                             f"the agreement {len(self.alerting)}")
        for al, st in zip(self.alerting, alerting, strict=True):
            al.check(st)

    def resume(self, state: dict[str, Any]) -> None:
        super().resume(state)  # checks the alerters' states too (`check` above)
        for al, st in zip(self.alerting, state["alerting"], strict=True):
            al.resume(st)

    @classmethod
    def for_agreement(cls, agreement: Any) -> WellClearWatch | None:
        """The watch an agreement asks for, or None when no pair has a well-clear alerter."""
        pairs = getattr(agreement, "wellclear", None)
        return cls(pairs) if pairs else None

    @property
    def idle(self) -> bool:
        return not self.open

    def _party_matrix(self, parties: tuple[str, ...]) -> NDArray[np.int64]:
        if self._matrix is None or self._matrix[0] != parties:
            self._matrix = (parties, self.pairs.matrix_for(parties))
        return self._matrix[1]

    def levels(self, snap: Snapshot) -> list[_Seen]:
        """Every alerting (ownship, intruder) pair of this step, per config, vectorised."""
        m = self._party_matrix(tuple(snap.parties))
        if len(snap) < 2 or not m.any():
            return []
        known = ~np.isnan(snap.alt_ft)
        if known.sum() < 2:
            return []
        gs_max = float(snap.gs_kt[known].max())
        vs_max = float(np.abs(snap.vs_fpm[known]).max())
        kin = Kinematics.of(snap)
        i, j = candidate_pairs(snap, kin, [envelope(self.pairs, m, gs_max, vs_max)])
        ok = known[i] & known[j]
        i, j = i[ok], j[ok]
        if i.size == 0:
            return []
        cfg_of = m[snap.party[i], snap.party[j]]
        g = kin.pairs(i, j)
        out: list[_Seen] = []
        for c in range(1, len(self.pairs.configs) + 1):
            sel = np.flatnonzero(cfg_of == c)
            if sel.size == 0:
                continue
            a, b = i[sel], j[sel]
            own, intr = np.concatenate([a, b]), np.concatenate([b, a])
            rh, wh = g.rh[:, sel], g.wh[:, sel]
            states = PairStates(np.hstack([rh, -rh]), np.hstack([wh, -wh]),
                                np.concatenate([g.dz_ft[sel], -g.dz_ft[sel]]),
                                np.concatenate([g.dvz_fts[sel], -g.dvz_fts[sel]]), snap.alt_ft[own])
            keys = np.char.add(np.char.add(snap.id[own].astype(str), "|"), snap.id[intr].astype(str))
            alerter = self.pairs.alerters[c - 1]
            res = self.alerting[c - 1].step(snap.t_s, keys, np.full(own.size, alerter, dtype=np.int64), states)
            out.append(_Seen(own, intr, res.level, time_to_volumes(res), c, keys))
        return out

    def step(self, snap: Snapshot) -> list[dict[str, Any]]:
        """Assess one snapshot: levels of every pair, bands of corrective ownships, events."""
        seen = self.levels(snap)
        if snap.t_s - self._forget_t >= FORGET_EVERY_S:  # pairs long gone: their state is dropped
            self._forget_t = snap.t_s
            for al in self.alerting:
                al.forget(snap.t_s - max(al.config.hysteresis_time_s, FORGET_AFTER_S))
        now: dict[str, dict[str, Any]] = {}
        for s in seen:
            cfg = self.pairs.configs[s.config - 1]
            alerter_no = self.pairs.alerters[s.config - 1]
            alerter = cfg.alerters[alerter_no - 1]
            corrective = cfg.corrective_level(alerter_no)
            owners = np.unique(s.own[s.level > 0])
            by_own = np.argsort(s.own, kind="stable")  # each ownship's rows, found by binary search
            lo = np.searchsorted(s.own[by_own], owners, side="left")
            hi = np.searchsorted(s.own[by_own], owners, side="right")
            due: list[tuple[int, int, int, dict[str, Any] | None]] = []  # (own, lo, hi, its entry)
            for own, a, b in zip(owners.tolist(), lo.tolist(), hi.tolist(), strict=True):  # alerting ownships only
                mine = by_own[a:b]
                hit = mine[s.level[mine] > 0]
                order = hit[np.argsort(snap.id[s.intr[hit]], kind="stable")]
                top = int(s.level[hit].max())
                oid = str(snap.id[own])
                intruders: list[dict[str, Any]] = [{
                    "icao24": str(snap.id[s.intr[k]]),
                    "party": snap.parties[int(snap.party[s.intr[k]])],
                    "level": int(s.level[k]),
                    "region": alerter.levels[int(s.level[k]) - 1].region,
                    "t_to_volume_s": [None if not math.isfinite(x) else round(float(x), 1) for x in s.ttv[:, k]],
                } for k in order.tolist()]
                bands = None
                held = self.open.get(oid)
                is_due = False
                if corrective and top >= corrective:
                    if held is None or held.bands_due(snap.t_s, tuple((x["icao24"], x["level"]) for x in intruders)):
                        is_due = True  # computed below, with every due ownship of this config at once
                        self.counts["bands_computed"] += 1
                        if held is not None:
                            held.checked_t = snap.t_s
                    else:
                        bands = held.bands  # unchanged levels, checked within BANDS_EVERY_S
                prev = now.get(oid)
                if prev is not None and prev["level"] >= top:  # in two configs: the worse wins
                    prev["intruders"] = sorted(prev["intruders"] + intruders, key=lambda x: x["icao24"])
                    if is_due:
                        due.append((own, a, b, None))
                    continue
                now[oid] = {
                    "icao24": oid, "party": snap.parties[int(snap.party[own])],
                    "callsign": str(snap.callsign[own]) if snap.callsign is not None else "",
                    "alerter": alerter.name, "level": top, "region": alerter.levels[top - 1].region,
                    "corrective": bool(corrective and top >= corrective),
                    "intruders": intruders + (prev["intruders"] if prev is not None else []),
                    "bands": bands,
                }
                if is_due:
                    due.append((own, a, b, now[oid]))
            if due:
                self._bands(snap, s, cfg, alerter_no, by_own, due)
        return self._events(snap.t_s, now)

    def _bands(self, snap: Snapshot, s: _Seen, cfg: WellClearConfig, alerter_no: int, by_own: IDX,
               due: list[tuple[int, int, int, dict[str, Any] | None]]) -> None:
        """The bands of every due ownship of one config in one batch, into its event entry."""
        lo = np.array([a for _, a, _, _ in due], dtype=np.intp)
        sizes = np.array([b - a for _, a, b, _ in due], dtype=np.intp)
        first = np.cumsum(sizes) - sizes  # each ownship's first row in the batch
        rows = by_own[np.arange(int(sizes.sum())) + np.repeat(lo - first, sizes)]
        _, init = self.alerting[s.config - 1].state_of(s.keys[rows])
        own = np.array([o for o, _, _, _ in due], dtype=np.intp)
        res = ownships_bands(cfg, snap, own, s.intr[rows], sizes, alerter_no, s.level[rows].astype(np.int64), init)
        for (_, _, _, entry), bands in zip(due, res, strict=True):
            if entry is not None:
                entry["bands"] = bands_json(bands)

    def _events(self, t_s: float, now: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for oid in sorted(set(now) | set(self.open)):
            cur, held = now.get(oid), self.open.get(oid)
            if cur is None:
                assert held is not None
                del self.open[oid]
                events.append({"kind": "wellclear", "state": "ended", "t": t_s,
                               "id": f"wellclear-{oid}-{held.serial}", "icao24": oid, "party": held.party,
                               "level": 0, "region": "NONE", "corrective": False, "intruders": [],
                               "bands": None, "changes": held.changes})
                continue
            levels = tuple((x["icao24"], x["level"]) for x in cur["intruders"])
            if held is None:
                self.serial += 1
                held = self.open[oid] = _Held(self.serial, cur["party"], levels, cur["bands"], t_s,
                                              checked_t=t_s)
                self.counts["wellclear_alerts"] += 1
                state = "new"
            elif levels != held.levels or (bands_moved(held.bands, cur["bands"])
                                           and (t_s - held.bands_t >= BANDS_EVERY_S
                                                or (held.bands is None) != (cur["bands"] is None))):
                held.levels = levels
                if bands_moved(held.bands, cur["bands"]):
                    held.bands, held.bands_t = cur["bands"], t_s
                held.changes += 1
                self.counts["wellclear_updates"] += 1
                state = "updated"
            else:
                continue
            self.aircraft.add(oid)
            if cur["corrective"]:
                self.corrective.add(f"{oid}-{held.serial}")
            events.append({"kind": "wellclear", "state": state, "t": t_s, "id": f"wellclear-{oid}-{held.serial}",
                           **cur, "changes": held.changes})
        return events

    def summary(self) -> dict[str, int]:
        """Well-clear alerts so far: episodes, their updates, ownships, corrective episodes and
        how many times bands were computed (one ownship at one step)."""
        return {"alerts": self.counts["wellclear_alerts"], "updates": self.counts["wellclear_updates"],
                "aircraft": len(self.aircraft), "corrective_alerts": len(self.corrective),
                "bands_computed": self.counts["bands_computed"]}

    def close(self, t_s: float) -> list[dict[str, Any]]:
        """End every open well-clear alert (end of a replay or run)."""
        return self._events(t_s, {})
