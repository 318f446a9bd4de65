"""The engine loop: every second (and soon after new reports), assess the live picture.

One step: a snapshot of the track table, separation (`engine.separation.detect`), the
conflict lifecycle (`alerts.ConflictTracker`), the airspace watch when the agreement
has airspaces, distress squawks (7500/7600/7700) and ADS-B emergency status (one event
per aircraft episode), overdue requests and unacknowledged alerts. The resulting events
are recorded in one transaction, then published. The step runs on its own thread so the
service keeps answering while it computes.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.alerts import ConflictTracker
from sharedsky.engine.separation import Conflicts, detect
from sharedsky.service.hotline import ALL, iso
from sharedsky.service.store import Hub
from sharedsky.snapshot import Snapshot

log = logging.getLogger("sharedsky.service")

DISTRESS_SQUAWKS = {"7500": "unlawful interference (squawk 7500)",
                    "7600": "radio failure (squawk 7600)",
                    "7700": "general emergency (squawk 7700)"}
NO_EMERGENCY = {"", "none", "no emergency", "0", "false"}

try:  # the airspace engineer's watch; the service runs without it
    from sharedsky.airspace_watch import AirspaceWatch
except ImportError:  # pragma: no cover - present once the airspace part lands
    AirspaceWatch = None  # type: ignore[assignment,misc]

try:
    from sharedsky.agreement.disclosure import visible_mask
except ImportError:  # pragma: no cover
    visible_mask = None  # type: ignore[assignment]


class Picture:
    """The air picture of one engine step; per-party views are built lazily and cached."""

    def __init__(self, hub: Hub, snap: Snapshot, conflicts: Conflicts, emergency: np.ndarray) -> None:
        self.hub = hub
        self.snap = snap
        self.conflicts = conflicts
        self.t = snap.t_s
        self.emergency = emergency
        self._rows: list[dict[str, Any]] | None = None
        self._views: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _all_rows(self) -> list[dict[str, Any]]:
        if self._rows is None:
            s = self.snap
            parties = np.asarray(s.parties, dtype=object)[s.party] if len(s) else np.zeros(0, object)
            n = len(s)
            cs = s.callsign if s.callsign is not None else np.full(n, "", dtype=object)
            sq = s.squawk if s.squawk is not None else np.full(n, "", dtype=object)
            keys = ("icao24", "party", "callsign", "latitude", "longitude", "altitude", "groundspeed",
                    "track", "vertical_rate", "squawk", "emergency", "t_report")
            self._rows = [
                dict(zip(keys, row, strict=True))
                for row in zip(
                    s.id.tolist(), parties.tolist(), np.asarray(cs).tolist(), np.round(s.lat_deg, 5).tolist(),
                    np.round(s.lon_deg, 5).tolist(), np.round(s.alt_ft).tolist(), np.round(s.gs_kt, 1).tolist(),
                    np.round(s.track_deg, 1).tolist(), np.round(s.vs_fpm).tolist(), np.asarray(sq).tolist(),
                    np.asarray(self.emergency).tolist(), np.round(s.last_report_s, 3).tolist(), strict=True)
            ]
        return self._rows

    def aircraft_for(self, who: Any) -> list[dict[str, Any]]:
        """The aircraft this key may see: all for a supervisor, else the disclosure rule."""
        key = "*" if who.supervisor else who.party
        with self._lock:
            view = self._views.get(key)
            if view is None:
                rows = self._all_rows()
                if key == "*":
                    view = rows
                else:
                    mask = self.visible(who.party)
                    view = [rows[i] for i in np.flatnonzero(mask)]
                self._views[key] = view
        return view

    def visible(self, party: str) -> np.ndarray:
        ag = self.hub.agreement
        idx = self.hub.parties.index(party)
        if len(self.snap) == 0:
            return np.zeros(0, dtype=bool)
        if visible_mask is not None:
            return visible_mask(ag, idx, self.snap, self.conflicts)
        return self.snap.party == idx  # pragma: no cover - own aircraft only


class EngineLoop:
    """Runs `step` every `interval_s`, and `min_interval_s` after reports arrive."""

    def __init__(self, hub: Hub, interval_s: float = 1.0, min_interval_s: float = 0.25,
                 coast_s: float = 60.0) -> None:
        self.hub = hub
        self.interval_s = interval_s
        self.min_interval_s = min_interval_s
        self.coast_s = coast_s
        self.levels = hub.agreement.minima_levels()
        self.tracker = ConflictTracker.for_agreement(hub.agreement)
        # Alert ids ("conflict-a-b-N") stay unique across restarts: N continues past any
        # number used before, as each earlier alert took at least one record entry.
        if hasattr(self.tracker, "_serial"):
            self.tracker._serial = hub.last_seq
        self.watch = None
        if AirspaceWatch is not None and getattr(hub.agreement, "airspaces", None):
            self.watch = AirspaceWatch(hub.agreement)
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_step = 0.0
        self._last_duration = 0.0
        self._last_expire = 0.0
        self.errors = 0
        hub.on_reports = self.kick

    def kick(self) -> None:
        self._kick.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sharedsky-engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.interval_s - (time.monotonic() - self._last_step)
            if wait > 0:
                self._kick.wait(wait)
            if self._stop.is_set():
                break
            # Steps soon after new reports, but never more than half the time computing.
            since = time.monotonic() - self._last_step
            gap = max(self.min_interval_s, 2.0 * self._last_duration)
            if since < gap:
                self._stop.wait(gap - since)
            self._kick.clear()
            self._last_step = time.monotonic()
            try:
                self.step(self.hub.clock())
                self._last_duration = time.monotonic() - self._last_step
            except Exception:  # never let one bad step stop the service
                self.errors += 1
                log.exception("engine step failed")

    def step(self, now: float) -> list[Any]:
        """One assessment at `now` (UTC epoch s); returns the recorded entries."""
        hub = self.hub
        t0 = time.perf_counter()
        with hub.lock:
            if now - self._last_expire > 10.0:
                hub.table.expire(now, self.coast_s)
                self._last_expire = now
            snap = hub.table.snapshot(now, hub.max_age_s)
            ids = hub.table.ids
            em_col = hub.table.column("emergency").copy()
            sq_col = hub.table.column("squawk").copy()
        # Emergency status of the snapshot's aircraft (the snapshot does not carry it).
        pos = pd.Index(ids).get_indexer(snap.id) if len(snap) else np.zeros(0, dtype=np.intp)
        emergency = em_col[pos] if len(snap) else np.zeros(0, dtype=object)
        squawk = sq_col[pos] if len(snap) else np.zeros(0, dtype=object)
        conflicts = detect(snap, self.levels) if len(snap) > 1 else Conflicts.empty()
        events = self.tracker.step(snap, conflicts, self.levels)
        if self.watch is not None:
            events.extend(self.watch.step(snap))
        items: list[tuple[str, str, dict[str, Any], str | None]] = []
        for ev in events:
            to = sorted(set(self._audience(ev)) | set(ev.get("to") or []))
            body = {k: v for k, v in ev.items() if k != "to"}
            items.append((ev["kind"], "", {"to": [ALL] if ALL in to else to, "event": body}, None))
        items.extend(self._distress(snap, squawk, emergency, now))
        with hub.lock:
            overdue, late = hub.hotline.due(now)
            for req in overdue:
                items.append(("overdue", "", {"to": [req.sender, req.to], "event": {
                    "request_seq": req.seq, "from": req.sender, "to": req.to,
                    "deadline": iso(req.deadline_s), "t": now}}, None))
            for seq, party in late:
                se = hub._by_seq.get(seq)
                if se is None:
                    continue
                to = [ALL] if se.audience is None else sorted(se.audience)
                items.append(("unacknowledged", "", {"to": to, "event": {
                    "of_seq": seq, "of_kind": se.event["kind"], "party": party,
                    "ack_within_s": hub.hotline.ack_within_s, "t": now}}, None))
            entries = hub.append_events(items, now) if items else []
            hub.picture = Picture(hub, snap, conflicts, emergency)
            hub.picture_version += 1
        hub.counters.engine_steps += 1
        ms = hub.counters.engine_step_ms
        ms.append((time.perf_counter() - t0) * 1000.0)
        del ms[:-120]
        hub.notify()
        return entries

    def _audience(self, ev: dict[str, Any]) -> list[str]:
        kind = ev.get("kind")
        if kind in ("conflict", "loss_of_separation"):
            return sorted({ev.get("party_a", ""), ev.get("party_b", "")} - {""}) or [ALL]
        if kind == "airspace":
            to = {ev.get("party", "")}
            try:
                to.add(self.hub.agreement.airspace(ev["airspace"]).owner)
            except (KeyError, AttributeError):
                pass
            return sorted(to - {""}) or [ALL]
        return [ALL]

    def _distress(self, snap: Snapshot, squawk: np.ndarray, emergency: np.ndarray,
                  now: float) -> list[tuple[str, str, dict[str, Any], str | None]]:
        """Auto distress: one event when an episode starts, a state entry when it ends."""
        hub = self.hub
        n = len(snap)
        if n:
            sq = np.asarray(squawk, dtype=str)
            em = np.char.lower(np.char.strip(np.asarray(emergency, dtype=str)))
            flagged = np.isin(sq, list(DISTRESS_SQUAWKS)) | ~np.isin(em, list(NO_EMERGENCY))
            idx = np.flatnonzero(flagged)
        else:
            idx = np.zeros(0, dtype=np.intp)
        now_ids = {str(snap.id[i]): int(i) for i in idx}
        items: list[tuple[str, str, dict[str, Any], str | None]] = []
        freqs = list(hub.agreement.channels.distress_mhz)
        for icao, i in now_ids.items():
            if icao in hub.distress_active:
                continue
            q = str(squawk[i])
            nature = DISTRESS_SQUAWKS.get(q) or f"ADS-B emergency status: {emergency[i]}"
            body = {"icao24": icao, "latitude": round(float(snap.lat_deg[i]), 5),
                    "longitude": round(float(snap.lon_deg[i]), 5), "altitude": round(float(snap.alt_ft[i]), 0),
                    "nature": nature, "from": "", "auto": True, "squawk": q,
                    "party": snap.parties[int(snap.party[i])], "frequencies_mhz": freqs, "t": now}
            if snap.callsign is not None:
                body["callsign"] = str(snap.callsign[i])
            items.append(("distress", "", {"to": [ALL], "event": body}, None))
        # An episode ends when the aircraft is seen without the condition, or is gone.
        for icao in sorted(hub.distress_active - set(now_ids)):
            items.append(("distress_clear", "", {"icao24": icao}, None))
        return items
