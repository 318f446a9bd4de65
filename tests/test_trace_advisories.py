"""The stability study's classifier (`benchmarks/trace_advisories.py --why-again`): each change
of advice made again gets the first cause that applies, from what changed since it was given."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from conftest import load_benchmark


@pytest.fixture(scope="module")
def trace() -> Any:
    return load_benchmark("trace_advisories")


def _snap(vel: dict[str, tuple[float, float, float]], alt_ft: float = 30000.0) -> SimpleNamespace:
    ids = sorted(vel)
    return SimpleNamespace(id=np.array(ids), track_deg=np.array([vel[i][0] for i in ids]),
                           gs_kt=np.array([vel[i][1] for i in ids]), vs_fpm=np.array([vel[i][2] for i in ids]),
                           alt_ft=np.full(len(ids), alt_ft))


def _event(state: str, t: float, ident: str, adv: tuple[float, float, float], again: int = 0) -> dict[str, Any]:
    return {"state": state, "t": t, "id": f"advisory-{ident}-1", "icao24": ident, "track_deg": adv[0],
            "gs_kt": adv[1], "vs_fpm": adv[2], "changes_again": again, "manoeuvre": "track", "sense": "turn left"}


def _tracker(owner_row: int, blockers: list[str]) -> SimpleNamespace:
    return SimpleNamespace(last=SimpleNamespace(owner=np.array([owner_row]), keep_blockers=[blockers]))


def _run(trace: Any, own_now: tuple[float, float, float], blocker_now: tuple[float, float, float],
         blocker_event: bool = False, room_for: list[str] | None = None) -> str:
    """A (turn left to 80 deg, given at t=0) blamed on b; at t=30 it changes again (to make
    room for `room_for`, if given)."""
    why = trace.WhyAgain()
    given = {"a": (80.0, 440.0, 0.0), "b": (270.0, 440.0, 0.0)}
    why.step(_tracker(0, []), _snap(given), [_event("new", 0.0, "a", (80.0, 440.0, 0.0))], {})
    if blocker_event:
        why.step(_tracker(1, []), _snap(given), [_event("new", 10.0, "b", (275.0, 440.0, 0.0))], {"a": 0})
    changed = _event("updated", 30.0, "a", (70.0, 440.0, 0.0), again=1)
    if room_for:
        changed["room_for"] = room_for
    why.step(_tracker(0, ["b"]), _snap({"a": own_now, "b": blocker_now}), [changed], {"a": 0})
    assert len(why.rows) == 1 and why.rows[0]["blockers"] == ["b"] and why.rows[0]["since_given_s"] == 30.0
    return str(why.rows[0]["cause"])


def test_nothing_changed_is_the_engines_own_doing(trace: Any) -> None:
    assert _run(trace, (81.0, 442.0, 100.0), (271.0, 440.0, 0.0)) == "neither"


def test_a_change_that_makes_room_is_not_counted_the_engines_instability(trace: Any) -> None:
    """Nothing changed for A or b, but the engine changed A's advice to let b (nothing free)
    out: the event says so (`room_for`), and the row is `making room`, not `neither`."""
    assert _run(trace, (81.0, 442.0, 100.0), (271.0, 440.0, 0.0), room_for=["b"]) == "making room"
    # What changed for the aircraft comes first, as for every cause.
    assert _run(trace, (80.0, 440.0, 0.0), (263.0, 440.0, 0.0), room_for=["b"]) == "blocker manoeuvred"


def test_a_blocker_turning_otherwise_is_told_apart(trace: Any) -> None:
    assert _run(trace, (80.0, 440.0, 0.0), (263.0, 440.0, 0.0)) == "blocker manoeuvred"


def test_a_blocker_advised_since_comes_before_its_manoeuvre(trace: Any) -> None:
    assert _run(trace, (80.0, 440.0, 0.0), (263.0, 440.0, 0.0), blocker_event=True) == "blocker advised since"


def test_an_owner_not_flying_its_advice_comes_first(trace: Any) -> None:
    assert _run(trace, (60.0, 440.0, 0.0), (263.0, 440.0, 0.0), blocker_event=True) == "owner off advice"
    # A turn is flown whatever the vertical speed (levelling off at an earlier advice's level).
    assert _run(trace, (80.0, 440.0, 1000.0), (270.0, 440.0, 0.0)) == "neither"


def test_a_level_change_is_flown_at_its_rate_or_held_at_its_level(trace: Any) -> None:
    climb = (80.0, 440.0, 2000.0)
    assert not trace._off_advice(climb, "vertical", 32000.0, (80.0, 440.0, 1900.0), 31000.0)
    assert not trace._off_advice(climb, "vertical", 32000.0, (80.0, 440.0, 0.0), 32050.0)
    assert trace._off_advice(climb, "vertical", 32000.0, (80.0, 440.0, 0.0), 30000.0)  # level elsewhere
    assert trace._off_advice(climb, "vertical", float("nan"), (80.0, 440.0, 0.0), 32000.0)
    assert not trace._off_advice((80.0, 440.0, 0.0), "speed", float("nan"), (81.0, 443.0, 0.0), 0.0)


def test_a_turn_holds_the_speed_advised_before(trace: Any, monkeypatch: Any) -> None:
    """LAST_ADVISED: a turn given while still slowing to an advised speed is flown once that
    speed is reached too (the 2-D 100 trace's `neither` at 389 kt advised, 411 flown), and a
    speed change once the track advised before is; without it, each holds its own dimension."""
    from sharedsky.engine import resolution

    turn = (234.0, 389.0, 0.0)
    assert trace._off_advice(turn, "track", float("nan"), (234.0, 411.0, 0.0), 0.0)
    assert not trace._off_advice(turn, "track", float("nan"), (234.5, 391.0, 0.0), 0.0)
    assert trace._off_advice((80.0, 440.0, 0.0), "speed", float("nan"), (95.0, 443.0, 0.0), 0.0)
    monkeypatch.setattr(resolution, "LAST_ADVISED", False)
    assert not trace._off_advice(turn, "track", float("nan"), (234.0, 411.0, 0.0), 0.0)
    assert not trace._off_advice((80.0, 440.0, 0.0), "speed", float("nan"), (95.0, 443.0, 0.0), 0.0)


def test_an_owner_still_flying_what_it_flew_when_advised_is_not_manoeuvring(trace: Any) -> None:
    """Advised at 80 deg while flying 100 (the `given` velocities of `_run` are the picture
    then): still on 100 is a crew late or ignoring the advice."""
    why = trace.WhyAgain()
    before = {"a": (100.0, 440.0, 0.0), "b": (270.0, 440.0, 0.0)}
    why.step(_tracker(0, []), _snap(before), [_event("new", 0.0, "a", (80.0, 440.0, 0.0))], {})
    why.step(_tracker(0, ["b"]), _snap({"a": (100.5, 440.0, 0.0), "b": (270.0, 440.0, 0.0)}),
             [_event("updated", 30.0, "a", (70.0, 440.0, 0.0), again=1)], {"a": 0})
    assert [r["cause"] for r in why.rows] == ["owner not manoeuvring"]


def test_flying_a_track_is_judged_across_north(trace: Any) -> None:
    assert not trace._off((359.0, 440.0, 0.0), (1.0, 440.0, 0.0))
    assert trace._off((359.0, 440.0, 0.0), (2.0, 440.0, 0.0))
    assert trace._off((10.0, 440.0, 0.0), (10.0, 446.0, 0.0))


def test_a_change_made_during_a_loss_of_separation_is_told(trace: Any) -> None:
    """A change made again while the aircraft is within the agreed minima of one it is blamed
    on (a loss in progress) is flagged `inside`; 3 NM apart at one level is, 3 NM apart and
    1,200 ft or 6 NM apart at one level is not."""
    minima = SimpleNamespace(h_nm=np.full((1, 1), 5.0), v_ft=np.full((1, 1), 1000.0))

    def flagged(b_lat_nm: float, b_alt_ft: float) -> bool:
        why = trace.WhyAgain()
        vel = {"a": (80.0, 440.0, 0.0), "b": (270.0, 440.0, 0.0)}

        def snap() -> SimpleNamespace:
            s = _snap(vel)
            s.lat_deg = np.array([10.0, 10.0 + b_lat_nm / 60.0])
            s.lon_deg = np.array([20.0, 20.0])
            s.alt_ft = np.array([30000.0, b_alt_ft])
            s.party = np.zeros(2, dtype=np.int32)
            return s

        t0 = SimpleNamespace(last=SimpleNamespace(owner=np.array([0]), keep_blockers=[[]]), minima=minima)
        why.step(t0, snap(), [_event("new", 0.0, "a", (80.0, 440.0, 0.0))], {})
        t1 = SimpleNamespace(last=SimpleNamespace(owner=np.array([0]), keep_blockers=[["b"]]), minima=minima)
        why.step(t1, snap(), [_event("updated", 30.0, "a", (70.0, 440.0, 0.0), again=1)], {"a": 0})
        assert len(why.rows) == 1
        return bool(why.rows[0]["inside"])

    assert flagged(3.0, 30000.0)
    assert flagged(3.0, 30900.0)
    assert not flagged(3.0, 31200.0)
    assert not flagged(6.0, 30000.0)


def test_nothing_free_counts_aircraft_seconds_and_the_measured_window_apart(trace: Any) -> None:
    """Status 2 (best effort) per aircraft per step, over the flight and after the warm-up."""
    nf = trace.NothingFree(600.0)
    nf.add(1000.0, np.array([2, 0, 2], dtype=np.int8))  # starts the clock: warm-up
    nf.add(1599.0, np.array([1, 2], dtype=np.int8))
    nf.add(1600.0, np.array([2, 2, 2, 0], dtype=np.int8))  # the measured window
    nf.add(1601.0, np.zeros(0, dtype=np.int8))
    assert nf.counts == {"flight": 6, "measured": 3}
