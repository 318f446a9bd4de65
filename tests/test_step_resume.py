"""An assessment resumed from its carried state goes on exactly as one that never stopped.

The Syria day's traffic (a quarter hour without resolution, so that aircraft come close
enough for well-clear alerts and losses of separation; six minutes with advisories flown),
with one aircraft of the first encounter squawking 7700 for a while: at many
instants the assessment's state is carried to bytes, read into a fresh assessment of the
same agreement, and that one's events over the next minute must be the uninterrupted run's,
byte for byte. A fresh assessment without the state says something else (new ids, alerts
announced again): the test could fail.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sharedsky.agreement.load import loads_agreement
from sharedsky.alerting.carry import StateError, dumps, loads
from sharedsky.alerting.step import Assessment
from sharedsky.ingest.snapshot import Snapshot
from sharedsky.sim.run import Simulation
from sharedsky.sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
AFTER_STEPS = 60
KEY = bytes(32)


def _agreement() -> Any:
    """The Syria agreement with DO-365 well clear for the coalition/Russian pair."""
    text = (REPO / "examples/syria-2015.toml").read_text()
    assert "# [minima.wellclear]" in text
    return loads_agreement(text.replace("# [minima.wellclear]", "[minima.wellclear]"), base_dir=REPO / "examples")


def _flown(hours: float, resolution: bool) -> tuple[Simulation, list[Snapshot]]:
    scn = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    sim = Simulation(scn, _agreement(), hours=hours, seed=1, record_every_s=None, resolution=resolution)
    snaps = [st.snapshot for st in sim.batches()]
    return sim, snaps


def _with_distress(snaps: list[Snapshot], icao: str, first: int, last: int) -> list[Snapshot]:
    """The same snapshots with `icao` squawking 7700 from step `first` to `last`."""
    out = []
    for k, s in enumerate(snaps):
        if first <= k <= last and s.squawk is not None and icao in set(s.id.tolist()):
            sq = np.asarray(s.squawk, dtype=object).copy()
            sq[s.id == icao] = "7700"
            s = dataclasses.replace(s, squawk=sq)
        out.append(s)
    return out


def _canon(events: list[dict[str, Any]]) -> str:
    return json.dumps(events, sort_keys=True)


def canonical(obj: Any) -> Any:
    """A state as plain values, equal exactly when the states are: floats by their bits
    (NaN, -0.0), arrays by dtype, shape and bytes, dataclasses by class and fields, sets
    sorted, dicts in their order (pickled bytes are not: they depend on object identity)."""
    if isinstance(obj, float | np.floating):
        return ("f", type(obj).__name__, float(obj).hex())
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            return ("O", obj.shape, [canonical(x) for x in obj.ravel().tolist()])
        return ("a", obj.dtype.str, obj.shape, np.ascontiguousarray(obj).tobytes())
    if isinstance(obj, dict):
        return ("d", [(canonical(k), canonical(v)) for k, v in obj.items()])
    if isinstance(obj, list | tuple):
        return (type(obj).__name__, [canonical(x) for x in obj])
    if isinstance(obj, set | frozenset):
        return (type(obj).__name__, sorted(repr(canonical(x)) for x in obj))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return (type(obj).__qualname__, [(f.name, canonical(getattr(obj, f.name))) for f in dataclasses.fields(obj)])
    if isinstance(obj, np.generic):
        return (obj.dtype.str, obj.tobytes())
    if hasattr(obj, "geom_type"):
        return ("g", obj.wkb)
    return (type(obj).__name__, obj)


def _check_resumes(sim: Simulation, snaps: list[Snapshot], every: int) -> Counter[str]:
    agr = sim.agreement

    def fresh() -> Assessment:
        return Assessment.for_agreement(agr, levels=sim.levels, notice_book=sim.notice_book,
                                        resolution=sim.assessment is not None and sim.assessment.advisories is not None)

    ref = fresh()
    events: list[str] = []
    carried: list[bytes] = []
    states: list[Any] = []
    kinds: Counter[str] = Counter()
    for s in snaps:
        evs = ref.step(s).events
        kinds.update(f"{e['kind']}/{e.get('state')}" for e in evs)
        events.append(_canon(evs))
        carried.append(dumps(ref.carry(), KEY))
        states.append(canonical(ref.carry()))
    fresh_differs = 0
    for k in range(every, len(snaps) - 1, every):
        resumed = fresh()
        resumed.resume(loads(carried[k], KEY))
        assert canonical(resumed.carry()) == states[k], f"step {k}: the state read back is not the one carried"
        without = fresh()
        for j in range(k + 1, min(k + 1 + AFTER_STEPS, len(snaps))):
            got = _canon(resumed.step(snaps[j]).events)
            assert got == events[j], f"resumed after step {k}: step {j} says {got}, not {events[j]}"
            assert canonical(resumed.carry()) == states[j], f"resumed after step {k}: state differs at step {j}"
            fresh_differs += _canon(without.step(snaps[j]).events) != events[j]
    assert fresh_differs > 0, "a fresh assessment says the same: the resumed one was not tested"
    return kinds


@pytest.mark.parametrize("resolution", [False, True], ids=["without-advisories", "advisories-flown"])
def test_a_resumed_assessment_says_what_the_uninterrupted_one_says(resolution: bool) -> None:
    sim, snaps = _flown(0.25 if not resolution else 0.1, resolution)
    # An aircraft of the first encounter in distress for two minutes: distress episodes,
    # and (with resolution) advice that leaves it alone.
    first = next(e for e in sim.events if e.get("kind") == "conflict")
    snaps = _with_distress(snaps, first["a"], 40, 160)
    kinds = _check_resumes(sim, snaps, every=25)
    want = {"conflict/new", "conflict/ended", "airspace/warning", "notice_volume/violation", "distress/start"}
    want |= {"advisory/new"} if resolution else {"wellclear/new", "loss_of_separation/start"}
    assert want <= set(kinds), kinds


def test_a_state_of_another_agreement_is_refused_and_changes_nothing() -> None:
    """Stages missing or added (the agreement changed between runs): StateError naming them."""
    agr = _agreement()
    with_wc = Assessment.for_agreement(agr)
    without = Assessment.for_agreement(agr, wellclear=False)
    before = canonical(without.carry())
    with pytest.raises(StateError, match="stages"):
        without.resume(loads(dumps(with_wc.carry(), KEY), KEY))
    assert canonical(without.carry()) == before
    state = loads(dumps(with_wc.carry(), KEY), KEY)
    del state["stages"]["conflicts"]["serial"]
    with pytest.raises(StateError, match="conflicts: ConflictTracker: the carried state lacks serial"):
        with_wc.resume(state)
    # Refused by a later stage: the earlier ones are left as they were too.
    state = loads(dumps(with_wc.carry(), KEY), KEY)
    state["stages"]["conflicts"]["serial"] = 999
    state["stages"]["wellclear"]["alerting"] = []
    before = canonical(with_wc.carry())
    with pytest.raises(StateError, match="wellclear: WellClearWatch: the carried state has 0 alerters"):
        with_wc.resume(state)
    assert canonical(with_wc.carry()) == before
    state = loads(dumps(with_wc.carry(), KEY), KEY)
    state["stages"]["wellclear"]["alerting"][0]["_queue"] = np.zeros((0, 9), dtype=np.int64)
    with pytest.raises(StateError, match="queue of width"):
        with_wc.resume(state)
    state["stages"]["wellclear"]["alerting"][0].update(_queue=np.zeros((0, 4), dtype=np.int64), _keys=[])
    with pytest.raises(StateError, match="_keys: a list where a ndarray is kept"):
        with_wc.resume(state)
    with pytest.raises(StateError, match="format"):
        with_wc.resume({"format": "something/9", "stages": {}})
