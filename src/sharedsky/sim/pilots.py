"""Crews flying resolution advisories in the simulator: late, and not always.

Each new or changed advisory is followed after the scenario's pilot delay (a changed one
replaces the one being flown only then), or (with the scenario's `noncompliance`
probability, drawn from the run's seed, once per encounter) not at all; "resume" hands the aircraft back to
its flight plan after the same delay. Turns, climbs and speed
changes are then flown by `Fleet.advance` within the type's bank, climb and acceleration
limits. A vertical advisory (a level and a vertical speed) is flown at that vertical speed
(at most the type's) to its level and held there until the advice ends, as a controller's
level change is flown and as the engine predicts it (never below FLOOR_FT); "level off" is
flown as the level it names. A turn or speed change given after it keeps that level.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sharedsky.alerting.advisories import (
    READVISED_S,
    SECOND_BECAUSE,
    AdvisoryTracker,
    second_because_key,
)
from sharedsky.engine.separation import Minima
from sharedsky.sim.dynamics import Fleet
from sharedsky.sim.metrics import MetricsCollector

#: A vertical advisory naming no level is flown at its vertical speed towards one this far away.
VERTICAL_RANGE_FT = 10000.0
#: ... but never below this altitude.
FLOOR_FT = 1000.0
#: Whose crews flew an advisory: all followed it (the owner's, and those of every aircraft
#: it named, as far as they were advised meanwhile); the owner's crew ignored it; or the
#: owner's crew followed but one of those it named ignored advice of its own meanwhile.
CREWS = ("all followed", "own crew ignoring", "an intruder's crew ignoring")


class Pilots:
    """Apply advisory events to a fleet, and count what was flown."""

    def __init__(self, fleet: Fleet, minima: Minima, delay_s: float, noncompliance: float,
                 seed: int) -> None:
        if not 0.0 <= noncompliance <= 1.0:
            raise ValueError(f"noncompliance must be in [0, 1], got {noncompliance}")
        if delay_s < 0:
            raise ValueError(f"pilot delay must not be negative, got {delay_s}")
        self.fleet = fleet
        self.minima = minima
        self.delay_s = float(delay_s)
        self.noncompliance = float(noncompliance)
        # Its own stream: switching resolution on or off never changes the traffic drawn.
        self.rng = np.random.default_rng([seed, 13])
        self.lookup: dict[str, int] | None = None
        self.followed = 0
        self.ignored = 0
        self.per_aircraft: dict[str, int] = {}  # advisories (new) per aircraft
        self.changes: dict[str, int] = {}  # changes of advice (updated) per aircraft
        self.ignoring: set[str] = set()
        #: Per aircraft advised: the intruders its encounter named so far; and, once its
        #: advice ends, when, those intruders, and whether its crew was ignoring it. Advice
        #: given again within READVISED_S for one of them is the same encounter (as the
        #: tracker counts it): its crew does as it did, without a new draw. Else advice
        #: ended and given again would draw compliance anew each time, and a scheme that
        #: flip-flops would be followed more often than one that holds its advice.
        self.named: dict[str, set[str]] = {}
        self.ended_at: dict[str, tuple[float, set[str], bool]] = {}
        self.ended_changes: list[int] = []  # changes of advice of each ended advisory
        #: ... of them, those neither for a new intruder nor a reversal (issue 13's rule).
        self.ended_not_free: list[int] = []
        #: ... and of those, the ones made again for intruders that had already made the
        #: advice change (per encounter, not per advisory).
        self.ended_again: list[int] = []
        #: ... and the most such changes in any one encounter of each (issue 13's rule).
        self.ended_encounter_not_free: list[int] = []
        #: Whose crews flew each ended advisory (`CREWS`), to tell the changes non-compliance
        #: forces from the engine's own: when each aircraft's advice began, and the spans
        #: (start, end; end inf while it lasts) each aircraft's crew spent ignoring advice.
        self.ended_crews: list[str] = []
        self.began: dict[str, float] = {}
        self.ignore_spans: dict[str, list[list[float]]] = {}

    def _index(self, icao: str) -> int | None:
        if self.lookup is None:
            self.lookup = {a: i for i, a in enumerate(self.fleet.icao24.tolist())}
        return self.lookup.get(icao)

    def fly(self, t_s: float, events: list[dict[str, Any]], lead_s: float) -> None:
        """Act on this instant's advisory events."""
        del lead_s  # the engine's assumption; the crews here have their own delay
        f = self.fleet
        for ev in events:
            if ev.get("kind") != "advisory":
                continue
            icao = str(ev.get("icao24"))
            i = self._index(icao)
            if i is None:
                continue
            state = ev.get("state")
            if state == "end":
                self.ended_changes.append(int(ev.get("changes", 0)))
                self.ended_not_free.append(int(ev.get("changes_not_free", 0)))
                self.ended_again.append(int(ev.get("changes_again", 0)))
                self.ended_encounter_not_free.append(int(ev.get("encounter_not_free", 0)))
                self.ended_crews.append(self.crews(icao, t_s))
                self.began.pop(icao, None)
                self.ended_at[icao] = (t_s, self.named.pop(icao, set()), icao in self.ignoring)
                if icao in self.ignoring:
                    self.ignore_spans[icao][-1][1] = t_s
                self.ignoring.discard(icao)
                f.end_advice(i, t_s + self.delay_s)
                continue
            named = set(ev.get("intruders") or ())
            if state == "new":
                self.per_aircraft[icao] = self.per_aircraft.get(icao, 0) + 1
                self.named[icao] = named
                self.began[icao] = t_s
            else:
                self.changes[icao] = self.changes.get(icao, 0) + 1
                self.named.setdefault(icao, set()).update(named)
            if state == "new":
                last = self.ended_at.pop(icao, None)
                if last is not None and t_s - last[0] <= READVISED_S and last[1] & named:
                    ignore = last[2]  # the same encounter: as its crew did
                else:
                    ignore = self.noncompliance > 0 and bool(self.rng.random() < self.noncompliance)
                if ignore:
                    self.ignoring.add(icao)
                    self.ignore_spans.setdefault(icao, []).append([t_s, np.inf])
                    self.ignored += 1
                    continue
            elif icao in self.ignoring:
                continue
            self.followed += 1
            kind = ev.get("manoeuvre")
            # The advice changes one dimension; the others stay as last instructed (a
            # level given by an earlier vertical advisory is kept through a turn), as
            # the engine assumes, not back to the plan.
            trk, alt, spd, rate = f.instructed(i, t_s)
            if kind == "track":
                f.advise([i], t_s, track_deg=float(ev["track_deg"]), alt_ft=alt, speed_kt=spd,
                         rate_fpm=rate, delay_s=self.delay_s, duration_s=86400.0)
            elif kind == "speed":
                f.advise([i], t_s, speed_kt=float(ev["gs_kt"]), track_deg=trk, alt_ft=alt,
                         rate_fpm=rate, delay_s=self.delay_s, duration_s=86400.0)
            elif kind == "vertical":
                vs = float(ev["vs_fpm"])
                alt_now = float(f.alt[i])
                if "alt_ft" in ev:  # the level advised
                    target = float(ev["alt_ft"])
                elif vs == 0.0:
                    target = round(alt_now, -2)
                else:  # advice without a level: towards one VERTICAL_RANGE_FT away
                    target = alt_now + np.sign(vs) * VERTICAL_RANGE_FT
                # Never below the floor, and never down to it from above.
                target = max(target, min(FLOOR_FT, alt_now))
                f.advise([i], t_s, alt_ft=target, track_deg=trk, speed_kt=spd,
                         rate_fpm=abs(vs) if vs != 0.0 else None, delay_s=self.delay_s, duration_s=86400.0)

    def crews(self, icao: str, until_s: float) -> str:
        """Whose crews flew the advisory `icao` holds, from its start to `until_s`
        (`CREWS`): its own crew ignoring it, else any aircraft it named ignoring advice
        of its own meanwhile, else every crew followed."""
        if icao in self.ignoring:
            return CREWS[1]
        since = self.began.get(icao, -np.inf)
        for other in self.named.get(icao, ()):
            if any(a <= until_s and b >= since for a, b in self.ignore_spans.get(other, ())):
                return CREWS[2]
        return CREWS[0]

    def by_crews(self, tracker: AdvisoryTracker) -> dict[str, dict[str, float]]:
        """The stability figures apart for each `CREWS` class: how many advisories, and the
        shares changed more than once, changed more than once for neither a new intruder
        nor a reversal, and changed again for the same intruders (advice still held: to the end)."""
        live = list(tracker.held.items())
        crews = np.array(self.ended_crews + [self.crews(k, np.inf) for k, _ in live])
        # Per column: whether each advisory (ended, then held) changed more than `above` times.
        over = {col: np.array(ended + [getattr(h, attr) for _, h in live], dtype=float) > above
                for col, ended, attr, above in (
                    ("changed_more_than_once", self.ended_changes, "changes", 1),
                    ("not_free_more_than_once", self.ended_not_free, "changes_not_free", 1),
                    ("not_free_more_than_once_in_an_encounter", self.ended_encounter_not_free,
                     "max_encounter_not_free", 1),
                    ("changed_again", self.ended_again, "changes_again", 0))}
        out: dict[str, dict[str, float]] = {}
        for name in CREWS:
            sel = crews == name
            n = int(sel.sum())
            out[name] = {"advisories": n, **{col: round(float(v[sel].mean()), 4) if n else 0.0
                                             for col, v in over.items()}}
        return out

    def summary(self, tracker: AdvisoryTracker, metrics: MetricsCollector) -> dict[str, Any]:
        """What resolution did in this run (part of the metrics)."""
        sev = metrics.severity
        changes = np.array([self.changes.get(a, 0) for a in self.per_aircraft], dtype=float)
        # Per encounter (one advisory, from new to end; those still held at the end too).
        per_adv = np.array(self.ended_changes + [h.changes for h in tracker.held.values()], dtype=float)
        # ... counting only the changes neither for a new intruder nor for a reversal.
        own = np.array(self.ended_not_free + [h.changes_not_free for h in tracker.held.values()],
                       dtype=float)
        again = np.array(self.ended_again + [h.changes_again for h in tracker.held.values()], dtype=float)
        # ... and in one encounter (an advisory held from one encounter into the next).
        enc = np.array(self.ended_encounter_not_free + [h.max_encounter_not_free for h in tracker.held.values()],
                       dtype=float)
        c = tracker.counts
        return {
            "advisories": tracker.counts.get("advisories", 0),
            "advisory_changes": tracker.counts.get("advisory_changes", 0),
            "aircraft_advised": len(self.per_aircraft),
            "advisories_per_advised_aircraft": (round(float(np.mean(list(self.per_aircraft.values()))), 3)
                                                if self.per_aircraft else 0.0),
            "changes_per_advised_aircraft": round(float(changes.mean()), 3) if changes.size else 0.0,
            "max_changes_per_aircraft": int(changes.max()) if changes.size else 0,
            "changes_per_advisory": round(float(per_adv.mean()), 3) if per_adv.size else 0.0,
            "advisories_changed_more_than_once": (round(float(np.mean(per_adv > 1)), 4)
                                                  if per_adv.size else 0.0),
            "max_changes_per_advisory": int(per_adv.max()) if per_adv.size else 0,
            "not_free_changes_per_advisory": round(float(own.mean()), 3) if own.size else 0.0,
            "advisories_changed_not_free_more_than_once": (round(float(np.mean(own > 1)), 4)
                                                           if own.size else 0.0),
            "max_not_free_changes_per_advisory": int(own.max()) if own.size else 0,
            "advisories_changed_not_free_more_than_once_in_an_encounter": (
                round(float(np.mean(enc > 1)), 4) if enc.size else 0.0),
            "encounters_after_the_first": c.get("encounters_after_the_first", 0),
            "changes_again_per_advisory": round(float(again.mean()), 3) if again.size else 0.0,
            "advisories_changed_again": round(float(np.mean(again > 0)), 4) if again.size else 0.0,
            "stability_by_crews": self.by_crews(tracker),
            "best_effort_held": c.get("best_effort_held", 0),
            "advisories_held_again": c.get("advisories_held_again", 0),
            "again_held_steps": c.get("again_held_steps", 0),
            "changes_by_cause": {k: c.get("changes_" + k, 0)
                                 for k in ("new_intruder", "reversal", "not_free")},
            "changes_by_kind": {k: c.get("changes_" + k, 0) for k in ("same", "dimension", "sense")},
            "changes_not_free_best_effort": c.get("changes_not_free_best_effort", 0),
            "second_because": {w: c.get(second_because_key(w), 0) for w in SECOND_BECAUSE},
            "changes_making_room": c.get("changes_making_room", 0),
            "readvised": c.get("readvised", 0),
            "best_effort_not_ended": c.get("best_effort_not_ended", 0),
            "ended_not_free": c.get("ended_not_free", 0),
            "readvised_not_free": c.get("readvised_not_free", 0),
            "readvised_not_free_new_intruder": c.get("readvised_not_free_new_intruder", 0),
            "resumed": tracker.counts.get("resumed", 0),
            "best_effort": tracker.counts.get("best_effort", 0),
            "followed": self.followed,
            "not_followed": self.ignored,
            "pilot_delay_s": self.delay_s,
            "noncompliance": self.noncompliance,
            "intrusion_severity_mean": round(float(np.mean(sev)), 4) if sev else 0.0,
            "intrusion_severity_max": round(float(np.max(sev)), 4) if sev else 0.0,
        }
