"""Conflict alert lifecycle: turn per-instant detections into events people can act on.

A predicted conflict is announced once (`new`), re-announced only when it changes
materially (`updated`: a different level, or a predicted time of loss that moved by
more than `retime_s` and `retime_frac` of the time left), and closed (`ended`) once it
has not been predicted for `clear_after_s` (hysteresis: a missed detection, say a late
report, or an altitude reading that wobbles across the vertical minimum from one report
to the next (25 ft steps around exactly 1,000 ft), does not end and restart an alert;
the default matches the 20 s a report may age, about two ADS-B report intervals). Actual losses of separation (distance now
below both minima of the most severe level) are their own events with start, end and
the smallest distances reached. A pair checked horizontally only because an altitude
is unknown carries `altitude_unknown: true` in every event of its alert and its loss
of separation (vertical distances are then null).

Suppression (the agreement's `[suppression]` volumes and aerodrome rule, judged per
instant by `sharedsky.engine.suppression.SuppressionRules.judge`): a suppressed
encounter is never dropped. Its alert and its loss of separation go through the same
lifecycle and events, each carrying `suppressed: true` and `suppressed_by` (the volume
id, or "aerodromes" with the `aerodrome` code), and are counted apart
(`conflicts_suppressed`, `losses_of_separation_suppressed`). An alert is suppressed
from its announcement while its predicted loss begins inside a volume; a loss of
separation while both aircraft are inside one. Suppression can be lifted but never
re-imposed: when a suppressed alert or loss stops being suppressed (a go-around climbs
out of the volume) it is re-announced (`updated`, with `suppressed: false`), counted as
an alert from then on, and stays an alert until it ends, so that an alert the parties
have seen is never silently inhibited again, and a track wobbling across a volume's
edge is announced at most once.

State is per conflicting pair; the work per step is proportional to the number of
conflicts, not of aircraft.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sharedsky.alerting.carry import Carried
from sharedsky.engine.separation import Conflicts, Kinematics, Minima, pair_conflicts
from sharedsky.engine.suppression import PairSuppression, SuppressionRules
from sharedsky.ingest.snapshot import Snapshot


def _ft(x: float) -> float | None:
    """A vertical distance for an event: rounded, or null when an altitude is unknown."""
    return None if not np.isfinite(x) else round(float(x), 1)


@dataclass
class _Alert:
    id: str
    level: int
    t_loss_s: float  # absolute predicted time of loss of separation (t + t_in_s)
    last_seen_s: float
    first_s: float
    record: dict[str, Any]
    suppressed: bool = False


@dataclass
class _Loss:
    id: str
    start_s: float
    last_seen_s: float
    min_d_nm: float
    min_dz_ft: float
    worst: float  # smallest max(d/H, dz/V) reached
    worst_d_nm: float
    worst_dz_ft: float
    record: dict[str, Any]
    suppressed: bool = False


@dataclass
class ConflictTracker(Carried):
    """Stateful lifecycle of conflict alerts and losses of separation."""

    #: What the next step depends on (`losses`, the ended ones, only counts for a summary).
    CARRIED: ClassVar[tuple[str, ...]] = ("_alerts", "_losses", "serial", "counts")

    clear_after_s: float = 20.0
    #: An announced conflict stays open while the pair still conflicts with its minima
    #: widened by this factor (horizontal and vertical): noisy vertical rates and 25 ft
    #: altitude steps near the threshold must not end and restart the same encounter.
    keep_factor: float = 1.2
    retime_s: float = 10.0
    retime_frac: float = 0.2
    _alerts: dict[tuple[str, str], _Alert] = field(default_factory=dict)
    _losses: dict[tuple[str, str], _Loss] = field(default_factory=dict)
    serial: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    losses: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def for_agreement(cls, agreement: Any) -> ConflictTracker:
        """A tracker with the agreement's `[alerting]` rules (defaults without one)."""
        a = getattr(agreement, "alerting", None)
        if a is None:
            return cls()
        return cls(clear_after_s=a.clear_after_s, retime_s=a.retime_s,
                   retime_frac=a.retime_frac, keep_factor=a.keep_factor)

    def _count(self, name: str, by: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + by

    def _next_id(self, kind: str, a: str, b: str) -> str:
        self.serial += 1
        return f"{kind}-{a}-{b}-{self.serial}"

    def step(
        self,
        snap: Snapshot,
        conflicts: Conflicts,
        levels: Sequence[Minima],
        suppression: tuple[SuppressionRules, PairSuppression] | None = None,
    ) -> list[dict[str, Any]]:
        """Events for this instant, given its snapshot and detected conflicts, and the
        suppression rules with their judgement of these conflicts (none: nothing is
        suppressed).

        Work per conflict is a dictionary lookup; the full record of a conflict is built
        only when it is announced.
        """
        t = snap.t_s
        events: list[dict[str, Any]] = []
        n = len(conflicts)
        if n:
            ids_a = snap.id[conflicts.a].tolist()
            ids_b = snap.id[conflicts.b].tolist()
            lvls = conflicts.level.tolist()
            t_loss_all = (t + conflicts.t_in_s).tolist()
            lost = conflicts.lost_now(levels, snap).tolist()
            unknown = conflicts.altitude_unknown.tolist()
            rules = suppression[0] if suppression is not None else SuppressionRules()
            none = [-1] * n
            judged = suppression[1] if suppression is not None else None
            c_sup = judged.conflict_region.tolist() if judged is not None else none
            c_where = judged.conflict_where.tolist() if judged is not None else none
            l_sup = judged.loss_region.tolist() if judged is not None else none
            l_where = judged.loss_where.tolist() if judged is not None else none
        hard = levels[-1]
        multi_party = len(snap.parties) > 1

        def full(k: int, lvl: int) -> dict[str, Any]:
            rec = conflicts.record(k, snap, levels)
            rec["level"] = levels[lvl].name
            if multi_party:
                rec.setdefault("party_a", snap.parties[int(snap.party[conflicts.a[k]])])
                rec.setdefault("party_b", snap.parties[int(snap.party[conflicts.b[k]])])
            return rec

        for k in range(n):
            key = (ids_a[k], ids_b[k])
            lvl = lvls[k]
            t_loss = t_loss_all[k]
            al = self._alerts.get(key)
            if al is None:
                rec = full(k, lvl)
                suppressed = c_sup[k] >= 0
                if suppressed:
                    rec.update(rules.reason(c_sup[k], c_where[k]))
                al = _Alert(self._next_id("conflict", *key), lvl, t_loss, t, t, rec, suppressed)
                self._alerts[key] = al
                events.append(self._event("conflict", "new", t, al.id, rec))
                if suppressed:
                    self._count("conflicts_suppressed")
                else:
                    self._count(f"conflicts_{levels[lvl].name}")
                    self._count("conflicts")
            else:
                left = max(al.t_loss_s - t, 0.0)
                moved = abs(t_loss - al.t_loss_s) > max(self.retime_s, self.retime_frac * left)
                # An altitude becoming unknown (or known again) changes what the alert rests on.
                moved |= unknown[k] != bool(al.record.get("altitude_unknown"))
                lifted = al.suppressed and c_sup[k] < 0
                if lvl != al.level or moved or lifted:
                    if lifted:  # from now on an alert like any other, counted as one
                        self._count("conflicts_suppressed", -1)
                        self._count("conflicts")
                        self._count(f"conflicts_{levels[lvl].name}")
                    elif lvl > al.level and not al.suppressed:
                        self._count(f"conflicts_{levels[lvl].name}")
                    # A suppressed alert keeps its reason; the lifting event says suppressed: false;
                    # later events of a lifted alert are like any other's.
                    keep = ("suppressed", "suppressed_by", "aerodrome") if al.suppressed and not lifted else ()
                    reason: dict[str, Any] = {x: al.record[x] for x in keep if x in al.record}
                    al.level, al.t_loss_s, al.suppressed = lvl, t_loss, al.suppressed and not lifted
                    al.record = full(k, lvl)
                    al.record.update(reason)
                    if lifted:
                        al.record["suppressed"] = False
                    events.append(self._event("conflict", "updated", t, al.id, al.record))
                al.last_seen_s = t
            if lost[k]:
                pa, pb = snap.party[conflicts.a[k]], snap.party[conflicts.b[k]]
                d = float(conflicts.d_now_nm[k])
                dz = float(conflicts.dz_now_ft[k])
                norm = d / hard.h_nm[pa, pb] if np.isnan(dz) else max(d / hard.h_nm[pa, pb], dz / hard.v_ft[pa, pb])
                ls = self._losses.get(key)
                if ls is None:
                    base: dict[str, Any] = {
                        x: al.record[x] for x in ("a", "b", "party_a", "party_b") if x in al.record
                    }
                    if unknown[k]:
                        base["altitude_unknown"] = True
                    suppressed = l_sup[k] >= 0
                    if suppressed:
                        base.update(rules.reason(l_sup[k], l_where[k]))
                    ls = _Loss(self._next_id("los", *key), t, t, d, dz, norm, d, dz, base, suppressed)
                    self._losses[key] = ls
                    self._count("losses_of_separation_suppressed" if suppressed else "losses_of_separation")
                    events.append(
                        self._event("loss_of_separation", "start", t, ls.id,
                                    {**base, "d_nm": round(d, 4), "dz_ft": _ft(dz)})
                    )
                elif ls.suppressed and l_sup[k] < 0:
                    # Lifted: announced as a loss of separation like any other from now on.
                    ls.suppressed = False
                    for x in ("suppressed", "suppressed_by", "aerodrome"):
                        ls.record.pop(x, None)
                    self._count("losses_of_separation_suppressed", -1)
                    self._count("losses_of_separation")
                    events.append(
                        self._event("loss_of_separation", "updated", t, ls.id,
                                    {**ls.record, "suppressed": False, "d_nm": round(d, 4), "dz_ft": _ft(dz)})
                    )
                ls.last_seen_s = t
                if unknown[k]:
                    ls.record["altitude_unknown"] = True
                ls.min_d_nm = min(ls.min_d_nm, d)
                ls.min_dz_ft = float(np.fmin(ls.min_dz_ft, dz))  # NaN (unknown) ignored
                if norm < ls.worst:
                    ls.worst, ls.worst_d_nm, ls.worst_dz_ft = norm, d, dz
        self._keep_alive(snap, levels, seen={(a, b) for a, b in zip(ids_a, ids_b, strict=True)} if n else set())
        events.extend(self._expire(t, self.clear_after_s))
        return events

    def _keep_alive(self, snap: Snapshot, levels: Sequence[Minima], seen: set[tuple[str, str]]) -> None:
        """Refresh open alerts not detected now whose pair still conflicts with widened
        minima (vectorised over those pairs; none on most steps)."""
        missing = [k for k in self._alerts if k not in seen]
        if not missing or len(snap) < 2:
            return
        # Where the missing pairs' aircraft are in the snapshot (binary search, no hashing
        # of the whole snapshot's ids).
        sorter = np.argsort(snap.id)
        ids_sorted = snap.id[sorter]

        def locate(names: list[str]) -> np.ndarray:
            q = np.array(names, dtype=snap.id.dtype if snap.id.dtype.kind == "U" else str)
            at = np.minimum(np.searchsorted(ids_sorted, q), len(snap) - 1)
            return np.where(ids_sorted[at] == q, sorter[at], -1)

        ia = locate([k[0] for k in missing])
        ib = locate([k[1] for k in missing])
        ok = (ia >= 0) & (ib >= 0)
        if not ok.any():
            return
        keys = [k for k, good in zip(missing, ok.tolist(), strict=True) if good]
        ia, ib = ia[ok], ib[ok]
        lvl = np.array([self._alerts[k].level for k in keys])
        pa, pb = snap.party[ia], snap.party[ib]
        h = np.empty(lvl.shape[0])
        v = np.empty(lvl.shape[0])
        t_s = np.empty(lvl.shape[0])
        horizontal = np.empty(lvl.shape[0], dtype=bool)
        for n, m in enumerate(levels):
            sel = lvl == n
            h[sel] = m.h_nm[pa[sel], pb[sel]] * self.keep_factor
            v[sel] = m.v_ft[pa[sel], pb[sel]] * self.keep_factor
            t_s[sel] = m.t_s[pa[sel], pb[sel]]
            horizontal[sel] = np.asarray(m.alt_unknown_h)[pa[sel], pb[sel]]
        sub, inverse = np.unique(np.concatenate([ia, ib]), return_inverse=True)
        kin = Kinematics.of(snap, sub)
        g = kin.pairs(inverse[: ia.shape[0]], inverse[ia.shape[0]:])
        still = pair_conflicts(g, h, v, t_s, horizontal).hit
        for key, hit in zip(keys, still.tolist(), strict=True):
            if hit:
                self._alerts[key].last_seen_s = snap.t_s

    def open_state(self) -> dict[str, Any]:
        """The open alerts and losses of separation (copies): all that the events after
        this instant depend on besides the snapshots, handed from one span of a recording
        to the next (`sharedsky mine`)."""
        return {"alerts": copy.deepcopy(self._alerts), "losses": copy.deepcopy(self._losses)}

    def restore_open(self, state: dict[str, Any]) -> None:
        """Continue from another run's `open_state` (its ids are kept)."""
        self._alerts = copy.deepcopy(state["alerts"])
        self._losses = copy.deepcopy(state["losses"])

    @staticmethod
    def open_state_key(state: dict[str, Any]) -> str:
        """`open_state` without its ids (each run numbers its own): two runs whose keys are
        equal at an instant emit the same events from that instant on, given the same
        snapshots."""

        def val(x: Any) -> Any:
            if isinstance(x, float):
                return repr(round(x, 6))
            if isinstance(x, dict):
                return sorted((k, val(v)) for k, v in x.items())
            return repr(x)

        alerts = sorted((k, val({f: getattr(a, f) for f in a.__dataclass_fields__ if f != "id"}))
                        for k, a in state["alerts"].items())
        losses = sorted((k, val({f: getattr(s, f) for f in s.__dataclass_fields__ if f != "id"}))
                        for k, s in state["losses"].items())
        return repr((alerts, losses))

    def state_key(self) -> str:
        """`open_state_key` of the state now, without copying it."""
        return self.open_state_key({"alerts": self._alerts, "losses": self._losses})

    @property
    def idle(self) -> bool:
        """No alert and no loss of separation open."""
        return not self._alerts and not self._losses

    def close(self, t_s: float) -> list[dict[str, Any]]:
        """End everything still open (end of a replay or shutdown)."""
        return self._expire(t_s, -1.0)

    def _expire(self, t: float, after_s: float) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        for key in [k for k, a in self._alerts.items() if t - a.last_seen_s > after_s]:
            al = self._alerts.pop(key)
            events.append(self._event("conflict", "ended", t, al.id, {
                **{x: al.record[x] for x in ("a", "b", "party_a", "party_b", "level", "altitude_unknown")
                   if x in al.record},
                **({x: al.record[x] for x in ("suppressed", "suppressed_by", "aerodrome") if x in al.record}
                   if al.suppressed else {}),
                "last_predicted_t": al.last_seen_s,
                "duration_s": round(al.last_seen_s - al.first_s, 1),
            }))
        for key in [k for k, s in self._losses.items() if t - s.last_seen_s > after_s]:
            ls = self._losses.pop(key)
            info = {
                **ls.record,
                "start_t": ls.start_s,
                "end_t": ls.last_seen_s,
                "duration_s": round(ls.last_seen_s - ls.start_s, 1),
                "min_d_nm": round(ls.min_d_nm, 4),
                "min_dz_ft": _ft(ls.min_dz_ft),
                "closest_d_nm": round(ls.worst_d_nm, 4),
                "closest_dz_ft": _ft(ls.worst_dz_ft),
            }
            self.losses.append({"id": ls.id, **info})
            events.append(self._event("loss_of_separation", "end", t, ls.id, info))
        return events

    @staticmethod
    def _event(kind: str, state: str, t: float, ident: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"kind": kind, "state": state, "t": t, "id": ident, **body}
