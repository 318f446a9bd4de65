"""The report table: codes that CSV readers turn into numbers come back as codes."""

import io

import pandas as pd

from sharedsky.ingest.schema import REPORT_COLUMNS, epoch_s, normalise


def test_csv_numbers_become_codes_again() -> None:
    df = pd.read_csv(io.StringIO(
        "timestamp,icao24,latitude,longitude,altitude,squawk,callsign\n"
        "1533101250000,123,45,7,30000,7700,\n"
        "1533101251000,004567,45,7,30000,,SWR1\n"
        "1533101252000,400001,45,7,30000,400,\n"
    ))
    n = normalise(df)
    assert list(n["icao24"]) == ["000123", "004567", "400001"]
    assert list(n["squawk"]) == ["7700", "", "0400"]
    assert list(n["callsign"]) == ["", "SWR1", ""]
    assert set(REPORT_COLUMNS) <= set(n.columns)
    assert epoch_s(n["timestamp"])[0] == 1533101250.0  # milliseconds recognised


def test_epoch_seconds_accepted() -> None:
    n = normalise(pd.DataFrame({"timestamp": [1533101250.5], "icao24": ["ABC123"]}))
    assert epoch_s(n["timestamp"])[0] == 1533101250.5
    assert n["icao24"][0] == "abc123"


def test_client_frames_send_epoch_seconds_whatever_the_input() -> None:
    import time

    from sharedsky.client import reports_from_frame

    now = time.time()
    for ts in ([now], [now * 1000.0], [pd.Timestamp(now, unit="s", tz="UTC")],
               [pd.Timestamp(now, unit="s", tz="UTC").isoformat()]):
        rec = reports_from_frame(pd.DataFrame({"timestamp": ts, "icao24": ["abc123"],
                                               "latitude": [45.0], "longitude": [float("nan")]}))
        assert abs(rec[0]["timestamp"] - now) < 1e-3
        assert "longitude" not in rec[0]  # NaN is not sent (JSON has none)
    rec = reports_from_frame(pd.DataFrame({"timestamp": [now], "icao24": ["abc123"], "selected_altitude": [24000.0]}))
    assert rec[0]["selected_altitude"] == 24000.0  # the level selected goes to the line too


def test_bad_timestamp_is_named() -> None:
    import pytest

    with pytest.raises(ValueError, match="timestamp: not a time: 'bad' \\(report 2\\)"):
        normalise(pd.DataFrame({"timestamp": ["2024-01-01T00:00:00Z", "bad"], "icao24": ["a", "b"]}))
