"""Well clear in the one assessment step (issue 12, Build 5): every aircraft of the pairs of
parties the agreement gives a DO-365 alerter gets its alert level per intruder and, when
corrective, its guidance bands, as `wellclear` events to its own party."""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pytest

from sharedsky.agreement import loads_agreement
from sharedsky.alerting.guidance import DIMENSIONS
from sharedsky.alerting.step import Assessment
from sharedsky.alerting.wellclear import WellClearAlerting, time_to_volumes
from sharedsky.alerting.wellclear_watch import (
    BANDS_EVERY_S,
    FORGET_AFTER_S,
    WellClearWatch,
    bands_json,
    ownship_bands,
    ownships_bands,
)
from sharedsky.engine.bands import Frame
from sharedsky.engine.separation import Kinematics
from sharedsky.engine.wellclear import PairStates
from sharedsky.ingest.snapshot import Snapshot
from sharedsky.sim.synthetic import random_enroute

from reference_bands import OwnshipBands


def _agreement(parties: tuple[str, str], wellclear: str = "[minima.wellclear]") -> str:
    a, b = parties
    return textwrap.dedent(f"""\
        [agreement]
        name = "wc"
        default_party = "{b}"
        alert_levels = ["warning"]
        [[party]]
        id = "{a}"
        name = "A"
        [party.attribution]
        icao_ranges = [["000000", "7fffff"]]
        [[party]]
        id = "{b}"
        name = "B"
        [minima_default]
        [[minima_default.level]]
        name = "warning"
        h_nm = 5
        v_ft = 1000
        t_s = 120
        [[minima]]
        parties = ["{a}", "{b}"]
        """) + wellclear + "\n"


def test_levels_equal_every_pair_without_the_broad_phase() -> None:
    """Dense traffic of two parties: the step's levels (through the broad phase's envelope)
    equal those of every cross-party pair computed without it, and they are symmetric (DO-365B
    without SUM): A sees B at the level and time to corrective volume B sees A."""
    snap = random_enroute(600, seed=3, nm2_per_aircraft=8.0, n_parties=2)
    agr = loads_agreement(_agreement(("p0", "p1")))
    watch = WellClearWatch(agr.wellclear)
    seen = watch.levels(snap)
    assert len(seen) == 1
    s = seen[0]
    got = {(int(o), int(x)): int(lv) for o, x, lv in zip(s.own, s.intr, s.level, strict=True) if lv > 0}
    # reference: every ordered cross-party pair, no broad phase
    i, j = np.meshgrid(np.arange(len(snap)), np.arange(len(snap)), indexing="ij")
    cross = snap.party[i] != snap.party[j]
    i, j = i[cross], j[cross]
    g = Kinematics.of(snap).pairs(i, j)
    keys = np.char.add(np.char.add(snap.id[i].astype(str), "|"), snap.id[j].astype(str))
    cfg = agr.wellclear.configs[0]
    res = WellClearAlerting(cfg).step(snap.t_s, keys, np.ones(i.size, dtype=np.int64),
                                      PairStates(g.rh, g.wh, g.dz_ft, g.dvz_fts, snap.alt_ft[i]))
    ref = {(int(o), int(x)): int(lv) for o, x, lv in zip(i, j, res.level, strict=True) if lv > 0}
    assert len(ref) >= 20 and {1, 2, 3} <= set(ref.values())
    assert got == ref
    # symmetry: the same level and time to the corrective (level 2) volume both ways
    ttv = time_to_volumes(res)[1]
    by = {(int(o), int(x)): (int(lv), float(t)) for o, x, lv, t in zip(i, j, res.level, ttv, strict=True)}
    mine = time_to_volumes_of(s)
    for (o, x), (lv, t) in mine.items():
        lv2, t2 = mine[(x, o)]
        assert lv == lv2 and (t == t2 or abs(t - t2) < 1e-9), (o, x)
        assert lv == by[(o, x)][0]


def time_to_volumes_of(s: object) -> dict[tuple[int, int], tuple[int, float]]:
    own, intr, level, ttv = s.own, s.intr, s.level, s.ttv  # type: ignore[attr-defined]
    return {(int(o), int(x)): (int(lv), float(t)) for o, x, lv, t in zip(own, intr, level, ttv[1], strict=True)}


