"""What a simulated day did under an agreement: conflicts, losses, notice, incursions.

Fed, step by step, with the same events the live service produces (the conflict
lifecycle of `sharedsky.alerting.conflicts` and the airspace watch), plus each step's detected
conflicts for the closest distances. The work per step is proportional to the number
of conflicts and events, not of aircraft.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sharedsky.engine.separation import Conflicts, Minima
from sharedsky.ingest.snapshot import Snapshot

DISTANCE_BINS_NM = (0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, float("inf"))
NOTICE_BINS_S = (0.0, 1.0, 15.0, 30.0, 60.0, 120.0, 180.0, 300.0, float("inf"))
_PRE_VIOLATION = ("predicted", "advisory", "warning")


def pair_key(pa: str, pb: str, order: Sequence[str]) -> str:
    """'a/b' with the parties in the agreement's order (so each pair has one key)."""
    rank = {p: n for n, p in enumerate(order)}
    a, b = sorted((pa, pb), key=lambda p: (rank.get(p, len(rank)), p))
    return f"{a}/{b}"


@dataclass
class _Encounter:
    a: str
    b: str
    party_a: str
    party_b: str
    first_s: float
    last_s: float
    level: int
    level_first_s: dict[int, float]
    min_d_nm: float = float("inf")
    min_dz_ft: float = float("inf")
    min_d_overlap_nm: float = float("inf")  # horizontal distance while vertically too close
    min_norm: float = float("inf")  # smallest max(d/H, dz/V) of the most severe level
    t_min_s: float = float("nan")
    loss: bool = False


