"""The track table: merging separate messages, ordering, expiry and slot reuse."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sharedsky.ingest.schema import normalise
from sharedsky.ingest.tracks import TrackTable


def reports(rows: list[dict]) -> pd.DataFrame:
    return normalise(pd.DataFrame(rows))


def test_position_and_velocity_messages_merge() -> None:
    t = TrackTable()
    t.update(reports([
        {"timestamp": 100.0, "icao24": "abc123", "latitude": 45.0, "longitude": 7.0, "altitude": 30000},
        {"timestamp": 101.0, "icao24": "abc123", "groundspeed": 400.0, "track": 90.0, "vertical_rate": 0},
    ]))
    s = t.snapshot(101.0)
    assert list(s.id) == ["abc123"]
    assert s.gs_kt[0] == 400.0 and s.track_deg[0] == 90.0
    assert s.last_report_s[0] == 100.0  # dead reckoning starts from the position's time
    assert s.lon_deg[0] > 7.0


def test_older_report_never_overwrites_newer() -> None:
    t = TrackTable()
    t.update(reports([{"timestamp": 200.0, "icao24": "a", "latitude": 46.0, "longitude": 7.0, "altitude": 1000}]))
    t.update(reports([{"timestamp": 150.0, "icao24": "a", "latitude": 10.0, "longitude": 7.0, "altitude": 1000}]))
    assert t.column("latitude")[0] == 46.0


def test_expired_slot_reused_without_stale_state() -> None:
    t = TrackTable()
    t.update(reports([
        {"timestamp": 0.0, "icao24": "old", "latitude": 45.0, "longitude": 7.0, "altitude": 30000,
         "groundspeed": 300.0, "track": 10.0, "squawk": "7700"},
        {"timestamp": 500.0, "icao24": "live", "latitude": 46.0, "longitude": 8.0, "altitude": 20000},
    ]))
    assert t.expire(500.0, coast_s=60.0) == 1
    assert len(t) == 1
    # A new aircraft that only sent a position must not inherit the expired one's state.
    t.update(reports([{"timestamp": 501.0, "icao24": "new", "latitude": 47.0, "longitude": 9.0, "altitude": 10000}]))
    k = list(t.ids).index("new")
    assert np.isnan(t.column("groundspeed")[k]) and np.isnan(t.column("track")[k])
    assert t.column("squawk")[k] == ""
    assert t.column("t_report_s")[k] == 501.0
    s = t.snapshot(501.0)
    assert sorted(s.id) == ["live", "new"]
