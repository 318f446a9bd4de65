"""The one assessment step: a snapshot in, the events of that instant out.

Replay, the service and the simulator all call `Assessment.step`; none of them
re-implements any part of it. Each stage of judgement is added here once:

1. separation: `engine.separation.detect` over every pair the agreement's minima cover;
2. suppression (`engine.suppression.SuppressionRules.judge`), when the agreement
   declares `[suppression]` volumes or the aerodrome rule: which conflicts (predicted
   loss beginning inside a volume) and losses of separation (both aircraft inside now) are
   suppressed, from the snapshot's mask of aircraft in each volume; judged only on
   steps with conflicts;
3. the conflict lifecycle (`alerting.conflicts.ConflictTracker`): predicted conflicts
   new / updated / ended, and losses of separation start / end; suppressed ones go
   through the same lifecycle, marked `suppressed` and counted apart;
4. the sovereign airspace watch (`alerting.airspace_watch.AirspaceWatch`), when the
   agreement protects airspaces;
5. the tactical check of notified volumes (`alerting.notice_watch.NoticeWatch`), when a
   notice book is given: the airspace watch over every other party's active volume;
6. distress from squawks and ADS-B emergency status (`alerting.distress.DistressWatch`);
7. resolution advisories (`alerting.advisories.AdvisoryTracker` over
   `engine.resolution.resolve`), when the agreement's `[resolution]` is enabled: one
   coordinated manoeuvre for each aircraft that must give way, never for one in
   distress (stage 6's aircraft) or refuelling;
8. well clear (`alerting.wellclear_watch.WellClearWatch`), for the pairs of parties the
   agreement gives a DO-365 alerter (`[minima.wellclear]`): every aircraft's alert level
   per intruder and, when corrective, its guidance bands, as `wellclear` events.

The stages keep state between steps (hysteresis, episodes) but read no clock and do no
I/O: the same snapshots give the same events, live, in replay and in simulation. That state
is `carry`: a restarted service `resume`s from it and goes on as if it had never stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sharedsky.alerting.advisories import AdvisoryTracker
from sharedsky.alerting.airspace_watch import AirspaceWatch
from sharedsky.alerting.carry import FORMAT, Carried, StateError
from sharedsky.alerting.conflicts import ConflictTracker
from sharedsky.alerting.distress import DistressWatch
from sharedsky.alerting.notice_book import NoticeBook
from sharedsky.alerting.notice_watch import NoticeWatch
from sharedsky.alerting.wellclear_watch import WellClearWatch
from sharedsky.engine.separation import Conflicts, Minima, detect
from sharedsky.engine.suppression import SuppressionRules
from sharedsky.ingest.snapshot import Snapshot


@dataclass(frozen=True)
class StepResult:
    """What one step saw and said: its snapshot, the detected conflicts, the events."""

    snapshot: Snapshot
    conflicts: Conflicts
    events: list[dict[str, Any]]


class Assessment:
    """Snapshot -> events, with the state the alert lifecycles keep between steps."""

    def __init__(
        self,
        levels: Sequence[Minima],
        *,
        conflicts: ConflictTracker | None = None,
        airspace: AirspaceWatch | None = None,
        distress: DistressWatch | None = None,
        suppression: SuppressionRules | None = None,
        notices: NoticeWatch | None = None,
        advisories: AdvisoryTracker | None = None,
        wellclear: WellClearWatch | None = None,
    ) -> None:
        self.wellclear = wellclear
        self.levels = list(levels)
        self.notices = notices
        self.advisories = advisories
        self.suppression = suppression if suppression else None
        self.conflicts = conflicts if conflicts is not None else ConflictTracker()
        self.airspace = airspace
        self.distress = distress

    def continue_ids(self, after: int) -> None:
        """Number the alerts, advisories and well-clear alerts opened from now on past
        `after` (a record's last entry): ids such as "advisory-icao-N" stay unique across a
        restart, each earlier one having taken at least one record entry."""
        self.conflicts.serial = max(self.conflicts.serial, after)
        for part in (self.advisories, self.wellclear):
            if part is not None:
                part.serial = max(part.serial, after)

    def stages(self) -> dict[str, Carried]:
        """The stages this assessment runs, by name, each with what it carries."""
        named: dict[str, Carried | None] = {
            "conflicts": self.conflicts, "airspace": self.airspace, "notices": self.notices,
            "distress": self.distress, "advisories": self.advisories, "wellclear": self.wellclear}
        return {k: s for k, s in named.items() if s is not None}

    def carry(self) -> dict[str, Any]:
        """All that the events after this instant depend on besides the snapshots, stage by
        stage (live objects: `alerting.carry.dumps` them before the next step)."""
        return {"format": FORMAT, "stages": {k: s.carry() for k, s in self.stages().items()}}

    def resume(self, state: dict[str, Any]) -> None:
        """Go on from the `carry` of an assessment of the same agreement (its ids are kept);
        StateError, and nothing changed, when it is not one."""
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise StateError(f"not a carried state of format {FORMAT}")
        stages, mine = state.get("stages"), self.stages()
        if not isinstance(stages, dict) or set(stages) != set(mine):
            got = sorted(stages) if isinstance(stages, dict) else stages
            raise StateError(f"the carried state has stages {got}, this assessment {sorted(mine)}")
        for k, s in mine.items():
            try:
                s.check(stages[k])
            except StateError as exc:
                raise StateError(f"{k}: {exc}") from exc
        for k, s in mine.items():
            s.resume(stages[k])

    @classmethod
    def for_agreement(
        cls,
        agreement: Any | None,
        *,
        levels: Sequence[Minima] | None = None,
        airspace: bool = True,
        distress: bool = True,
        distress_active: Iterable[str] = (),
        suppression: bool = True,
        notice_book: NoticeBook | None = None,
        resolution: bool = True,
        wellclear: bool = True,
    ) -> Assessment:
        """The step an agreement defines: its minima (or `levels`), its `[alerting]`
        rules, its `[suppression]` volumes, its airspaces when `airspace`, and distress
        with its frequencies. `suppression=False` (and `airspace=False`) when the
        agreement's parties are not the snapshots' (replay --all-pairs). `notice_book`:
        the notified operations whose active volumes the tactical check watches;
        `resolution=False` leaves advisories out even where the agreement enables them, and
        `wellclear=False` the well-clear alerts."""
        if levels is None:
            if agreement is None:
                raise ValueError("an assessment needs an agreement or explicit minima levels")
            levels = agreement.minima_levels()
        watch = None
        if airspace and agreement is not None and agreement.airspaces:
            watch = AirspaceWatch(agreement)
        freqs = agreement.channels.distress_mhz if agreement is not None else ()
        return cls(
            levels,
            conflicts=ConflictTracker.for_agreement(agreement),
            airspace=watch,
            distress=DistressWatch(freqs, distress_active) if distress else None,
            suppression=getattr(agreement, "suppression", None) if suppression else None,
            notices=NoticeWatch(agreement, notice_book) if notice_book is not None and agreement is not None
            else None,
            advisories=(AdvisoryTracker.for_agreement(agreement, levels)
                        if resolution and agreement is not None else None),
            wellclear=WellClearWatch.for_agreement(agreement) if wellclear else None,
        )

    def step(self, snap: Snapshot) -> StepResult:
        """Assess one snapshot: every stage, in order; returns the events of the instant."""
        found = detect(snap, self.levels) if len(snap) > 1 else Conflicts.empty()
        judged = None
        if self.suppression is not None and len(found):
            judged = (self.suppression, self.suppression.judge(snap, found))
        events = self.conflicts.step(snap, found, self.levels, judged)
        if self.airspace is not None:
            events.extend(self.airspace.step(snap))
        if self.notices is not None:
            events.extend(self.notices.step(snap))
        if self.distress is not None:
            events.extend(self.distress.step(snap))
        if self.advisories is not None:
            flagged = self.distress.flagged(snap) if self.distress is not None else None
            events.extend(self.advisories.step(snap, flagged, found))
        if self.wellclear is not None:
            events.extend(self.wellclear.step(snap))
        return StepResult(snap, found, events)

    @property
    def idle(self) -> bool:
        """Nothing open in any lifecycle: an empty snapshot would change nothing."""
        return (self.conflicts.idle and (self.airspace is None or self.airspace.idle)
                and (self.notices is None or self.notices.idle)
                and (self.distress is None or not self.distress.active)
                and (self.advisories is None or self.advisories.idle)
                and (self.wellclear is None or self.wellclear.idle))

    @property
    def quiet_alone(self) -> bool:
        """A snapshot of at most one aircraft, not in distress, would say nothing and change
        nothing: nothing is open and no stage judges a lone aircraft (airspace, notified volumes)."""
        return self.airspace is None and self.notices is None and self.idle

    def close(self, t_s: float) -> list[dict[str, Any]]:
        """End every open conflict, loss of separation and well-clear alert (end of a replay or run)."""
        events = self.conflicts.close(t_s)
        if self.wellclear is not None:
            events.extend(self.wellclear.close(t_s))
        return events

    @property
    def losses(self) -> list[dict[str, Any]]:
        """Every loss of separation that has ended, with its extent."""
        return self.conflicts.losses

    def notices_summary(self) -> dict[str, Any] | None:
        """Warnings and violations of notified volumes so far, when the tactical check runs."""
        return None if self.notices is None else self.notices.summary()

    def wellclear_summary(self) -> dict[str, int] | None:
        """Well-clear alerts so far, when the agreement gives some pair an alerter."""
        return None if self.wellclear is None else self.wellclear.summary()

    def airspace_summary(self) -> dict[str, Any] | None:
        """Incursions and warnings so far, when the airspace watch runs."""
        return None if self.airspace is None else self.airspace.summary()
