"""The tactical check of notified volumes: an aircraft predicted to enter another party's
active notified volume is warned on schedule, and its violation measured.

This is the airspace watch (`alerting.airspace_watch.AirspaceWatch`) over zones that
come and go: at each step, every volume of the notice book that is active at the
snapshot's time (start <= t < end) is a zone, owned by its party, barred to every other
party's aircraft but the agreement's `[notices] exempt`, with the `[notices] horizon_s`
and `[notices.schedule]` stages. Prediction, the schedule (stages once per approach,
hysteresis, re-issue hold-back), entry and exit interpolated on the segment flown, depth
and duration are the watch's own, not a copy. What differs:

* no warning before a volume starts (it is not a zone until then), and none for an
  entry predicted after it ends (the zone's horizon is cut at its end);
* events are of kind `notice_volume` (states predicted | advisory | warning |
  violation | violation_end), name the operation, its version, the volume and its
  purpose, and go to the aircraft's party and the volume's owner;
* when a volume ends, is replaced by a new version or withdrawn, the violations inside
  it end (`reason: volume_ended`) and its approaches close.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import shapely

from sharedsky.alerting.airspace_schedule import Stage, Zone
from sharedsky.alerting.airspace_violations import rounded
from sharedsky.alerting.airspace_watch import AirspaceWatch
from sharedsky.alerting.notice_book import NoticeBook, Volume
from sharedsky.engine.airspace import prepare
from sharedsky.engine.geo import ecef_nm
from sharedsky.ingest.snapshot import Snapshot

KIND = "notice_volume"
#: Slack added to an aircraft's reach (NM): chord vs arc, and a last step of flight.
REACH_MARGIN_NM = 5.0


class NoticeWatch(AirspaceWatch):
    """The airspace watch over the notice book's active volumes."""

    def __init__(self, agreement: Any, book: NoticeBook, **kw: Any) -> None:
        super().__init__(agreement, **kw)
        self.book = book
        cfg = agreement.notices
        self.exempt = frozenset(str(p) for p in cfg.exempt)
        sched = cfg.schedule
        self.stages = tuple(sorted((Stage(str(s.name), float(s.lead_s)) for s in sched.stages),
                                   key=lambda s: -s.lead_s))
        self.horizon_s = max([float(cfg.horizon_s)] + [s.lead_s for s in self.stages])
        self.repeat_inside_s = float(sched.repeat_inside_s)
        self.reissue_after_s = float(sched.reissue_after_s)
        self.zones = []
        self._cache: dict[tuple[str, int], tuple[Zone, Volume]] = {}
        self._volume_of: dict[str, Volume] = {}
        self._zone_of: dict[str, Zone] = {}
        self._reach_nm: dict[str, float] = {}

    def _zone(self, v: Volume) -> Zone:
        key = (v.id, v.version)
        hit = self._cache.get(key)
        if hit is None:
            barred = tuple(p for p in self.party_ids if p != v.party and p not in self.exempt)
            zone = Zone(
                id=v.id, name=f"{v.party}'s notified {v.purpose or 'operation'} volume {v.id} v{v.version}",
                owner=v.party, barred=barred, horizon_s=self.horizon_s, stages=self.stages,
                repeat_inside_s=self.repeat_inside_s,
                prep=prepare(v.spec.geometry, v.spec.floor_ft, v.spec.ceiling_ft),
                reissue_after_s=self.reissue_after_s)
            hit = self._cache[key] = (zone, v)
            self._reach_nm.pop(v.id, None)
        return hit[0]

    def _within_reach(self, zone: Zone, snap: Snapshot) -> np.ndarray | bool:
        """Aircraft that can be inside the volume or reach it within the horizon: closer to
        its centre than its radius plus the distance flown (chord distances, vectorised);
        the rest cannot be warned, so the watch's geometry skips them."""
        r_nm = self._reach_nm.get(zone.id)
        if r_nm is None:
            p = zone.prep
            xy = shapely.get_coordinates(p.geometry)
            c = np.array(ecef_nm(np.array(p.centre_lat_deg), np.array(p.centre_lon_deg)))
            v = np.array(ecef_nm(xy[:, 1], xy[:, 0]))
            r_nm = self._reach_nm[zone.id] = float(np.linalg.norm(v - c[:, None], axis=0).max())
        c = np.array(ecef_nm(np.array(zone.prep.centre_lat_deg), np.array(zone.prep.centre_lon_deg)))
        a = np.array(ecef_nm(snap.lat_deg, snap.lon_deg))
        d = np.linalg.norm(a - c[:, None], axis=0)
        gs = np.nan_to_num(snap.gs_kt, nan=0.0)
        return ~(d > r_nm + gs * zone.horizon_s / 3600.0 + REACH_MARGIN_NM)

    #: The active volumes of the last step too (a violation's volume may end before the next).
    CARRIED: ClassVar[tuple[str, ...]] = (*AirspaceWatch.CARRIED, "_volume_of")

    def resume(self, state: dict[str, Any]) -> None:
        """Go on from another watch's `carry`: the zones of the volumes it held, rebuilt."""
        super().resume(state)
        self.zones = [self._zone(v) for v in self._volume_of.values()]
        self._zone_of = {z.id: z for z in self.zones}

    @property
    def idle(self) -> bool:
        """No violation, no approach, and no volume active."""
        return super().idle and not self.zones

    def step(self, snap: Snapshot) -> list[dict[str, Any]]:
        """Refresh the active volumes at the snapshot's time, then the airspace watch's step."""
        t = float(snap.t_s)
        active = self.book.active(t)
        zones = [self._zone(v) for v in active]
        for z, v in zip(zones, active, strict=True):
            # No entry predicted after the volume ends: the horizon stops there.
            z.horizon_s = float(min(self.horizon_s, v.spec.end_s - t))
        events = self._end_gone({z.id for z in zones}, t)
        self.zones = zones
        self._volume_of = {z.id: v for z, v in zip(zones, active, strict=True)}
        self._zone_of.update({z.id: z for z in zones})
        if len(self._cache) > 4 * len(zones) + 256:  # forget replaced and ended volumes
            live = {(v.id, v.version) for v in active}
            self._cache = {k: c for k, c in self._cache.items() if k in live}
        events.extend(super().step(snap))
        return events

    def _end_gone(self, now_ids: set[str], t: float) -> list[dict[str, Any]]:
        """Violations in volumes no longer active end; their approaches close."""
        events: list[dict[str, Any]] = []
        for key in [k for k in self._open if k[0] not in now_ids]:
            v = self._open.pop(key)
            gone = self._volume_of.get(key[0])
            v.exit_t = min(t, gone.spec.end_s) if gone is not None else t
            self._closed.append(v)
            zone = self._zone_of[key[0]]
            ev = self._base(zone, t, "violation_end", v.icao24, v.party, None, v.id)
            ev.update(v.end_fields(), reason="volume_ended")
            events.append(ev)
            self.counts["violation_end"] = self.counts.get("violation_end", 0) + 1
        for key in [k for k in self.schedule.approaches if k[0] not in now_ids]:
            del self.schedule.approaches[key]
        self._forget_gone(now_ids)
        return events

    def _forget_gone(self, now_ids: set[str]) -> None:
        """Forget what the watch keeps per volume (its warning times, when it last forgot
        them, its zone and reach) once the volume is no longer active, its violations ended
        above: an ended or withdrawn volume never warns again, and a long-running service
        (which carries this over restarts) would otherwise keep every volume ever notified."""
        sched = self.schedule
        gone = (set(self._zone_of) | set(sched.forgotten_s) | set(self._reach_nm)) - now_ids
        if not gone:
            return
        for vid in gone:
            self._zone_of.pop(vid, None)
            self._reach_nm.pop(vid, None)
            sched.forgotten_s.pop(vid, None)
        for key in [k for k in sched.last_issue if k[0] in gone]:
            del sched.last_issue[key]

    def _base(self, zone: Zone, t: float, state: str, icao: str, party: str,
              callsign: str | None, eid: str) -> dict[str, Any]:
        ev = super()._base(zone, t, state, icao, party, callsign, eid)
        ev["kind"] = KIND
        vol = self._volume_of.get(zone.id)
        for k in ("airspace", "airspace_name"):
            ev.pop(k, None)
        ev["volume"] = zone.id
        ev["volume_name"] = zone.name
        if vol is not None:
            ev.update(operation=vol.operation, version=vol.version, purpose=vol.purpose,
                      start=vol.spec.start_s, end=vol.spec.end_s)
        ev["to"] = sorted({party, zone.owner})
        return ev

    def summary(self) -> dict[str, Any]:
        """Counts of events by state and violations (the airspace watch's, over volumes)."""
        allv = self._closed + list(self._open.values())
        return {"steps": self.steps, "events": dict(sorted(self.counts.items())), "violations": len(allv),
                "open_violations": len(self._open), "approaches_open": len(self.schedule.approaches),
                "max_depth_nm": rounded(max((v.max_depth_nm for v in allv), default=0.0), 4),
                "volumes_active": len(self.zones)}