def _encounter(t: float, offset_nm: float = 0.3) -> Snapshot:
    """Blue northbound and red southbound at 400 kt, 16 NM apart at t = 0, `offset_nm`
    abeam, the same level; a second blue aircraft far away."""
    d = 400.0 * t / 3600.0 / 60.0
    lat = np.array([34.0 + d, 34.0 + 16.0 / 60.0 - d, 35.5])
    lon = np.array([36.0, 36.0 + offset_nm / 60.0 / np.cos(np.radians(34.1)), 36.0])
    return Snapshot(
        t_s=1_700_000_000.0 + t, id=np.array(["100001", "a00002", "100003"]),
        party=np.array([0, 1, 0], np.int32), lat_deg=lat, lon_deg=lon,
        alt_ft=np.array([20000.0, 20000.0, 20000.0]), track_deg=np.array([0.0, 180.0, 90.0]),
        gs_kt=np.full(3, 400.0), vs_fpm=np.zeros(3), last_report_s=np.full(3, t),
        parties=("blue", "red"), callsign=np.array(["BLU1", "RED2", "BLU3"]))


def test_encounter_events_levels_bands_and_volume() -> None:
    """A head-on blue/red encounter: each aircraft gets its own `wellclear` events (its party
    named), corrective then warning, with bands, `ended` at the end; events only on change
    (bands-only changes at least BANDS_EVERY_S apart), far fewer than one per aircraft and
    second."""
    agr = loads_agreement(_agreement(("blue", "red")))
    step = Assessment.for_agreement(agr, airspace=False)
    assert step.wellclear is not None
    events = []
    for t in range(0, 22):
        events += [e for e in step.step(_encounter(float(t))).events if e["kind"] == "wellclear"]
    events += step.close(1_700_000_022.0)
    by: dict[str, list[dict]] = {}
    for e in events:
        by.setdefault(e["icao24"], []).append(e)
    assert set(by) == {"100001", "a00002"}  # the far blue aircraft never alerts
    for own, party, other in (("100001", "blue", "a00002"), ("a00002", "red", "100001")):
        evs = by[own]
        assert all(e["party"] == party for e in evs)
        assert evs[0]["state"] == "new" and evs[-1]["state"] == "ended"
        assert [e["state"] for e in evs[1:-1]] == ["updated"] * (len(evs) - 2)
        levels = [e["level"] for e in evs[:-1]]
        assert levels[0] == 2 and max(levels) == 3 and levels == sorted(levels)
        assert all(e["corrective"] and e["bands"] for e in evs[:-1])
        b = evs[0]["bands"]
        assert set(b) == {"hdir", "hs", "vs", "alt"}
        hdir = b["hdir"]
        assert hdir[0][0] == 0.0 and hdir[-1][1] == 360.0
        assert {r for _, _, r in hdir} & {"MID", "NEAR"}  # the way ahead is not clear
        assert any(r == "NONE" for _, _, r in hdir)  # a turn is
        x = evs[0]["intruders"]
        assert [y["icao24"] for y in x] == [other] and x[0]["level"] == evs[0]["level"]
        assert len(x[0]["t_to_volume_s"]) == 3 and 0 < x[0]["t_to_volume_s"][1] < 55
        assert len(evs) < 25
        assert len({e["id"] for e in evs}) == 1
        for a, b2 in zip(evs, evs[1:-1], strict=False):
            if a["level"] == b2["level"]:
                assert b2["t"] - a["t"] >= BANDS_EVERY_S
    # the two see each other alike (DO-365B without SUM is symmetric)
    assert [(e["t"], e["level"]) for e in by["100001"]] == [(e["t"], e["level"]) for e in by["a00002"]]
    assert step.wellclear.counts["wellclear_alerts"] == 2
    # bands are computed when levels change, else every BANDS_EVERY_S: not at each of the 44
    # (ownship, step) pairs
    assert step.wellclear.counts["bands_computed"] <= 2 * (22 / BANDS_EVERY_S + 4)


def test_no_wellclear_without_it_in_the_agreement() -> None:
    text = _agreement(("blue", "red"), wellclear=textwrap.dedent("""\
        [[minima.level]]
        name = "warning"
        h_nm = 3
        v_ft = 1000
        t_s = 60"""))
    step = Assessment.for_agreement(loads_agreement(text), airspace=False)
    assert step.wellclear is None
    assert not any(e["kind"] == "wellclear" for t in range(60) for e in step.step(_encounter(float(t))).events)


