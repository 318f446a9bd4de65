"""Conflict alert lifecycle: announce once, update on material change, end with hysteresis."""

from __future__ import annotations

import numpy as np
from pyproj import Geod

from sharedsky.alerting.conflicts import ConflictTracker
from sharedsky.engine.separation import Minima, detect
from sharedsky.ingest.snapshot import Snapshot

GEOD = Geod(ellps="WGS84")
LEVELS = [Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)]


def pair(t: float, dz_ft: float, gap_nm: float = 2.0, vs_b: float = 0.0) -> Snapshot:
    """Two aircraft side by side `gap_nm` apart, flying east at 450 kt."""
    lon2, lat2, _ = GEOD.fwd(7.0, 46.0, 0.0, gap_nm * 1852.0)
    return Snapshot(
        t_s=t, id=np.array(["a00001", "b00002"]), party=np.zeros(2, np.int32),
        lat_deg=np.array([46.0, lat2]), lon_deg=np.array([7.0, lon2]),
        alt_ft=np.array([35000.0, 35000.0 + dz_ft]), track_deg=np.array([90.0, 90.0]),
        gs_kt=np.array([450.0, 450.0]), vs_fpm=np.array([0.0, vs_b]),
        last_report_s=np.full(2, t), parties=("all",),
    )


def run(tracker: ConflictTracker, snaps: list[Snapshot]) -> list[dict]:
    events = []
    for s in snaps:
        events += tracker.step(s, detect(s, LEVELS), LEVELS)
    return events


def test_altitude_wobbling_across_the_minimum_is_one_alert() -> None:
    # Altitude readings in 25 ft steps alternate 975 / 1,000 ft every 10 s for 5 minutes.
    snaps = [pair(float(t), 975.0 if (t // 10) % 2 == 0 else 1000.0) for t in range(300)]
    snaps += [pair(float(t), 3000.0) for t in range(300, 360)]
    events = run(ConflictTracker(), snaps)
    states = [(e["kind"], e["state"]) for e in events]
    assert states.count(("conflict", "new")) == 1
    assert states.count(("conflict", "ended")) == 1
    assert states.count(("loss_of_separation", "start")) == 1
    ended = next(e for e in events if e["state"] == "ended" and e["kind"] == "conflict")
    assert 300.0 <= ended["t"] <= 300.0 + 21.0  # ends after the 20 s hysteresis
    # Without the widened minima the same flight flip-flops.
    flappy = run(ConflictTracker(keep_factor=1.0, clear_after_s=3.0), snaps)
    assert [(e["kind"], e["state"]) for e in flappy].count(("conflict", "new")) > 5


def test_update_only_on_material_change() -> None:
    # Converging from 3,000 ft above at a steady rate: the predicted time of loss is fixed
    # in absolute time, so no update is issued while it holds.
    snaps = [pair(float(t), 3000.0 - 10.0 * t, vs_b=-600.0) for t in range(0, 120)]
    events = run(ConflictTracker(), snaps)
    states = [e["state"] for e in events if e["kind"] == "conflict"]
    assert states[0] == "new" and "updated" not in states
    new = events[0]
    assert abs(new["t"] + new["t_in_s"] - 200.0) < 1.0  # 2,000 ft to close at 10 ft/s


def test_the_agreement_sets_the_hysteresis(tmp_path) -> None:
    from sharedsky.agreement import load_agreement

    from conftest import REPO

    text = (REPO / "examples" / "civil.toml").read_text() + (
        "\n[alerting]\nclear_after_s = 5\nkeep_factor = 1.0\n"
    )
    p = tmp_path / "a.toml"
    p.write_text(text)
    t = ConflictTracker.for_agreement(load_agreement(p))
    assert (t.clear_after_s, t.keep_factor, t.retime_s) == (5.0, 1.0, 10.0)
    snaps = [pair(float(s), 975.0 if (s // 10) % 2 == 0 else 1000.0) for s in range(120)]
    events = run(t, snaps)
    # Without widened minima and with a short clear time the wobble restarts the alert.
    assert [e["state"] for e in events if e["kind"] == "conflict"].count("new") > 2
    syria = ConflictTracker.for_agreement(load_agreement(REPO / "examples" / "syria-2015.toml"))
    assert (syria.clear_after_s, syria.keep_factor) == (20.0, 1.2)
