"""The level each crew has selected (ADS-B target state, readsb's `nav_altitude_mcp`, the
traffic library's BDS 4,0 `selected_mcp`): carried from the simulator and the line to the
snapshot (`SEL_ALT_FT`), where resolution judges a climb or descent towards it as levelling
off there (`resolution.SELECTED_LEVEL`; the engine's tests are in test_resolution.py)."""

from __future__ import annotations

import numpy as np

from sharedsky.ingest.snapshot import SEL_ALT_FT
from sharedsky.service.reports import columns_from_payload, columns_payload, validate_reports
from sharedsky.sim.random_traffic import TrafficSpec, random_traffic, square_scenario
from sharedsky.sim.run import Simulation


def test_simulated_aircraft_level_off_at_the_level_their_snapshot_says() -> None:
    """3-D random traffic: every aircraft climbing or descending in the snapshot has a
    selected level it moves towards, and two minutes on each of them that has stopped
    climbing or descending is level at that level (within 10 ft): what the snapshot
    says is what is flown, so resolution may rely on it."""
    spec = TrafficSpec(25.0, three_d=True, seed=2, warmup_s=0.0, measure_s=300.0)
    sim = Simulation(square_scenario(spec), None, hours=spec.duration_s / 3600.0, seed=2,
                     plans=random_traffic(spec), record_every_s=None, airspace=False, resolution=False)
    for _ in range(30):
        step = sim.step()
    snap = step.snapshot
    sel = snap.extra[SEL_ALT_FT]
    moving = np.abs(snap.vs_fpm) > 0.0
    assert moving.sum() >= 5
    assert np.isfinite(sel[moving]).all()
    assert (np.sign(sel[moving] - snap.alt_ft[moving]) == np.sign(snap.vs_fpm[moving])).all()
    ids, target = snap.id[moving], sel[moving]
    for _ in range(120):
        step = sim.step()
    later = step.snapshot
    row = {str(x): i for i, x in enumerate(later.id.tolist())}
    here = [row[str(x)] for x in ids if str(x) in row]
    done = np.array([later.vs_fpm[i] == 0.0 for i in here])
    got = later.alt_ft[here]
    want = np.array([t for x, t in zip(ids, target, strict=True) if str(x) in row])
    assert done.sum() >= 3
    assert np.allclose(got[done], want[done], atol=10.0)


def test_reports_carry_the_selected_level_and_older_records_read_without_it() -> None:
    body = {"reports": [{"timestamp": 1_700_000_000.0, "icao24": "aa0001", "latitude": 35.0, "longitude": 36.0,
                         "altitude": 20000, "selected_altitude": 24000},
                        {"timestamp": 1_700_000_000.0, "icao24": "aa0002", "latitude": 35.0, "longitude": 36.1,
                         "altitude": 20000}]}
    cols = validate_reports(body, 1_700_000_000.0)
    assert np.array_equal(cols["selected_altitude"], [24000.0, np.nan], equal_nan=True)
    payload = columns_payload(cols)
    back = columns_from_payload(payload)
    assert np.array_equal(back["selected_altitude"], cols["selected_altitude"], equal_nan=True)
    del payload["selected_altitude"]  # a batch recorded before the column existed
    old = columns_from_payload(payload)
    assert np.isnan(old["selected_altitude"]).all() and np.array_equal(old["altitude"], [20000.0, 20000.0])