def test_bands_for_an_ownship_beyond_its_vertical_speed_range() -> None:
    """An ownship descending at 8,000 fpm, beyond DO-365B's -6,000 fpm bands range (the
    simulator's dives do it): its bands are computed (a defect made the vertical-speed
    dimension raise on its empty side of candidates)."""
    snap = _encounter(0.0)
    snap.vs_fpm[0] = -8000.0
    snap.alt_ft[1] = 18500.0
    agr = loads_agreement(_agreement(("blue", "red")))
    cfg = agr.wellclear.configs[0]
    bands = ownship_bands(cfg, snap, 0, np.array([1, 2]), 1, np.array([2, 0]), np.full(2, np.nan))
    vs = bands["vs"]
    assert vs.low[0] == pytest.approx(-6000.0) and vs.high[-1] == pytest.approx(6000.0)


def test_state_of_pairs_gone_quiet_is_dropped() -> None:
    """A long watch keeps alerting state for recent pairs only: once the encounter's pairs are
    no longer candidates, their state is dropped FORGET_AFTER_S later (checked each minute)."""
    agr = loads_agreement(_agreement(("blue", "red")))
    watch = WellClearWatch(agr.wellclear)
    watch.step(_encounter(0.0))
    al = watch.alerting[0]
    assert al.pairs_kept == 2  # blue->red and red->blue (the far blue aircraft is not a candidate)
    alone = _encounter(70.0).take(np.array([2]))
    watch.step(alone)  # 70 s later: only the far aircraft; kept yet
    assert al.pairs_kept == 2
    watch.step(_encounter(70.0 + FORGET_AFTER_S).take(np.array([2])))
    assert al.pairs_kept == 0


def test_step_bands_equal_each_ownship_alone() -> None:
    """Dense traffic: the bands the step computes for all its corrective ownships in one
    batch equal, for several of them, `OwnshipBands` of that ownship alone against the same
    neighbours, levels and alert start times, in its own equirectangular plane (bit for bit
    before the events' rounding)."""
    snap = random_enroute(400, seed=4, nm2_per_aircraft=8.0, n_parties=2)
    agr = loads_agreement(_agreement(("p0", "p1")))
    watch = WellClearWatch(agr.wellclear)
    levels = watch.levels
    seen: list[Any] = []

    def levels_seen(s: Snapshot) -> list[Any]:
        got = levels(s)
        seen.extend(got)
        return got

    watch.levels = levels_seen  # type: ignore[method-assign, assignment]
    events = watch.step(snap)
    cfg = agr.wellclear.configs[0]
    with_bands = [e for e in events if e["bands"]]
    assert len(with_bands) >= 10 and watch.counts["bands_computed"] == len(with_bands)
    s = seen[0]
    index = {str(x): n for n, x in enumerate(snap.id)}
    trk = np.radians(snap.track_deg)
    ve, vn = snap.gs_kt * np.sin(trk), snap.gs_kt * np.cos(trk)
    busy = 0
    for e in with_bands[::max(len(with_bands) // 6, 1)]:
        own = index[e["icao24"]]
        rows = np.flatnonzero(s.own == own)
        nb = s.intr[rows]
        _, init = watch.alerting[0].state_of(s.keys[rows])
        lat0 = math.radians(float(snap.lat_deg[own]))
        fr = Frame(np.zeros(2), np.array([ve[own], vn[own]]) / 3600.0, float(snap.alt_ft[own]),
                   float(snap.vs_fpm[own]) / 60.0,
                   np.vstack([(snap.lon_deg[nb] - snap.lon_deg[own]) * 60.0 * math.cos(lat0),
                              (snap.lat_deg[nb] - snap.lat_deg[own]) * 60.0]),
                   np.vstack([ve[nb], vn[nb]]) / 3600.0, snap.alt_ft[nb], snap.vs_fpm[nb] / 60.0)
        ob = OwnshipBands(cfg, fr, np.ones(rows.size, dtype=np.int64), s.level[rows].astype(np.int64), init,
                          snap.t_s)
        want = {d: ob.dimension(d) for d in DIMENSIONS}
        assert e["bands"] == bands_json(want), e["icao24"]
        # and unrounded: the batch of every due ownship's inputs, as the step builds it
        (got,) = ownships_bands(cfg, snap, np.array([own]), nb, np.array([nb.size]), 1,
                                s.level[rows].astype(np.int64), init)
        for d in DIMENSIONS:
            assert np.array_equal(got[d].low, want[d].low) and np.array_equal(got[d].high, want[d].high)
            assert got[d].region == want[d].region
        busy += any(r != "NONE" for d in DIMENSIONS for r in want[d].region)
    assert busy >= 5
