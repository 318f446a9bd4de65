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
from typing import Any, ClassVar

import numpy as np

from sharedsky.alerting.airspace_schedule import Schedule, Zone, zones_of
from sharedsky.alerting.airspace_violations import (
    Segments,
    Violation,
    max_depth_along,
    rounded,
)
from sharedsky.alerting.carry import Carried
from sharedsky.engine.airspace import assess, avoid_headings, nearest_boundary, passage
from sharedsky.ingest.snapshot import Snapshot


class AirspaceWatch(Carried):
    """Stateful airspace watch over successive snapshots of one agreement."""

    #: What the next step depends on (`_closed`, the ended violations, and `steps` only count
    #: for a summary).
    CARRIED: ClassVar[tuple[str, ...]] = ("_open", "_prev_id", "_prev", "counts", "schedule")

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
        self.party_ids: tuple[str, ...] = tuple(agreement.party_ids)
        self.max_gap_s = float(max_gap_s)
        self.lost_after_s = float(lost_after_s)
        ch = agreement.channels
        self.frequencies_mhz = [float(f) for f in ch.distress_mhz]
        self.hotline = str(ch.hotline or "")
        self.zones: list[Zone] = zones_of(agreement)
        self.schedule = Schedule(float(clear_after_s))
        self._open: dict[tuple[str, str], Violation] = {}
        self._closed: list[Violation] = []
        # Previous positions of watched aircraft (sorted by id), for the segment check.
        self._prev_id = np.zeros(0, dtype=str)
        self._prev = np.zeros((4, 0))  # t, lat, lon, alt
        self.counts: dict[str, int] = {}
        self.steps = 0

    # ---------------------------------------------------------------------------------

    @property
    def violations(self) -> list[dict[str, Any]]:
        """Every violation so far (closed ones first, then those still open)."""
        return [v.as_dict() for v in self._closed] + [v.as_dict() for v in self._open.values()]

    def resume(self, state: dict[str, Any]) -> None:
        """Go on from another watch's `carry`, with this one's `clear_after_s` (configuration)."""
        clear_after_s = self.schedule.clear_after_s
        super().resume(state)
        self.schedule.clear_after_s = clear_after_s

    @property
    def idle(self) -> bool:
        """No violation and no approach open."""
        return not self._open and not self.schedule.approaches

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
                "max_depth_nm": rounded(max((v.max_depth_nm for v in vs), default=0.0), 4),
                "longest_s": rounded(
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
            "approaches_open": len(self.schedule.approaches),
            "approaches_cleared": self.schedule.cleared,
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
            mask = valid & np.isin(snap.party, codes) & self._within_reach(zone, snap)
            watched_any |= mask
            idx = np.flatnonzero(mask)
            events.extend(self._step_zone(zone, snap, idx, names, prev, has_prev))
        self._remember(snap, ids, watched_any)
        for ev in events:
            key = ev["state"]
            self.counts[key] = self.counts.get(key, 0) + 1
        return events

    def _within_reach(self, zone: Zone, snap: Snapshot) -> np.ndarray | bool:
        """Which aircraft could matter to `zone` this step (all, here; a subclass with many
        small zones narrows it down cheaply before the geometry)."""
        return True

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

    def _base(self, zone: Zone, t: float, state: str, icao: str, party: str,
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
        zone: Zone,
        snap: Snapshot,
        idx: np.ndarray,
        names: Sequence[str],
        prev: np.ndarray,
        has_prev: np.ndarray,
    ) -> list[dict[str, Any]]:
        """Events of one airspace: violations first (entry, repeat, exit), else the
        approach schedule; vectorised geometry, Python only for aircraft with state."""
        t = float(snap.t_s)
        prep = zone.prep
        events: list[dict[str, Any]] = []
        ids = snap.id[idx].astype(str)
        a = assess(
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
        j_seg = np.flatnonzero(has_prev[idx])
        seg = None
        touched = np.zeros(idx.shape[0], dtype=bool)
        seg_depth = np.zeros(idx.shape[0])
        if j_seg.size:
            g = idx[j_seg]
            pv = prev[:, g]
            seg = passage(prep, pv[1], pv[2], pv[3], snap.lat_deg[g], snap.lon_deg[g], snap.alt_ft[g])
            touched[j_seg] = seg.touched
            known = np.zeros(j_seg.size)
            open_here = {k[1]: v.max_depth_nm for k, v in self._open.items() if k[0] == zone.id}
            if open_here:
                known = np.array([open_here.get(i, 0.0) for i in ids[j_seg].tolist()])
            seg_depth[j_seg] = max_depth_along(prep, seg, pv, snap.lat_deg[g], snap.lon_deg[g],
                                               depth[j_seg], known)
        seg_row = np.full(idx.shape[0], -1)
        seg_row[j_seg] = np.arange(j_seg.size)
        segments = Segments(prev, seg, seg_row)
        pred = a.predicted
        # Python work only for aircraft with something to say or some state.
        keys_state = {k[1] for k in self.schedule.approaches if k[0] == zone.id}
        keys_state |= {k[1] for k in self._open if k[0] == zone.id}
        interesting = a.inside | pred | touched | np.isin(ids, list(keys_state))
        need_heading: list[tuple[int, dict[str, Any]]] = []
        seen: set[str] = set()
        predicted_now: set[str] = set()
        for j in np.flatnonzero(interesting).tolist():
            icao = str(ids[j])
            seen.add(icao)
            k = int(idx[j])
            party = names[int(snap.party[k])] if int(snap.party[k]) < len(names) else "?"
            cs = None if snap.callsign is None else str(snap.callsign[k]).strip() or None
            key = (zone.id, icao)
            lat, lon, alt = float(snap.lat_deg[k]), float(snap.lon_deg[k]), float(snap.alt_ft[k])
            viol = self._open.get(key)
            inside = bool(a.inside[j])
            if viol is None and (inside or touched[j]):
                appr = self.schedule.approaches.pop(key, None)
                self.schedule.entered(zone.id, icao)
                entry_t, e_lat, e_lon, e_alt = segments.entry(j, k, lat, lon, alt, t)
                vid = appr.id if appr is not None else f"{zone.id}/{icao}/{int(entry_t)}"
                viol = Violation(
                    id=vid, airspace=zone.id, icao24=icao, party=party, entry_t=entry_t,
                    entry_lat=e_lat, entry_lon=e_lon, entry_alt_ft=e_alt, last_seen_s=t,
                    last_issued_s=t, warnings=[] if appr is None else list(appr.warnings),
                )
                viol.max_depth_nm = max(float(seg_depth[j]), float(depth[j]) if inside else 0.0)
                if inside:
                    viol.max_depth_ft = zone.vertical_depth_ft(alt)
                self._open[key] = viol
                ev = self._base(zone, t, "violation", icao, party, cs, vid)
                ev.update(
                    time_inside_s=rounded(t - entry_t, 3), entry_t=rounded(entry_t, 3),
                    entry_lat=rounded(e_lat, 6), entry_lon=rounded(e_lon, 6), entry_alt_ft=rounded(e_alt, 1),
                    depth_nm=rounded(depth[j] if inside else 0.0, 4),
                    max_depth_nm=rounded(viol.max_depth_nm, 4),
                    heading_to_avoid_deg=rounded(heading[j], 1) if inside else None,
                    repeat=0, warnings=list(viol.warnings),
                    message=zone.message("violation", f"{cs or icao} ({party})", t - entry_t,
                                         heading[j] if inside else np.nan),
                )
                events.append(ev)
                if not inside:  # in and out between two steps (a corner)
                    events.append(self._end(zone, key, segments, j, k, (lat, lon, alt), cs, t))
                continue
            if viol is not None:
                viol.max_depth_nm = max(viol.max_depth_nm, float(seg_depth[j]))
                if inside:
                    viol.last_seen_s = t
                    viol.max_depth_nm = max(viol.max_depth_nm, float(depth[j]))
                    viol.max_depth_ft = max(viol.max_depth_ft, zone.vertical_depth_ft(alt))
                    if t - viol.last_issued_s >= zone.repeat_inside_s - 1e-9:
                        viol.last_issued_s = t
                        viol.repeats += 1
                        ev = self._base(zone, t, "violation", icao, party, cs, viol.id)
                        ev.update(
                            time_inside_s=rounded(t - viol.entry_t, 3), entry_t=rounded(viol.entry_t, 3),
                            depth_nm=rounded(depth[j], 4), max_depth_nm=rounded(viol.max_depth_nm, 4),
                            heading_to_avoid_deg=rounded(heading[j], 1), repeat=viol.repeats,
                            message=zone.message("violation", f"{cs or icao} ({party})",
                                                 t - viol.entry_t, heading[j]),
                        )
                        events.append(ev)
                else:
                    events.append(self._end(zone, key, segments, j, k, (lat, lon, alt), cs, t))
                continue
            if not pred[j]:
                continue
            # Outside, no open violation, predicted to enter: the warning schedule.
            predicted_now.add(icao)
            tte = float(a.time_to_entry_s[j])
            appr, state = self.schedule.predicted(zone, icao, t, tte)
            if state is not None:
                ev = self._base(zone, t, state, icao, party, cs, appr.id)
                ev.update(
                    time_to_entry_s=rounded(tte, 1), entry_t=rounded(t + tte, 3),
                    entry_lat=rounded(a.entry_lat_deg[j], 6), entry_lon=rounded(a.entry_lon_deg[j], 6),
                    entry_alt_ft=rounded(a.entry_alt_ft[j], 1), distance_nm=rounded(dist[j], 3),
                    heading_to_avoid_deg=None,
                )
                if state != "predicted":
                    ev["stage_lead_s"] = zone.stages[appr.severity].lead_s
                    appr.warnings.append({"state": state, "t": t, "time_to_entry_s": rounded(tte, 1)})
                events.append(ev)
                need_heading.append((j, ev))
        self.schedule.clear_stale(zone, t, predicted_now)
        # Violations of aircraft no longer seen end as lost.
        for key in [k for k in self._open if k[0] == zone.id and k[1] not in seen]:
            v = self._open[key]
            if t - v.last_seen_s >= self.lost_after_s:
                v.lost = True
                v.exit_t = v.last_seen_s
                del self._open[key]
                self._closed.append(v)
                ev = self._base(zone, t, "violation_end", v.icao24, v.party, None, v.id)
                ev.update(v.end_fields())
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
                ev["heading_to_avoid_deg"] = rounded(h, 1)
                ev["message"] = zone.message(
                    ev["state"], f"{ev.get('callsign') or ev['icao24']} ({ev['party']})",
                    ev["time_to_entry_s"], h,
                )
        return events

    def _end(self, zone: Zone, key: tuple[str, str], segments: Segments, j: int, k: int,
             now: tuple[float, float, float], cs: str | None, t: float) -> dict[str, Any]:
        """Close the open violation of `key`: exit interpolated on the last segment."""
        v = self._open.pop(key)
        v.exit_t, v.exit_lat, v.exit_lon = segments.exit(j, k, *now, t)
        self._closed.append(v)
        ev = self._base(zone, t, "violation_end", v.icao24, v.party, cs, v.id)
        ev.update(v.end_fields())
        return ev
