"""Every file format: hand-written SBS and AVR lines, OpenSky units, readsb JSON, traces,
traffic tables; format detection and clear errors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sharedsky.ingest.feeds import FeedError, FeedStats, open_feed
from sharedsky.ingest.feeds.avr import parse_avr_lines
from sharedsky.ingest.feeds.feed import Feed
from sharedsky.ingest.feeds.opensky import from_historical, from_rest
from sharedsky.ingest.feeds.recordings import RecordingError, read_recording
from sharedsky.ingest.feeds.sbs import parse_sbs_lines
from sharedsky.ingest.schema import REPORT_COLUMNS, epoch_s


def _read(path: Path, fmt: str | None = None, **kw: Any) -> tuple[pd.DataFrame, Feed]:
    feed = open_feed(str(path), fmt, **kw)
    batches = list(feed)
    return (pd.concat(batches, ignore_index=True) if batches else pd.DataFrame()), feed


SBS = """\
MSG,1,111,11111,4CA2D6,111111,2024/03/01,10:00:00.000,2024/03/01,10:00:00.000,RYR4BC ,,,,,,,,,,,0
MSG,3,111,11111,4CA2D6,111111,2024/03/01,10:00:01.500,2024/03/01,10:00:01.500,,37000,,,53.4213,-6.2701,,,0,0,0,0
MSG,4,111,11111,4CA2D6,111111,2024/03/01,10:00:02.000,2024/03/01,10:00:02.000,,,441,87.2,,,-128,,,,,0
MSG,6,111,11111,4CA2D6,111111,2024/03/01,10:00:03.000,2024/03/01,10:00:03.000,,,,,,,,7700,0,-1,0,0
MSG,3,111,11111,ZZZZZZ,111111,2024/03/01,10:00:03.000,2024/03/01,10:00:03.000,,37000,,,53.4,-6.2,,,0,0,0,0
MSG,3,111,11111,4CA2D6,111111,yesterday,noon,2024/03/01,10:00:03.000,,37000,,,53.4,-6.2,,,0,0,0,0
STA,,5,179,400AE7,10103,2008/11/28,14:58:51.153,2008/11/28,14:58:51.153,RM
not,a,line
"""


def test_sbs_lines(tmp_path: Path) -> None:
    p = tmp_path / "feed.sbs"
    p.write_text(SBS)
    out, feed = _read(p)
    assert list(out.columns) == list(REPORT_COLUMNS)
    assert out.shape[0] == 4 and set(out["icao24"]) == {"4ca2d6"}
    assert epoch_s(out["timestamp"])[1] == pytest.approx(pd.Timestamp("2024-03-01T10:00:01.5Z").timestamp())
    pos = out.dropna(subset=["latitude"]).iloc[0]
    assert (pos["latitude"], pos["longitude"], pos["altitude"]) == (53.4213, -6.2701, 37000.0)
    vel = out.dropna(subset=["groundspeed"]).iloc[0]
    assert (vel["groundspeed"], vel["track"], vel["vertical_rate"]) == (441.0, 87.2, -128.0)
    assert out["callsign"].iloc[0] == "RYR4BC"
    sq = out[out["squawk"] != ""].iloc[0]
    assert sq["squawk"] == "7700" and sq["emergency"] == "emergency"
    rej = feed.rejected()
    assert rej == {"sbs_bad_address": 1, "sbs_bad_time": 1, "sbs_not_msg": 1, "sbs_bad_line": 1}


def test_avr_lines(tmp_path: Path) -> None:
    lines = [
        "*8d4840d6202cc371c32ce0576098;",  # identification KLM1023
        "@0000000000008d40621d58c382d690c8ac2863a7;",  # even position, MLAT clock 0
        "@000000BEBC208d40621d58c386435cc412692ad6;",  # odd position, 1 s later (12e6 ticks)
        "*8d485020994409940838175b284f;",  # velocity
        "*zz;",
        "*8d4840d6;",
        "",
    ]
    p = tmp_path / "feed.avr"
    p.write_text("\n".join(lines))
    out, feed = _read(p, start_s=1_600_000_000.0)
    assert "KLM1023" in set(out["callsign"])
    pos = out.dropna(subset=["latitude"])
    assert pos.shape[0] == 1  # the pair decodes the second (odd) message
    assert pos["latitude"].iloc[0] == pytest.approx(52.26578, abs=1e-4)
    assert pos["longitude"].iloc[0] == pytest.approx(3.93894, abs=1e-4)
    assert pos["altitude"].iloc[0] == 38000.0
    assert epoch_s(pos["timestamp"])[0] == pytest.approx(1_600_000_001.0)
    vel = out.dropna(subset=["groundspeed"]).iloc[0]
    assert vel["groundspeed"] == pytest.approx(159.2, abs=0.1) and vel["vertical_rate"] == -832
    assert feed.rejected()["avr_bad_line"] == 2


def test_avr_parser_counts_bad_lines() -> None:
    st = FeedStats()
    frames, mlat = parse_avr_lines(["*8D4840D6202CC371C32CE0576098;", "@12;", "hello", ";"], st)
    assert frames == ["8d4840d6202cc371c32ce0576098"] and mlat == [None]
    assert st.rejected["avr_bad_line"] == 3


def test_opensky_rest_units() -> None:
    doc = {"time": 1_700_000_010, "states": [
        ["3c6444", "DLH9U   ", "Germany", 1_700_000_005, 1_700_000_009, 8.6, 50.1, 10000.0, False,
         200.0, 271.3, -5.08, None, 10050.0, "1000", False, 0],
        ["abcdef", None, "X", None, 1_700_000_009, None, None, None, True, 5.0, None, None, None, None, None, False, 0],
        "junk",
    ]}
    out = from_rest(doc)
    a = out.set_index("icao24").loc["3c6444"]
    assert a["altitude"] == pytest.approx(32808.4, abs=0.1)  # 10,000 m
    assert a["groundspeed"] == pytest.approx(388.77, abs=0.01)  # 200 m/s
    assert a["vertical_rate"] == pytest.approx(-1000.0, abs=0.1)  # -5.08 m/s
    assert a["callsign"] == "DLH9U" and a["track"] == 271.3
    assert epoch_s(out["timestamp"]).tolist() == [1_700_000_005.0, 1_700_000_009.0]  # position time
    assert bool(out.set_index("icao24").loc["abcdef", "onground"])
    with pytest.raises(FeedError, match="states"):
        from_rest({"states": "nope"})


def test_opensky_historical_csv(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "time": [1_700_000_000, 1_700_000_010], "icao24": ["3C6444", "3c6444"], "lat": [50.0, 50.01],
        "lon": [8.0, 8.01], "velocity": [100.0, 100.0], "heading": [45.0, 45.0], "vertrate": [0.0, 10.16],
        "callsign": ["DLH9U", "DLH9U"], "onground": [False, False], "squawk": ["1000", "0400"],
        "baroaltitude": [3048.0, 3048.0], "geoaltitude": [3100.0, 3100.0],
    })
    p = tmp_path / "states.csv"
    df.to_csv(p, index=False)
    out, _ = _read(p)
    assert out["altitude"].tolist() == pytest.approx([10000.0, 10000.0])
    assert out["groundspeed"].tolist() == pytest.approx([194.384, 194.384], abs=1e-3)
    assert out["vertical_rate"].tolist() == pytest.approx([0.0, 2000.0])
    assert set(out["icao24"]) == {"3c6444"} and out["squawk"].tolist() == ["1000", "0400"]
    with pytest.raises(FeedError, match="baroaltitude"):
        from_historical(df.drop(columns="baroaltitude"))


def test_readsb_aircraft_json_and_trace_files(tmp_path: Path) -> None:
    doc = {"now": 1_700_000_000.0, "aircraft": [
        {"hex": "3c6444", "flight": "DLH9U", "alt_baro": 37000, "gs": 450, "track": 90, "baro_rate": 0,
         "lat": 50.0, "lon": 8.0, "seen_pos": 2.0, "seen": 0.5, "emergency": "none", "squawk": "1000",
         "nav_altitude_mcp": 37008, "nav_altitude_fms": 39000},
        {"hex": "4ca2d6", "alt_baro": "ground", "seen": 3.0, "emergency": "general", "nav_altitude_fms": 5000},
        "junk",
    ]}
    p = tmp_path / "aircraft.json"
    p.write_text(json.dumps(doc))
    out, feed = _read(p)
    a = out.set_index("icao24")
    assert epoch_s(out["timestamp"]).tolist() == [1_699_999_997.0, 1_699_999_998.0]
    assert a.loc["3c6444", "latitude"] == 50.0 and a.loc["3c6444", "emergency"] == ""
    assert bool(a.loc["4ca2d6", "onground"]) and a.loc["4ca2d6", "emergency"] == "general"
    # the level selected: the MCP/FCU's, else the FMS's
    assert a["selected_altitude"].to_dict() == {"3c6444": 37008.0, "4ca2d6": 5000.0}
    assert feed.rejected() == {"readsb_bad_entry": 1}
    trace = {"icao": "3C6444", "timestamp": 1_700_000_000.0, "trace": [
        [0.0, 50.0, 8.0, 37000, 450.0, 90.0, 0, 0, {"flight": "DLH9U ", "squawk": "1000"}],
        [5.0, 50.0, 8.01, "ground", 10.0, 90.0, 0, None, None],
        [1, 2],
    ]}
    q = tmp_path / "trace_full_3c6444.json.gz"
    with gzip.open(q, "wt") as fh:
        json.dump(trace, fh)
    out, feed = _read(q)
    assert out.shape[0] == 2 and out["callsign"].iloc[0] == "DLH9U" and bool(out["onground"].iloc[1])
    assert np.isnan(out["altitude"].iloc[1]) and feed.rejected() == {"trace_bad_point": 1}


def test_traffic_tables_round_trip(shared_data: Path, tmp_path: Path) -> None:
    src = read_recording(shared_data / "adsb" / "inflight_refuelling.json.gz")
    for name in ("r.csv", "r.parquet"):
        p = tmp_path / name
        (src.to_csv(p, index=False) if name.endswith("csv") else src.to_parquet(p))
        out, _ = _read(p, batch_rows=4000)
        assert out.shape[0] == src.shape[0]
        assert np.allclose(out["latitude"], src["latitude"], equal_nan=True)
        assert (out["timestamp"].diff().dropna() >= pd.Timedelta(0)).all()
    # JSON lines of records (no frames) read as reports too
    p = tmp_path / "r.jsonl"
    p.write_text('{"timestamp": 1700000000, "icao24": "ABC123", "latitude": 1.5, "longitude": 2.5, "altitude": 100,'
                 ' "selected_mcp": 3000}\n')
    out, _ = _read(p)
    assert out["icao24"].tolist() == ["abc123"] and out["latitude"].tolist() == [1.5]
    assert out["selected_altitude"].tolist() == [3000.0]  # the traffic library's BDS 4,0 name


def test_clear_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(FeedError, match="nope.bin: no such file"):
        open_feed(str(tmp_path / "nope.bin"))
    odd = tmp_path / "traffic.xyz"
    odd.write_text("x")
    with pytest.raises(FeedError, match="traffic.xyz.*--format"):
        open_feed(str(odd))
    with pytest.raises(FeedError, match="unknown feed format 'mp3'"):
        open_feed(str(odd), "mp3")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(FeedError, match="bad.json: cannot read as json"):
        list(open_feed(str(bad)))
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("a,b\n1,2\n")
    with pytest.raises(FeedError, match="nocols.csv: missing column"):
        list(open_feed(str(nocols)))
    with pytest.raises(RecordingError, match="nope.jsonl"):
        read_recording(tmp_path / "nope.jsonl")


def test_sbs_parser_without_times_uses_the_arrival_time() -> None:
    st = FeedStats()
    out = parse_sbs_lines(["MSG,3,,,ABCDEF,,,,,,,1000,,,1.0,2.0,,,,,,"], st, now_s=1_700_000_000.0)
    assert epoch_s(out["timestamp"]).tolist() == [1_700_000_000.0] and out["altitude"].tolist() == [1000.0]
