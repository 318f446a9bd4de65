"""Sovereign airspace watch: warn on schedule before an incursion, measure every violation.

`AirspaceWatch(agreement).step(snapshot)` is called once per snapshot (in replay, live
or simulation) and returns events in the service API format (kind "airspace", states
predicted | advisory | warning | violation | violation_end). The geometry is the pure
engine in `sharedsky.engine.airspace`; this module only keeps state between steps.

Only aircraft of an airspace's `barred` parties are watched. For each (airspace,
aircraft) the watch keeps at most one *approach* (a predicted incursion) and one open
*violation*:

* An approach opens when the straight-line prediction first enters within the horizon.
  Its stages (e.g. advisory at 300 s to entry, warning at 120 s) are each issued at most
  once per approach, in order of severity: when several are due at once only the most
  severe is issued, and a less severe stage is never issued after a more severe one.
  If no stage is due when the approach opens, a `predicted` event says so.
* Hysteresis: an approach closes only after it has not been predicted for
  `clear_after_s` consecutive seconds (default 60), so an aircraft wobbling across the
  prediction threshold, or flying parallel to the border, is warned once, not at every
  wobble. A new approach of the same aircraft to the same airspace cannot re-issue a
  stage within that stage's own lead time of its last issue (never faster than the
  schedule).
* A violation starts when the aircraft is inside (horizontally, and between floor and
  ceiling). The straight segment flown since the previous step is checked against the
  airspace too, so entry and exit times and points are interpolated exactly, and an
  incursion across a corner between two steps is caught. It is repeated every
  `repeat_inside_s` while inside, and ends with the exit time and point, the duration,
  the maximum depth (horizontal distance from the boundary, sampled along every segment
  flown inside) and the warnings that preceded it.

Work per step is vectorised over aircraft; the Python code runs only for aircraft that
have an approach, a violation, or an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sharedsky.engine.airspace import (
    Assessment,
    PreparedAirspace,
    assess,
    avoid_headings,
    contains_h,
    interpolate,
    nearest_boundary,
    passage,
    prepare,
)
from sharedsky.snapshot import Snapshot

#: Samples taken along each segment flown inside, to find the maximum depth between steps.
DEPTH_SAMPLES = 9


@dataclass(frozen=True)
class _Stage:
    name: str
    lead_s: float


@dataclass
class _Zone:
    """One airspace of the agreement, prepared, with its schedule."""

    id: str
    name: str
    owner: str
    barred: tuple[str, ...]
    horizon_s: float
    stages: tuple[_Stage, ...]  # decreasing lead (least to most severe)
    repeat_inside_s: float
    prep: PreparedAirspace


@dataclass
class _Approach:
    id: str
    opened_s: float
    last_predicted_s: float
    issued: dict[str, float] = field(default_factory=dict)  # stage name -> t issued
    severity: int = -1  # index of the most severe stage issued
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Violation:
    id: str
    airspace: str
    icao24: str
    party: str
    entry_t: float
    entry_lat: float
    entry_lon: float
    entry_alt_ft: float
    last_seen_s: float
    last_issued_s: float
    max_depth_nm: float = 0.0
    max_depth_ft: float = 0.0
    repeats: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    exit_t: float | None = None
    exit_lat: float | None = None
    exit_lon: float | None = None
    lost: bool = False

    def as_dict(self) -> dict[str, Any]:
        end = self.exit_t
        return {
            "id": self.id,
            "airspace": self.airspace,
            "icao24": self.icao24,
            "party": self.party,
            "entry_t": _r(self.entry_t, 3),
            "entry_lat": _r(self.entry_lat, 6),
            "entry_lon": _r(self.entry_lon, 6),
            "entry_alt_ft": _r(self.entry_alt_ft, 1),
            "exit_t": None if end is None else _r(end, 3),
            "exit_lat": None if self.exit_lat is None else _r(self.exit_lat, 6),
            "exit_lon": None if self.exit_lon is None else _r(self.exit_lon, 6),
            "duration_s": None if end is None else _r(end - self.entry_t, 3),
            "max_depth_nm": _r(self.max_depth_nm, 4),
            "max_depth_ft": _r(self.max_depth_ft, 1),
            "warnings": list(self.warnings),
            "open": end is None,
            "lost": self.lost,
        }


def _r(x: float, nd: int) -> float | None:
    x = float(x)
    return round(x, nd) if np.isfinite(x) else None


def _stages(schedule: Any) -> tuple[tuple[_Stage, ...], float]:
    raw = getattr(schedule, "stages", None) or []
    stages = sorted((_Stage(str(s.name), float(s.lead_s)) for s in raw), key=lambda s: -s.lead_s)
    return tuple(stages), float(getattr(schedule, "repeat_inside_s", 30.0) or 30.0)


class AirspaceWatch:
    """Stateful airspace watch over successive snapshots of one agreement."""

    def __init__(
        self,
        agreement: Any,
        *,
        clear_after_s: float = 60.0,
        max_gap_s: float = 30.0,
        lost_after_s: float = 60.0,
    ) -> None:
        """`clear_after_s`: an approach closes after this long unpredicted;
        `max_gap_s`: the segment since the previous position is checked only if that
        position is at most this old; `lost_after_s`: a violation of an aircraft no
        longer seen is closed (as lost) after this long."""
        self.agreement = agreement
        self.party_ids: tuple[str, ...] = tuple(agreement.party_ids)
        self.clear_after_s = float(clear_after_s)
        self.max_gap_s = float(max_gap_s)
        self.lost_after_s = float(lost_after_s)
        ch = getattr(agreement, "channels", None)
        self.frequencies_mhz = [float(f) for f in (getattr(ch, "distress_mhz", None) or [])]
        self.hotline = str(getattr(ch, "hotline", "") or "")
        self.zones: list[_Zone] = []
        for a in getattr(agreement, "airspaces", None) or []:
            stages, repeat = _stages(getattr(a, "schedule", None))
            self.zones.append(
                _Zone(
                    id=str(a.id),
                    name=str(getattr(a, "name", "") or a.id),
                    owner=str(getattr(a, "owner", "")),
                    barred=tuple(str(b) for b in (getattr(a, "barred", None) or [])),
                    horizon_s=max(
                        [float(getattr(a, "horizon_s", 300.0))] + [s.lead_s for s in stages]
                    ),
                    stages=stages,
                    repeat_inside_s=repeat,
                    prep=prepare(a.geometry, float(a.floor_ft), float(a.ceiling_ft)),
                )
            )
        self._approaches: dict[tuple[str, str], _Approach] = {}
        self._open: dict[tuple[str, str], _Violation] = {}
        self._closed: list[_Violation] = []
        self._last_issue: dict[tuple[str, str, str], float] = {}
        # Previous positions of watched aircraft (sorted by id), for the segment check.
        self._prev_id = np.zeros(0, dtype=str)
        self._prev = np.zeros((4, 0))  # t, lat, lon, alt
        self.counts: dict[str, int] = {}
        self.cleared = 0
        self.steps = 0

    # ---------------------------------------------------------------------------------

    @property
    def violations(self) -> list[dict[str, Any]]:
        """Every violation so far (closed ones first, then those still open)."""
        return [v.as_dict() for v in self._closed] + [v.as_dict() for v in self._open.values()]

    def summary(self) -> dict[str, Any]:
        """Counts of events by state, violations, and the worst one, overall and per airspace."""
        allv = self._closed + list(self._open.values())
        per: dict[str, Any] = {}
        for z in self.zones:
            vs = [v for v in allv if v.airspace == z.id]
            per[z.id] = {
                "name": z.name,
                "owner": z.owner,
                "barred": list(z.barred),
                "vertices": z.prep.n_vertices,
                "violations": len(vs),
                "max_depth_nm": _r(max((v.max_depth_nm for v in vs), default=0.0), 4),
                "longest_s": _r(
                    max(((v.exit_t if v.exit_t is not None else v.last_seen_s) - v.entry_t
                         for v in vs), default=0.0), 3,
                ),
            }
        return {
            "airspaces": len(self.zones),
            "steps": self.steps,
            "events": dict(sorted(self.counts.items())),
            "violations": len(allv),
            "open_violations": len(self._open),
            "approaches_open": len(self._approaches),
            "approaches_cleared": self.cleared,
            "by_airspace": per,
        }

    # ---------------------------------------------------------------------------------

    def _party_names(self, snap: Snapshot) -> tuple[str, ...]:
        names = tuple(snap.parties)
        return names if len(names) > 1 else self.party_ids

    def step(self, snap: Snapshot) -> list[dict[str, Any]]:
        """Assess one snapshot against every airspace; return the events it causes."""
        self.steps += 1
        t = float(snap.t_s)
        names = self._party_names(snap)
        events: list[dict[str, Any]] = []
        ids = snap.id.astype(str)
        valid = np.isfinite(snap.lat_deg) & np.isfinite(snap.lon_deg)
        watched_any = np.zeros(len(snap), dtype=bool)
        # Previous positions of this snapshot's aircraft (for the segment check).
        if self._prev_id.size and len(snap):
            pos = np.searchsorted(self._prev_id, ids)
            pos_c = np.minimum(pos, self._prev_id.size - 1)
            found = self._prev_id[pos_c] == ids
            prev = self._prev[:, pos_c]
            dt = t - prev[0]
            has_prev = found & (dt > 0) & (dt <= self.max_gap_s) & np.isfinite(prev[1])
        else:
            prev = np.full((4, len(snap)), np.nan)
            has_prev = np.zeros(len(snap), dtype=bool)
        for zone in self.zones:
            codes = [i for i, p in enumerate(names) if p in zone.barred]
            mask = valid & np.isin(snap.party, codes)
            watched_any |= mask
            idx = np.flatnonzero(mask)
            events.extend(self._step_zone(zone, snap, idx, names, prev, has_prev))
        self._remember(snap, ids, watched_any)
        for ev in events:
            key = ev["state"]
            self.counts[key] = self.counts.get(key, 0) + 1
        return events

    def _remember(self, snap: Snapshot, ids: np.ndarray, watched: np.ndarray) -> None:
        """Keep the latest position of every watched aircraft (vectorised merge)."""
        t = float(snap.t_s)
        cur_id = ids[watched]
        cur = np.vstack([
            np.full(cur_id.shape[0], t), snap.lat_deg[watched], snap.lon_deg[watched],
            snap.alt_ft[watched],
        ])
        keep = (~np.isin(self._prev_id, cur_id)) & (t - self._prev[0] <= self.max_gap_s)
        all_id = np.concatenate([self._prev_id[keep], cur_id])
        all_v = np.hstack([self._prev[:, keep], cur])
        order = np.argsort(all_id, kind="stable")
        self._prev_id, self._prev = all_id[order], all_v[:, order]

    # ---------------------------------------------------------------------------------

    def _base(self, zone: _Zone, t: float, state: str, icao: str, party: str,
              callsign: str | None, eid: str) -> dict[str, Any]:
        ev: dict[str, Any] = {
            "t": t,
            "kind": "airspace",
            "state": state,
            "id": eid,
            "airspace": zone.id,
            "airspace_name": zone.name,
            "owner": zone.owner,
            "icao24": icao,
            "party": party,
            "to": [party],
        }
        if callsign:
            ev["callsign"] = callsign
        if self.frequencies_mhz:
            ev["frequencies_mhz"] = list(self.frequencies_mhz)
        if self.hotline:
            ev["hotline"] = self.hotline
        return ev

    def _step_zone(
        self,
        zone: _Zone,
        snap: Snapshot,
        idx: np.ndarray,
        names: Sequence[str],
        prev: np.ndarray,
        has_prev: np.ndarray,
    ) -> list[dict[str, Any]]:
        t = float(snap.t_s)
        prep = zone.prep
        events: list[dict[str, Any]] = []
        ids = snap.id[idx].astype(str)
        a: Assessment = assess(
            prep, snap.lat_deg[idx], snap.lon_deg[idx], snap.alt_ft[idx], snap.track_deg[idx],
            snap.gs_kt[idx], snap.vs_fpm[idx], zone.horizon_s, headings=False, distances=False,
        )
        # The nearest-boundary search (the costly part) only for aircraft inside or
        # predicted: depth, distance, and the heading that leaves.
        dist = np.full(idx.shape[0], np.nan)
        bearing = np.full(idx.shape[0], np.nan)
        near = np.flatnonzero(a.inside | a.predicted)
        if near.size:
            nb = nearest_boundary(prep, snap.lat_deg[idx[near]], snap.lon_deg[idx[near]])
            dist[near] = nb.dist_nm
            bearing[near] = nb.bearing_deg
        depth = np.where(a.inside, dist, 0.0)
        heading = np.where(a.inside, bearing, np.nan)
        # Segment flown since the previous step, for aircraft that have one.
        hp = has_prev[idx]
        j_seg = np.flatnonzero(hp)
        seg = None
        if j_seg.size:
            g = idx[j_seg]
            pv = prev[:, g]
            seg = passage(prep, pv[1], pv[2], pv[3], snap.lat_deg[g], snap.lon_deg[g],
                          snap.alt_ft[g])
        seg_row = np.full(idx.shape[0], -1)
        seg_row[j_seg] = np.arange(j_seg.size)
        touched = np.zeros(idx.shape[0], dtype=bool)
        seg_depth = np.zeros(idx.shape[0])
        if seg is not None:
            touched[j_seg] = seg.touched
            # Segments that start and end inside are not sampled: along a straight step of
            # length L the depth is 1-Lipschitz, so the endpoint depths (measured every
            # step) are within L/2 (under 0.15 NM at 1 Hz) of the segment's maximum. Only
            # segments that cross the boundary need samples, which keeps the cost of deep,
            # long violations flat.
            crossing = ~(seg.start_inside & seg.end_inside)
            tj = np.flatnonzero(seg.touched & np.isfinite(seg.first_in) & crossing)
            if tj.size:
                # Max depth along the inside part of each segment (vectorised samples).
                g = idx[j_seg[tj]]
                pv = prev[:, g]
                f = np.linspace(0.0, 1.0, DEPTH_SAMPLES)
                mu = seg.first_in[tj, None] + (seg.last_out - seg.first_in)[tj, None] * f
                rep = lambda x: np.repeat(x, DEPTH_SAMPLES)  # noqa: E731
                la, lo = interpolate(rep(pv[1]), rep(pv[2]), rep(snap.lat_deg[g]),
                                     rep(snap.lon_deg[g]), mu.ravel())
                nb = nearest_boundary(prep, la, lo)
                # Only samples inside count (a segment may leave and re-enter).
                ok = contains_h(prep, la, lo) & np.isfinite(nb.dist_nm)
                d = np.where(ok, nb.dist_nm, 0.0).reshape(-1, DEPTH_SAMPLES)
                seg_depth[j_seg[tj]] = d.max(axis=1)
        pred = a.predicted
        # Python work only for aircraft with something to say or some state.
        keys_state = {k[1] for k in self._approaches if k[0] == zone.id}
        keys_state |= {k[1] for k in self._open if k[0] == zone.id}
        interesting = a.inside | pred | touched | np.isin(ids, list(keys_state))
        need_heading: list[tuple[int, dict[str, Any]]] = []
        seen: set[str] = set()
        for j in np.flatnonzero(interesting).tolist():
            icao = str(ids[j])
            seen.add(icao)
            k = int(idx[j])
            party = names[int(snap.party[k])] if int(snap.party[k]) < len(names) else "?"
            cs = None if snap.callsign is None else str(snap.callsign[k]).strip() or None
            key = (zone.id, icao)
            r = seg_row[j]
            viol = self._open.get(key)
            inside = bool(a.inside[j])
            if viol is None and (inside or touched[j]):
                appr = self._approaches.pop(key, None)
                # Entry: interpolated on the segment since the previous step if it has one.
                if r >= 0 and seg is not None and np.isfinite(seg.first_in[r]) and not seg.start_inside[r]:
                    t0 = float(prev[0, k])
                    mu_in = float(seg.first_in[r])
                    la, lo = interpolate(prev[1, k:k + 1], prev[2, k:k + 1],
                                         snap.lat_deg[k:k + 1], snap.lon_deg[k:k + 1], np.array([mu_in]))
                    entry_t = t0 + mu_in * (t - t0)
                    e_lat, e_lon = float(la[0]), float(lo[0])
                    e_alt = float(prev[3, k] + mu_in * (snap.alt_ft[k] - prev[3, k]))
                elif r >= 0 and seg is not None and seg.start_inside[r]:
                    entry_t = float(prev[0, k])
                    e_lat, e_lon, e_alt = float(prev[1, k]), float(prev[2, k]), float(prev[3, k])
                else:
                    entry_t = t
                    e_lat, e_lon = float(snap.lat_deg[k]), float(snap.lon_deg[k])
                    e_alt = float(snap.alt_ft[k])
                vid = appr.id if appr is not None else f"{zone.id}/{icao}/{int(entry_t)}"
                viol = _Violation(
                    id=vid, airspace=zone.id, icao24=icao, party=party, entry_t=entry_t,
                    entry_lat=e_lat, entry_lon=e_lon, entry_alt_ft=e_alt, last_seen_s=t,
                    last_issued_s=t, warnings=[] if appr is None else list(appr.warnings),
                )
                viol.max_depth_nm = max(float(seg_depth[j]), float(depth[j]) if inside else 0.0)
                if inside:
                    viol.max_depth_ft = self._vdepth(zone, float(snap.alt_ft[k]))
                self._open[key] = viol
                ev = self._base(zone, t, "violation", icao, party, cs, vid)
                ev.update(
                    time_inside_s=_r(t - entry_t, 3), entry_t=_r(entry_t, 3),
                    entry_lat=_r(e_lat, 6), entry_lon=_r(e_lon, 6), entry_alt_ft=_r(e_alt, 1),
                    depth_nm=_r(depth[j] if inside else 0.0, 4),
                    max_depth_nm=_r(viol.max_depth_nm, 4),
                    heading_to_avoid_deg=_r(heading[j], 1) if inside else None,
                    repeat=0, warnings=list(viol.warnings),
                    message=self._message(zone, "violation", icao, party, cs, t - entry_t,
                                          heading[j] if inside else np.nan),
                )
                events.append(ev)
                if not inside:  # in and out between two steps (a corner)
                    events.append(self._end(zone, key, snap, k, j, seg, r, prev, cs, t))
                continue
            if viol is not None:
                viol.max_depth_nm = max(viol.max_depth_nm, float(seg_depth[j]))
                if inside:
                    viol.last_seen_s = t
                    viol.max_depth_nm = max(viol.max_depth_nm, float(depth[j]))
                    viol.max_depth_ft = max(viol.max_depth_ft, self._vdepth(zone, float(snap.alt_ft[k])))
                    if t - viol.last_issued_s >= zone.repeat_inside_s - 1e-9:
                        viol.last_issued_s = t
                        viol.repeats += 1
                        ev = self._base(zone, t, "violation", icao, party, cs, viol.id)
                        ev.update(
                            time_inside_s=_r(t - viol.entry_t, 3), entry_t=_r(viol.entry_t, 3),
                            depth_nm=_r(depth[j], 4), max_depth_nm=_r(viol.max_depth_nm, 4),
                            heading_to_avoid_deg=_r(heading[j], 1), repeat=viol.repeats,
                            message=self._message(zone, "violation", icao, party, cs,
                                                  t - viol.entry_t, heading[j]),
                        )
                        events.append(ev)
                else:
                    events.append(self._end(zone, key, snap, k, j, seg, r, prev, cs, t))
                continue
            # Outside, no open violation: approach logic.
            appr = self._approaches.get(key)
            if pred[j]:
                tte = float(a.time_to_entry_s[j])
                new = appr is None
                if appr is None:
                    appr = _Approach(id=f"{zone.id}/{icao}/{int(t)}", opened_s=t, last_predicted_s=t)
                    self._approaches[key] = appr
                appr.last_predicted_s = t
                due = [n for n, s in enumerate(zone.stages) if tte <= s.lead_s + 1e-9]
                stage = max(due) if due else -1
                state = None
                if stage > appr.severity:
                    sname = zone.stages[stage].name
                    last = self._last_issue.get((zone.id, icao, sname))
                    appr.severity = stage  # handled, even if held back below
                    if last is None or t - last >= zone.stages[stage].lead_s - 1e-9:
                        state = sname
                        appr.issued[sname] = t
                        self._last_issue[(zone.id, icao, sname)] = t
                elif new:
                    state = "predicted"
                if state is not None:
                    ev = self._base(zone, t, state, icao, party, cs, appr.id)
                    ev.update(
                        time_to_entry_s=_r(tte, 1), entry_t=_r(t + tte, 3),
                        entry_lat=_r(a.entry_lat_deg[j], 6), entry_lon=_r(a.entry_lon_deg[j], 6),
                        entry_alt_ft=_r(a.entry_alt_ft[j], 1), distance_nm=_r(dist[j], 3),
                        heading_to_avoid_deg=None,
                    )
                    if state != "predicted":
                        ev["stage_lead_s"] = zone.stages[appr.severity].lead_s
                        appr.warnings.append({"state": state, "t": t, "time_to_entry_s": _r(tte, 1)})
                    events.append(ev)
                    need_heading.append((j, ev))
            elif appr is not None and t - appr.last_predicted_s >= self.clear_after_s:
                del self._approaches[key]
                self.cleared += 1
        # Aircraft with state but not in this snapshot: approaches clear, violations get lost.
        for key in [k for k in self._approaches if k[0] == zone.id and k[1] not in seen]:
            if t - self._approaches[key].last_predicted_s >= self.clear_after_s:
                del self._approaches[key]
                self.cleared += 1
        for key in [k for k in self._open if k[0] == zone.id and k[1] not in seen]:
            v = self._open[key]
            if t - v.last_seen_s >= self.lost_after_s:
                v.lost = True
                v.exit_t = v.last_seen_s
                del self._open[key]
                self._closed.append(v)
                ev = self._base(zone, t, "violation_end", v.icao24, v.party, None, v.id)
                ev.update(self._end_fields(v))
                events.append(ev)
        if need_heading:
            jj = np.array([j for j, _ in need_heading])
            k = idx[jj]
            rel = (bearing[jj] - snap.track_deg[k] + 540.0) % 360.0 - 180.0
            hd = avoid_headings(
                prep, snap.lat_deg[k], snap.lon_deg[k], snap.alt_ft[k], snap.track_deg[k],
                snap.gs_kt[k], snap.vs_fpm[k], zone.horizon_s, prefer_right=~(rel > 0),
            )
            for (_, ev), h in zip(need_heading, hd, strict=True):
                ev["heading_to_avoid_deg"] = _r(h, 1)
                ev["message"] = self._message(
                    zone, ev["state"], ev["icao24"], ev["party"], ev.get("callsign"),
                    ev["time_to_entry_s"], h,
                )
        return events

    @staticmethod
    def _vdepth(zone: _Zone, alt_ft: float) -> float:
        if not np.isfinite(alt_ft):
            return 0.0
        return float(max(0.0, min(alt_ft - zone.prep.floor_ft, zone.prep.ceiling_ft - alt_ft)))

    def _end_fields(self, v: _Violation) -> dict[str, Any]:
        d = v.as_dict()
        return {k: d[k] for k in ("entry_t", "entry_lat", "entry_lon", "exit_t", "exit_lat",
                                  "exit_lon", "duration_s", "max_depth_nm", "max_depth_ft",
                                  "warnings", "lost")} | {"time_inside_s": d["duration_s"]}

    def _end(self, zone: _Zone, key: tuple[str, str], snap: Snapshot, k: int, j: int,
             seg: Any, r: int, prev: np.ndarray, cs: str | None, t: float) -> dict[str, Any]:
        """Close the open violation of `key`: exit interpolated on the last segment."""
        v = self._open.pop(key)
        if r >= 0 and seg is not None and np.isfinite(seg.last_out[r]):
            t0 = float(prev[0, k])
            mu = float(seg.last_out[r])
            la, lo = interpolate(prev[1, k:k + 1], prev[2, k:k + 1], snap.lat_deg[k:k + 1],
                                 snap.lon_deg[k:k + 1], np.array([mu]))
            v.exit_t, v.exit_lat, v.exit_lon = t0 + mu * (t - t0), float(la[0]), float(lo[0])
        else:
            v.exit_t, v.exit_lat, v.exit_lon = t, float(snap.lat_deg[k]), float(snap.lon_deg[k])
        self._closed.append(v)
        ev = self._base(zone, t, "violation_end", v.icao24, v.party, cs, v.id)
        ev.update(self._end_fields(v))
        return ev

    def _message(self, zone: _Zone, state: str, icao: str, party: str, cs: str | None,
                 secs: float, heading: float) -> str:
        """One line for a radio operator or the hotline, in plain English."""
        who = f"{cs or icao} ({party})"
        turn = f"; turn heading {float(heading):03.0f}" if np.isfinite(heading) else ""
        if state == "violation":
            return f"{who}: you are inside {zone.name} for {secs:.0f} s{turn} to leave"
        return (f"{who}: {state}: you will enter {zone.name} in {secs:.0f} s on present "
                f"course{turn} to remain clear")