@dataclass
class MetricsCollector:
    """Accumulates a run's metrics; `as_dict()` is the metrics JSON."""

    parties: tuple[str, ...]
    levels: Sequence[Minima]
    open: dict[tuple[str, str], _Encounter] = field(default_factory=dict)
    done: list[_Encounter] = field(default_factory=list)
    losses: list[dict[str, Any]] = field(default_factory=list)
    airspace_counts: dict[str, int] = field(default_factory=dict)
    airspace_by: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    incursions: list[dict[str, Any]] = field(default_factory=list)
    _air_first: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    _air_open: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    max_at_once: int = 0
    steps: int = 0
    #: Per loss of separation, its intrusion severity (TU Delft: the largest, over the
    #: loss, of min(1 - d/H, 1 - dz/V) with the most severe level's minima).
    severity: list[float] = field(default_factory=list)

    # -- per step --------------------------------------------------------------------
    def observe(self, snap: Snapshot, conflicts: Conflicts, events: list[dict[str, Any]]) -> None:
        t = snap.t_s
        self.steps += 1
        self.max_at_once = max(self.max_at_once, len(snap))
        if len(conflicts):
            self._conflicts(snap, conflicts)
        self.handle_events(t, events)

    def handle_events(self, t: float, events: list[dict[str, Any]]) -> None:
        """Count the lifecycle and airspace events of instant `t`."""
        for ev in events:
            kind = ev.get("kind")
            if kind == "conflict" and ev.get("state") == "ended":
                enc = self.open.pop((str(ev.get("a")), str(ev.get("b"))), None)
                if enc is not None:
                    self.done.append(enc)
            elif kind == "loss_of_separation" and ev.get("state") == "start":
                self._loss_start(t, ev)
            elif kind == "loss_of_separation" and ev.get("state") == "end":
                self._loss_end(ev)
            elif kind == "airspace":
                self._airspace(t, ev)

    def _conflicts(self, snap: Snapshot, c: Conflicts) -> None:
        t = snap.t_s
        hard = self.levels[-1]
        pa, pb = snap.party[c.a], snap.party[c.b]
        h, v = hard.h_nm[pa, pb], hard.v_ft[pa, pb]
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = np.maximum(np.where(h > 0, c.d_now_nm / h, np.inf),
                              np.where(v > 0, c.dz_now_ft / v, np.inf))
        overlap = c.dz_now_ft < np.where(v > 0, v, 1000.0)
        ida, idb = snap.id[c.a].tolist(), snap.id[c.b].tolist()
        d_now, dz_now = c.d_now_nm.tolist(), c.dz_now_ft.tolist()
        levels, norms, ov = c.level.tolist(), norm.tolist(), overlap.tolist()
        pa_l, pb_l = pa.tolist(), pb.tolist()
        for k in range(len(c)):
            key = (ida[k], idb[k])
            enc = self.open.get(key)
            lvl = int(levels[k])
            if enc is None:
                enc = _Encounter(ida[k], idb[k], self.parties[pa_l[k]], self.parties[pb_l[k]],
                                 t, t, lvl, {lvl: t})
                self.open[key] = enc
            enc.last_s = t
            if lvl > enc.level:
                enc.level = lvl
            enc.level_first_s.setdefault(lvl, t)
            if d_now[k] < enc.min_d_nm:
                enc.min_d_nm = d_now[k]
            if dz_now[k] < enc.min_dz_ft:
                enc.min_dz_ft = dz_now[k]
            if ov[k] and d_now[k] < enc.min_d_overlap_nm:
                enc.min_d_overlap_nm = d_now[k]
            if norms[k] < enc.min_norm:
                enc.min_norm, enc.t_min_s = norms[k], t

    def _loss_start(self, t: float, ev: dict[str, Any]) -> None:
        key = (str(ev.get("a")), str(ev.get("b")))
        enc = self.open.get(key)
        rec: dict[str, Any] = {
            "id": ev.get("id"), "a": key[0], "b": key[1],
            "party_a": ev.get("party_a", enc.party_a if enc else ""),
            "party_b": ev.get("party_b", enc.party_b if enc else ""),
            "t": t,
        }
        if enc is not None:
            enc.loss = True
            rec["notice_s"] = round(t - enc.first_s, 1)
            rec["notice_by_level_s"] = {
                self.levels[lv].name: round(t - t0, 1) for lv, t0 in sorted(enc.level_first_s.items())
            }
        else:
            rec["notice_s"] = 0.0
            rec["notice_by_level_s"] = {}
        self.losses.append(rec)

    def _loss_end(self, ev: dict[str, Any]) -> None:
        for rec in reversed(self.losses):
            if rec["id"] == ev.get("id"):
                for k in ("duration_s", "min_d_nm", "min_dz_ft", "closest_d_nm", "closest_dz_ft"):
                    if k in ev:
                        rec[k] = ev[k]
                self.severity.append(self._severity(rec))
                break

    def _severity(self, rec: dict[str, Any]) -> float:
        """min(1 - d/H, 1 - dz/V) at the loss's deepest point (vertical unknown: horizontal)."""
        hard = self.levels[-1]
        try:
            pa, pb = self.parties.index(rec["party_a"]), self.parties.index(rec["party_b"])
        except (KeyError, ValueError):
            pa = pb = 0
        h, v = float(hard.h_nm[pa, pb]), float(hard.v_ft[pa, pb])
        d = rec.get("closest_d_nm")
        dz = rec.get("closest_dz_ft")
        if d is None or h <= 0:
            return 0.0
        sev_h = 1.0 - float(d) / h
        sev_v = 1.0 - float(dz) / v if dz is not None and v > 0 else 1.0
        return max(0.0, min(sev_h, sev_v))

    def _airspace(self, t: float, ev: dict[str, Any]) -> None:
        state = str(ev.get("state", ""))
        air = str(ev.get("airspace", ""))
        who = str(ev.get("icao24", ""))
        party = str(ev.get("party", ""))
        self.airspace_counts[state] = self.airspace_counts.get(state, 0) + 1
        by = self.airspace_by.setdefault(air, {}).setdefault(party, {})
        by[state] = by.get(state, 0) + 1
        key = (air, who)
        first = self._air_first.setdefault(key, {})
        # A warning sequence older than 15 minutes is not notice for this entry.
        if first and t - max(first.values()) > 900.0:
            first.clear()
        if state in _PRE_VIOLATION:
            first.setdefault(state, t)
        elif state == "violation" and key in self._air_open:
            self._air_open[key]["repeats"] = self._air_open[key].get("repeats", 0) + 1
        elif state == "violation":
            notice = {s: round(t - t0, 1) for s, t0 in sorted(first.items(), key=lambda x: x[1])}
            rec = {"airspace": air, "icao24": who, "party": party, "t": t,
                   "callsign": ev.get("callsign", ""),
                   "notice_s": round(t - min(first.values()), 1) if first else 0.0,
                   "notice_by_stage_s": notice, "warned": bool(first)}
            self.incursions.append(rec)
            self._air_open[key] = rec
        elif state == "violation_end":
            opened = self._air_open.pop(key, None)
            if opened is not None:
                opened["duration_s"] = round(t - opened["t"], 1)
                for k in ("time_inside_s",):
                    if k in ev:
                        opened[k] = ev[k]
            first.clear()

    def close(self) -> None:
        self.done.extend(self.open.values())
        self.open.clear()

    # -- results ----------------------------------------------------------------------
    def encounters(self) -> list[dict[str, Any]]:
        """Every predicted encounter, closest first (by the most severe level's minima)."""
        out = []
        for e in sorted(self.done, key=lambda e: (e.min_norm, e.first_s, e.a, e.b)):
            out.append({
                "a": e.a, "b": e.b, "party_a": e.party_a, "party_b": e.party_b,
                "pair": pair_key(e.party_a, e.party_b, self.parties),
                "first_t": e.first_s, "last_t": e.last_s, "t_closest": e.t_min_s,
                "level": self.levels[e.level].name,
                "min_d_nm": _r(e.min_d_nm, 3), "min_dz_ft": _r(e.min_dz_ft, 1),
                "min_d_vertically_close_nm": _r(e.min_d_overlap_nm, 3),
                "loss_of_separation": e.loss,
            })
        return out

    def as_dict(self) -> dict[str, Any]:
        self.close()
        names = [lv.name for lv in self.levels]
        by_pair: dict[str, dict[str, int]] = {}
        for e in self.done:
            d = by_pair.setdefault(pair_key(e.party_a, e.party_b, self.parties),
                                   {n: 0 for n in names})
            d[self.levels[e.level].name] += 1
        losses_by_pair: dict[str, int] = {}
        for los in self.losses:
            k = pair_key(los["party_a"], los["party_b"], self.parties)
            losses_by_pair[k] = losses_by_pair.get(k, 0) + 1
        mins = np.array([e.min_d_overlap_nm for e in self.done], dtype=float)
        mins = mins[np.isfinite(mins)]
        notice = np.array([los["notice_s"] for los in self.losses], dtype=float)
        inc_notice = np.array([i["notice_s"] for i in self.incursions], dtype=float)
        encounters = self.encounters()
        return {
            "predicted_conflicts": {
                "total": len(self.done),
                "by_level": {n: sum(d[n] for d in by_pair.values()) for n in names},
                "by_pair": dict(sorted(by_pair.items())),
            },
            "losses_of_separation": {
                "total": len(self.losses),
                "by_pair": dict(sorted(losses_by_pair.items())),
                "events": self.losses,
            },
            "warning_time_s": _distribution(notice, NOTICE_BINS_S) | {
                "without_notice": int(np.count_nonzero(notice < 1.0)),
            },
            "min_distance_nm": {
                "what": "per encounter: smallest horizontal distance while vertically "
                        "closer than the most severe level's vertical minimum",
                **_distribution(mins, DISTANCE_BINS_NM),
            },
            "closest_encounters": encounters[:20],
            "airspace": {
                "events_by_state": dict(sorted(self.airspace_counts.items())),
                "by_airspace": self.airspace_by,
                "incursions": len(self.incursions),
                "incursions_warned": sum(1 for i in self.incursions if i["warned"]),
                "incursion_notice_s": _distribution(inc_notice, NOTICE_BINS_S),
                "incursion_events": self.incursions,
            },
            "max_aircraft_at_once": self.max_at_once,
            "steps": self.steps,
        }


def _r(x: float, nd: int) -> float | None:
    return round(float(x), nd) if np.isfinite(x) else None


def _distribution(x: np.ndarray, bins: Sequence[float]) -> dict[str, Any]:
    """Count, quantiles and a histogram (bin edges as labels) of a sample."""
    out: dict[str, Any] = {"count": int(x.size)}
    if x.size:
        q = np.quantile(x, [0.0, 0.1, 0.5, 0.9, 1.0])
        out |= {"min": _r(q[0], 3), "p10": _r(q[1], 3), "median": _r(q[2], 3),
                "p90": _r(q[3], 3), "max": _r(q[4], 3)}
    counts, _ = np.histogram(x, bins=np.asarray(bins))
    labels = [f"{bins[i]:g}-{bins[i + 1]:g}" for i in range(len(bins) - 1)]
    out["histogram"] = dict(zip(labels, counts.tolist(), strict=True))
    return out
