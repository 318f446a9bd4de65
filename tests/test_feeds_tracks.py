"""Track building at the feed: motion derived where a source lacks it, merged latest state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.ingest.feeds import TrackBuilder, open_feed
from sharedsky.ingest.schema import normalise

T0 = 1_700_000_000.0


def _positions(n: int = 30, gs_kt: float = 420.0, vs_fpm: float = 1200.0, dt_s: float = 2.0) -> pd.DataFrame:
    """Positions only (as SBS MSG,3 or radar plots): north-east at 420 kt, climbing."""
    t = T0 + np.arange(n) * dt_s
    d_nm = gs_kt * (t - T0) / 3600.0
    lat = 45.0 + d_nm * np.cos(np.radians(45.0)) / 60.0
    lon = 7.0 + d_nm * np.sin(np.radians(45.0)) / (60.0 * np.cos(np.radians(45.0)))
    return normalise(pd.DataFrame({"timestamp": t, "icao24": "abc123", "latitude": lat, "longitude": lon,
                                   "altitude": 20000.0 + vs_fpm * (t - T0) / 60.0}))


def test_motion_is_derived_from_positions() -> None:
    tb = TrackBuilder()
    df = _positions()
    out = pd.concat([tb.update(df.iloc[i : i + 8]) for i in range(0, len(df), 8)])
    assert np.isnan(out["groundspeed"].iloc[0])  # nothing to derive from yet
    assert out["groundspeed"].iloc[1:].to_numpy() == pytest.approx(420.0, rel=0.01)
    assert out["track"].iloc[1:].to_numpy() == pytest.approx(45.0, abs=0.5)
    assert out["vertical_rate"].iloc[1:].to_numpy() == pytest.approx(1200.0, rel=1e-6)
    st = tb.states(T0 + 100)
    row = st.set_index("icao24").loc["abc123"]
    assert row["age_s"] == pytest.approx(100 - 58) and row["groundspeed"] == pytest.approx(420.0, rel=0.01)


def test_reported_velocity_is_kept() -> None:
    df = _positions().assign(groundspeed=400.0, track=40.0, vertical_rate=0.0)
    df.loc[5, ["groundspeed", "track", "vertical_rate"]] = np.nan  # one position without
    out = TrackBuilder().update(df)
    assert out["groundspeed"].isna().sum() == 1 and (out["groundspeed"].dropna() == 400.0).all()
    assert out["track"].dropna().eq(40.0).all()


def test_sbs_positions_only_get_speed_through_open_feed(tmp_path: Path) -> None:
    df = _positions(10)
    lines = [
        f"MSG,3,1,1,ABC123,1,{ts:%Y/%m/%d},{ts:%H:%M:%S.%f},{ts:%Y/%m/%d},{ts:%H:%M:%S.%f},,{alt:.0f},,,"
        f"{lat:.6f},{lon:.6f},,,0,0,0,0"
        for ts, lat, lon, alt in zip(df["timestamp"], df["latitude"], df["longitude"], df["altitude"], strict=True)
    ]
    p = tmp_path / "plots.sbs"
    p.write_text("\n".join(lines) + "\n")
    feed = open_feed(str(p))
    out = pd.concat(list(feed))
    assert out["groundspeed"].iloc[1:].to_numpy() == pytest.approx(420.0, rel=0.01)
    assert feed.tracks is not None and feed.tracks.derived == 9
    raw = pd.concat(list(open_feed(str(p), derive=False)))
    assert raw["groundspeed"].isna().all()


def test_frames_merge_into_one_state_per_aircraft(shared_data: Path) -> None:
    feed = open_feed(str(shared_data / "adsb" / "sample_dump1090.bin"), start_s=T0)
    list(feed)
    assert feed.tracks is not None
    st = feed.tracks.states().set_index("icao24")
    assert set(st.index) == {"3981e4", "44ce69", "48520a", "440062"}
    a = st.loc["48520a"]
    # position, altitude, velocity and squawk arrived in different messages
    assert np.isfinite(a["latitude"]) and a["altitude"] == 38000.0
    assert np.isfinite(a["groundspeed"]) and a["squawk"] == "5516"
    assert a["source"] == "sample_dump1090.bin" and a["age_s"] >= 0
    assert feed.tracks.expire(T0 + 3600, 60.0) == 4


def test_a_jump_gives_no_derived_speed() -> None:
    df = _positions(6)
    df.loc[3, "latitude"] += 1.0  # 60 NM in 2 s
    out = TrackBuilder().update(df)
    assert np.isnan(out["groundspeed"].iloc[3]) and np.isnan(out["groundspeed"].iloc[4])
    assert out["groundspeed"].iloc[2] == pytest.approx(420.0, rel=0.01)


def _taxi(tmp_path: Path, with_position_time: bool) -> Path:
    """An OpenSky-style recording of an aircraft taxiing east at 15 kt, without velocity.

    One row per second (the time of the state vector), but the position is updated only
    every 55 s; in between, each row repeats the last position. With `with_position_time`
    the rows carry `last_position` (epoch ms, as OpenSky gives it); without, only the
    repeated position itself says it is stale.
    """
    t = T0 + np.arange(180.0)
    pos_t = T0 + np.floor(np.arange(180.0) / 55.0) * 55.0  # the time of the position each row holds
    lon = 8.55 + 15.0 * (pos_t - T0) / 3600.0 / (60.0 * np.cos(np.radians(47.45)))
    rows = pd.DataFrame({"timestamp": (t * 1000).astype(np.int64), "icao24": "4b1805", "callsign": "SWR1",
                         "latitude": 47.45, "longitude": lon, "altitude": 1400.0, "onground": False})
    if with_position_time:
        rows["last_position"] = (pos_t * 1000).astype(np.int64)
    p = tmp_path / "taxi.json"
    rows.to_json(p, orient="records")
    return p


@pytest.mark.parametrize("with_position_time", [True, False])
def test_motion_is_derived_between_position_times_not_row_times(tmp_path: Path, with_position_time: bool) -> None:
    """Issue 11, defect 6: a taxiing aircraft got 830 kt and 883 kt from `convert`.

    Its position moved every 55 s; the old builder divided each move by the 1 s between
    two rows (15 kt x 55 = 825 kt). Motion is derived between positions with their own
    times: `last_position` when given, else the first row that showed the position.
    """
    out = pd.concat(list(open_feed(str(_taxi(tmp_path, with_position_time)))), ignore_index=True)
    gs = out["groundspeed"].to_numpy()
    moved = np.flatnonzero(np.diff(out["longitude"].to_numpy()) != 0) + 1  # rows with a new position
    assert moved.tolist() == [55, 110, 165]
    assert gs[moved] == pytest.approx(15.0, rel=0.01)
    assert out["track"].to_numpy()[moved] == pytest.approx(90.0, abs=0.5)
    # never across a stale repeat: rows repeating a position get no speed of their own
    assert np.isnan(np.delete(gs, moved)).all()
    assert np.nanmax(gs) < 16.0
    # the vertical rate of a constant altitude is 0, whatever the rows
    assert np.nanmax(np.abs(out["vertical_rate"].to_numpy())) == 0.0
