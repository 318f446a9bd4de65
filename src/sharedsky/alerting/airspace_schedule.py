"""The airspace warning schedule: each protected airspace with its stages, the approach
(a predicted incursion) of one aircraft, and which stage is due when.

Stages (e.g. advisory at 300 s to entry, warning at 120 s) are issued at most once per
approach, in order of severity: when several are due at once only the most severe is
issued, a less severe stage never follows a more severe one, and a new approach of the
same aircraft cannot re-issue a stage within `reissue_after_s` (the agreement's
`[airspace.schedule] reissue_after_s`, default 600 s) nor within that stage's own lead
time of its last issue: an aircraft flying parallel to a border just outside, whose
predicted entry comes and goes with every wobble of its heading, is warned once per
period, not at every wobble. Its violation, if it enters, is always reported, and an
aircraft that has entered is warned afresh on its next approach (the hold-back is for
aircraft that stay outside, never for one that comes back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sharedsky.engine.airspace import PreparedAirspace, prepare


@dataclass(frozen=True)
class Stage:
    """One warning of a schedule, issued `lead_s` before the predicted entry."""

    name: str
    lead_s: float


@dataclass
class Zone:
    """One airspace of the agreement, prepared, with its schedule."""

    id: str
    name: str
    owner: str
    barred: tuple[str, ...]
    horizon_s: float
    stages: tuple[Stage, ...]  # decreasing lead (least to most severe)
    repeat_inside_s: float
    prep: PreparedAirspace
    reissue_after_s: float = 600.0

    def vertical_depth_ft(self, alt_ft: float) -> float:
        """How far inside the floor-ceiling band an altitude is (0 outside or unknown)."""
        if not np.isfinite(alt_ft):
            return 0.0
        return float(max(0.0, min(alt_ft - self.prep.floor_ft, self.prep.ceiling_ft - alt_ft)))

    def message(self, state: str, who: str, secs: float, heading: float) -> str:
        """One line for a radio operator or the hotline, in plain English."""
        turn = f"; turn heading {float(heading):03.0f}" if np.isfinite(heading) else ""
        if state == "violation":
            return f"{who}: you are inside {self.name} for {secs:.0f} s{turn} to leave"
        return (f"{who}: {state}: you will enter {self.name} in {secs:.0f} s on present "
                f"course{turn} to remain clear")


def zones_of(agreement: Any) -> list[Zone]:
    """The agreement's airspaces, prepared for the engine, each with its schedule."""
    zones: list[Zone] = []
    for a in agreement.airspaces:
        raw = getattr(a.schedule, "stages", None) or []
        stages = tuple(sorted((Stage(str(s.name), float(s.lead_s)) for s in raw), key=lambda s: -s.lead_s))
        repeat = float(getattr(a.schedule, "repeat_inside_s", 30.0) or 30.0)
        reissue = float(getattr(a.schedule, "reissue_after_s", 600.0))
        zones.append(Zone(
            id=str(a.id),
            name=str(a.name or a.id),
            owner=str(a.owner),
            barred=tuple(str(b) for b in a.barred),
            horizon_s=max([float(a.horizon_s)] + [s.lead_s for s in stages]),
            stages=stages,
            repeat_inside_s=repeat,
            prep=prepare(a.geometry, float(a.floor_ft), float(a.ceiling_ft)),
            reissue_after_s=reissue,
        ))
    return zones


@dataclass
class Approach:
    """A predicted incursion of one aircraft into one airspace, and what it was told."""

    id: str
    opened_s: float
    last_predicted_s: float
    issued: dict[str, float] = field(default_factory=dict)  # stage name -> t issued
    severity: int = -1  # index of the most severe stage issued
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Schedule:
    """Open approaches and the last issue time of every (airspace, aircraft, stage)."""

    clear_after_s: float
    approaches: dict[tuple[str, str], Approach] = field(default_factory=dict)
    last_issue: dict[tuple[str, str, str], float] = field(default_factory=dict)
    cleared: int = 0
    #: When each airspace's issue times that hold nothing back were last forgotten.
    forgotten_s: dict[str, float] = field(default_factory=dict)

    def predicted(self, zone: Zone, icao: str, t: float, tte_s: float) -> tuple[Approach, str | None]:
        """The aircraft is predicted to enter in `tte_s`: its approach, and the state to
        announce now (a stage name, "predicted" for a new approach with none due, or None)."""
        key = (zone.id, icao)
        appr = self.approaches.get(key)
        new = appr is None
        if appr is None:
            appr = Approach(id=f"{zone.id}/{icao}/{int(t)}", opened_s=t, last_predicted_s=t)
            self.approaches[key] = appr
        appr.last_predicted_s = t
        due = [n for n, s in enumerate(zone.stages) if tte_s <= s.lead_s + 1e-9]
        stage = max(due) if due else -1
        if stage > appr.severity:
            sname = zone.stages[stage].name
            last = self.last_issue.get((zone.id, icao, sname))
            appr.severity = stage  # handled, even if held back below
            if last is None or t - last >= max(zone.stages[stage].lead_s, zone.reissue_after_s) - 1e-9:
                appr.issued[sname] = t
                self.last_issue[(zone.id, icao, sname)] = t
                return appr, sname
            return appr, None
        return appr, ("predicted" if new else None)

    def entered(self, zone_id: str, icao: str) -> None:
        """The aircraft entered: its next approach is warned afresh, on schedule."""
        for name in [k for k in self.last_issue if k[0] == zone_id and k[1] == icao]:
            del self.last_issue[name]

    def clear_stale(self, zone: Zone, t: float, predicted_now: set[str]) -> None:
        """Close the approaches of `zone` not predicted for `clear_after_s` (hysteresis:
        a wobble across the prediction threshold is one approach, not many), and forget its
        issue times that no longer hold anything back."""
        for key in [k for k in self.approaches if k[0] == zone.id and k[1] not in predicted_now]:
            if t - self.approaches[key].last_predicted_s >= self.clear_after_s:
                del self.approaches[key]
                self.cleared += 1
        self._forget_issued(zone, t)

    def _forget_issued(self, zone: Zone, t: float) -> None:
        """Drop issue times older than the longest reissue wait of any stage: a stage is
        issued again past its own wait whether its time is kept or not, so nothing changes,
        but the table (carried by a restarted service) no longer grows with every aircraft
        ever warned. Once per such wait."""
        wait_s = max([zone.reissue_after_s] + [s.lead_s for s in zone.stages])
        if t - self.forgotten_s.get(zone.id, float("-inf")) < wait_s:
            return
        self.forgotten_s[zone.id] = t
        for key in [k for k, last in self.last_issue.items() if k[0] == zone.id and t - last >= wait_s]:
            del self.last_issue[key]
