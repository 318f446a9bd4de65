"""The airspace schedule forgets issue times that hold nothing back, and says the same."""

from __future__ import annotations

from typing import Any, cast

from sharedsky.alerting.airspace_schedule import Schedule, Stage, Zone

STAGES = (Stage("advisory", 300.0), Stage("warning", 120.0))


def _zone(reissue_after_s: float = 600.0) -> Zone:
    return Zone("z", "zone", "blue", ("red",), 300.0, STAGES, 30.0, cast(Any, None), reissue_after_s)


def _fly(schedule: Schedule, zone: Zone, steps: list[tuple[float, dict[str, float]]]) -> list[tuple]:
    """Predicted entries (aircraft -> time to entry) at each time; what is announced."""
    said = []
    for t, tte in steps:
        for icao, s in sorted(tte.items()):
            said.append((t, icao, schedule.predicted(zone, icao, t, s)[1]))
        schedule.clear_stale(zone, t, set(tte))
    return said


def test_old_issue_times_are_forgotten_and_nothing_said_changes() -> None:
    zone = _zone()
    # 200 aircraft warned once, then gone; aircraft "back" approaches again three times.
    steps: list[tuple[float, dict[str, float]]] = [(0.0, {f"r{k:03d}": 100.0 for k in range(200)} | {"back": 100.0})]
    steps += [(t, {"back": 250.0}) for t in (100.0, 400.0, 650.0, 1300.0, 1310.0)]
    steps += [(t, {"back": 100.0}) for t in (1320.0, 1900.0)]
    pruned = Schedule(60.0)
    said = _fly(pruned, zone, steps)
    kept = Schedule(60.0)
    kept._forget_issued = lambda zone, t: None  # type: ignore[method-assign]
    assert said == _fly(kept, zone, steps)
    assert ("back", "warning") in {(i, s) for _, i, s in said if s == "warning"}
    assert len(kept.last_issue) >= 201
    assert set(pruned.last_issue) <= {("z", "back", "warning"), ("z", "back", "advisory")}
