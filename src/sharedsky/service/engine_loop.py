"""The engine loop: every second (and soon after new reports), assess the live picture.

One step: a snapshot of the track table, the one assessment step
(`sharedsky.alerting.step.Assessment`: separation, conflict lifecycle, airspace watch,
distress), then the line's own duties: overdue requests and unacknowledged alerts. The
resulting events are addressed to the parties they concern, recorded in one
transaction, then published. The step runs on its own thread so the service keeps
answering while it computes.

What the assessment carries from step to step (open conflicts, held advisories, airspace
approaches, well-clear hysteresis) is written beside the record in the transaction of the
step's events (`Record.working_state`), and a restarted service resumes from it: it goes on
with the advisories and alerts it had given, under their ids, instead of giving them again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

import sharedsky
from sharedsky.agreement.disclosure import visible_mask
from sharedsky.alerting.carry import (
    FORMAT,
    StateError,
    context_of,
    dumps,
    loads,
    same_state,
    sealer,
)
from sharedsky.alerting.step import Assessment
from sharedsky.engine.heap import keep_freed_memory
from sharedsky.engine.parallel import worker_cpu_s
from sharedsky.engine.separation import Conflicts
from sharedsky.ingest.snapshot import Snapshot
from sharedsky.service.distress_cap import DistressCap
from sharedsky.service.hotline import ALL, iso
from sharedsky.service.store import Hub

log = logging.getLogger("sharedsky.service")

Item = tuple[str, str, dict[str, Any], str | None]  # (kind, party, payload, party_sig)

#: The record's working state that holds the engine step's carried state.
STATE_NAME = "engine"
#: A step that opens or ends no episode writes the carried state at most this often, and
#: only if it changed (a step that opens or ends one always writes it, in the same
#: transaction as its events).
STATE_EVERY_S = 2.0


#: A resumed state whose first steps fail is given up for a fresh one (after this many, a
#: failing step is the step's own fault, as before).
TRIAL_STEPS = 3


def state_fingerprint(agreement: Any, assessment: Assessment) -> str:
    """SHA-256 of what a carried state is only valid under: the agreement as validated, the
    files it names as loaded (airspace outlines, DAIDALUS configurations), this version's
    state format, and what each stage carries. A state carried under another is not resumed."""
    h = hashlib.sha256()
    for part in (sharedsky.__version__, FORMAT, agreement.document.model_dump_json(),
                 repr(getattr(agreement, "wellclear", None)),
                 repr(sorted((k, s.CARRIED) for k, s in assessment.stages().items()))):
        h.update(part.encode("utf-8") + b"\0")
    for a in agreement.airspaces:
        h.update(shapely.to_wkb(a.geometry))
    return h.hexdigest()


def _nulls(x: np.ndarray) -> list[float | None]:
    """Values for JSON: NaN (unknown) becomes null."""
    return [None if v != v else v for v in x.tolist()]


class Picture:
    """The air picture of one engine step; per-party views are built lazily and cached."""

    def __init__(self, hub: Hub, snap: Snapshot, conflicts: Conflicts, seq: int = 0) -> None:
        self.hub = hub
        self.snap = snap
        self.conflicts = conflicts
        self.t = snap.t_s
        #: The last record entry of reports the snapshot holds (`Hub.table_seq` when it was taken).
        self.seq = seq
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
            em = s.emergency if s.emergency is not None else np.full(n, "", dtype=object)
            keys = ("icao24", "party", "callsign", "latitude", "longitude", "altitude", "groundspeed",
                    "track", "vertical_rate", "squawk", "emergency", "t_report")
            self._rows = [
                dict(zip(keys, row, strict=True))
                for row in zip(
                    s.id.tolist(), parties.tolist(), np.asarray(cs).tolist(), np.round(s.lat_deg, 5).tolist(),
                    np.round(s.lon_deg, 5).tolist(), _nulls(np.round(s.alt_ft)), np.round(s.gs_kt, 1).tolist(),
                    np.round(s.track_deg, 1).tolist(), np.round(s.vs_fpm).tolist(), np.asarray(sq).tolist(),
                    np.asarray(em).tolist(), np.round(s.last_report_s, 3).tolist(), strict=True)
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
        return visible_mask(ag, idx, self.snap, self.conflicts)


class EngineLoop:
    """Runs `step` every `interval_s`, and soon after reports arrive: `min_interval_s` after
    the last step began, or twice its CPU time if longer."""

    def __init__(self, hub: Hub, interval_s: float = 1.0, min_interval_s: float = 0.25,
                 coast_s: float = 60.0) -> None:
        self.hub = hub
        self.interval_s = interval_s
        self.min_interval_s = min_interval_s
        self.coast_s = coast_s
        self.distress_cap = self._fresh_cap()
        self.assessment = self._fresh()
        self._fingerprint = state_fingerprint(hub.agreement, self.assessment)
        self._key = hub.record.state_key()
        self._carried = b""  # the carried state last written
        self._carried_t = float("-inf")
        #: When the step resumed from had run (UTC epoch s), if it resumed from one.
        self.resumed_from: float | None = None
        self._trial = 0  # steps left in which a failure gives the resumed state up
        self._resume()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_step = 0.0
        self._last_cpu_s = 0.0
        self._last_expire = 0.0
        self.errors = 0
        hub.on_reports = self.kick

    def _fresh(self) -> Assessment:
        """A new assessment whose ids continue past the record's (unique across restarts)."""
        a = Assessment.for_agreement(self.hub.agreement, distress_active=self.hub.distress_active,
                                     notice_book=self.hub.notice_book)
        a.continue_ids(self.hub.last_seq)
        return a

    def _fresh_cap(self) -> DistressCap:
        return DistressCap(int(self.hub.agreement.line.auto_distress_per_min),
                           list(self.hub.agreement.channels.distress_mhz))

    def _resume(self) -> None:
        """Go on from the carried state of the last step written, if any, under this agreement
        and this version; anything else starts afresh, as without a state."""
        saved = self.hub.record.working_state(STATE_NAME)
        if saved is None:
            return
        seq, t, body = saved
        try:
            if seq > self.hub.record.size:
                raise StateError(f"it goes with record entry {seq}, but the record has {self.hub.record.size}")
            state = loads(body, self._key, context_of(STATE_NAME, t, seq))
            if not isinstance(state, dict) or state.get("agreement") != self._fingerprint:
                log.warning("engine state of %s not resumed: it was carried under another agreement "
                            "or another version", iso(t))
                return
            self.assessment.resume(state["assessment"])
            self.distress_cap.resume(state["distress_cap"])
        except Exception as exc:  # whatever the bytes hold, the service starts
            log.warning("engine state of %s not resumed: %s", iso(t), exc)
            self.assessment, self.distress_cap = self._fresh(), self._fresh_cap()  # nothing half resumed
            return
        self.assessment.continue_ids(self.hub.last_seq)
        self._carried = body
        self._trial = TRIAL_STEPS
        self.resumed_from = self.hub.counters.engine_resumed_from = t
        log.info("engine resumed from its step of %s (record entry %d)", iso(t), seq)

    def _assess(self, snap: Snapshot) -> tuple[Any, list[dict[str, Any]]]:
        """The assessment step, and the events of an outage before it: when the resumed state
        is older than a report stays fresh, it first sees the empty sky it would have seen had
        the service run on (open episodes end, under their ids), then the picture.
        A resumed state that fails in its first steps is given up for a fresh one."""
        try:
            before: list[dict[str, Any]] = []
            if self._trial == TRIAL_STEPS and self.resumed_from is not None \
                    and snap.t_s - self.resumed_from > self.hub.max_age_s:
                before = self.assessment.step(snap.take(np.zeros(0, dtype=np.intp))).events
            result = self.assessment.step(snap)
        except Exception:
            if self._trial == 0:
                raise
            log.exception("the engine state resumed from %s fails: starting afresh", iso(self.resumed_from or 0.0))
            self.assessment, self.distress_cap = self._fresh(), self._fresh_cap()
            self._trial, self._carried = 0, b""
            self.resumed_from = self.hub.counters.engine_resumed_from = None
            before, result = [], self.assessment.step(snap)
        self._trial = max(0, self._trial - 1)
        return result, before + result.events

    def _carry(self, now: float, said: bool) -> tuple[bytes, tuple[str, Callable[[int], bytes]]] | None:
        """The carried state to write with this step: always when an episode opened or ended
        (`said`), else when it changed and `STATE_EVERY_S` has passed (a step that only
        updated may be lost: the next one goes on from the one before, as after a late step,
        and may say its update again)."""
        if not said and now - self._carried_t < STATE_EVERY_S:
            return None
        body = dumps({"agreement": self._fingerprint, "assessment": self.assessment.carry(),
                      "distress_cap": self.distress_cap.carry()}, self._key, None)
        if same_state(body, self._carried):  # unchanged: not written, and not encoded again for a while
            self._carried_t = now
            return None
        # Its MAC is finished in the transaction that writes it, for the record entry it goes with.
        seal = sealer(body, self._key)
        return body, (STATE_NAME, lambda seq: seal(context_of(STATE_NAME, now, seq)))

    def kick(self) -> None:
        self._kick.set()

    def start(self) -> None:
        keep_freed_memory()  # each step's arrays reused by the next (engine/heap.py)
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
            # Steps soon after new reports, but never more than half the time computing:
            # the rest is twice the CPU time of the last step (its own and the engine's
            # worker threads'), not its wall time, which under one party's flood is mostly
            # waiting for the interpreter lock (50 ms computed in 250-700 ms).
            since = time.monotonic() - self._last_step
            gap = max(self.min_interval_s, 2.0 * self._last_cpu_s)
            if since < gap:
                self._stop.wait(gap - since)
            self._kick.clear()
            self._last_step = time.monotonic()
            cpu0 = time.thread_time() + worker_cpu_s()
            self.hub.engine_idle.clear()
            try:
                self.step(self.hub.clock())
            except Exception:  # never let one bad step stop the service
                self.errors += 1
                log.exception("engine step failed")
            finally:
                self.hub.engine_idle.set()
            self._last_cpu_s = time.thread_time() + worker_cpu_s() - cpu0

    def step(self, now: float) -> list[Any]:
        """One assessment at `now` (UTC epoch s); returns the recorded entries."""
        hub = self.hub
        t0 = time.perf_counter()
        with hub.lock:
            if now - self._last_expire > 10.0:
                hub.expire(now, self.coast_s)
                self._last_expire = now
            snap = hub.table.snapshot(now, hub.max_age_s)
            seq = hub.table_seq
        result, events = self._assess(snap)
        items = [self._item(ev) for ev in self.distress_cap.filter(events, now)]
        # Encoded outside the hub's lock; written whenever an episode opens or ends.
        state = self._carry(now, any(ev.get("state") != "updated" for ev in events))
        with hub.lock:
            overdue, late = hub.hotline.due(now)
            for req in overdue:
                items.append(("overdue", "", {"to": [req.sender, req.to], "event": {
                    "request_seq": req.seq, "from": req.sender, "to": req.to,
                    "deadline": iso(req.deadline_s), "t": now}}, None))
            for seq, party in late:
                se = hub.event(seq)
                if se is None:
                    continue
                to = [ALL] if se.audience is None else sorted(se.audience)
                items.append(("unacknowledged", "", {"to": to, "event": {
                    "of_seq": seq, "of_kind": se.event["kind"], "party": party,
                    "ack_within_s": hub.hotline.ack_within_s, "t": now}}, None))
            entries = hub.append_events(items, now, state=state[1] if state else None) if items or state else []
            if state is not None:
                self._carried, self._carried_t = state[0], now
            hub.picture = Picture(hub, snap, result.conflicts, seq)
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
        if kind == "notice_volume":
            return sorted({ev.get("party", ""), ev.get("owner", "")} - {""}) or [ALL]
        if kind in ("advisory", "wellclear"):  # one party's aircraft's advice or guidance: that party only
            return [ev["party"]] if ev.get("party") else [ALL]
        if kind == "airspace":
            to = {ev.get("party", "")}
            try:
                to.add(self.hub.agreement.airspace(ev["airspace"]).owner)
            except (KeyError, AttributeError):
                pass
            return sorted(to - {""}) or [ALL]
        return [ALL]

    def _item(self, ev: dict[str, Any]) -> Item:
        """A step's event as a record item addressed to the parties it concerns."""
        if ev["kind"] == "distress" and ev.get("state") == "end":
            return ("distress_clear", "", {"icao24": ev["icao24"]}, None)
        to = sorted(set(self._audience(ev)) | set(ev.get("to") or []))
        body = {k: v for k, v in ev.items() if k != "to"}
        return (ev["kind"], "", {"to": [ALL] if ALL in to else to, "event": body}, None)
