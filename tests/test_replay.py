"""`sharedsky replay` on the real Swiss recording: lifecycle, formats, summary."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sharedsky.ingest.feeds.recordings import read_recording
from sharedsky.ingest.schema import epoch_s

from conftest import run_cli


def events_of(stdout: str) -> tuple[list[dict], dict]:
    lines = [json.loads(x) for x in stdout.splitlines()]
    assert lines[-1]["kind"] == "summary"
    return lines[:-1], lines[-1]


def check_lifecycle(events: list[dict]) -> None:
    """Each conflict: one new, then updates, then one ended; never re-reported while open."""
    open_: dict[str, dict] = {}
    los_open: set[str] = set()
    last_t = -1.0
    for ev in events:
        assert ev["t"] >= last_t
        last_t = ev["t"]
        if ev["kind"] == "conflict":
            if ev["state"] == "new":
                assert ev["id"] not in open_
                assert not any((o["a"], o["b"]) == (ev["a"], ev["b"]) for o in open_.values())
                assert ev["a"] < ev["b"]
                open_[ev["id"]] = ev
            elif ev["state"] == "updated":
                assert ev["id"] in open_
            else:
                assert open_.pop(ev["id"])
        elif ev["kind"] == "loss_of_separation":
            if ev["state"] == "start":
                assert ev["id"] not in los_open
                los_open.add(ev["id"])
                assert ev["d_nm"] < 5.0 and ev["dz_ft"] < 1000.0
            else:
                los_open.remove(ev["id"])
                assert ev["min_d_nm"] < 5.0 and ev["min_dz_ft"] < 1000.0
                assert ev["end_t"] >= ev["start_t"]
    assert not open_ and not los_open


@pytest.fixture(scope="module")
def slice_df(shared_data: Path):
    df = read_recording(shared_data / "adsb" / "switzerland.json.gz")
    t = epoch_s(df["timestamp"])
    return df[(t >= t[0] + 2 * 3600) & (t < t[0] + 2.75 * 3600)]


def test_formats_give_identical_events(tmp_path: Path, slice_df) -> None:
    cols = ["timestamp", "icao24", "callsign", "latitude", "longitude", "altitude",
            "groundspeed", "track", "vertical_rate"]
    d = slice_df[cols].copy()
    d["timestamp"] = (epoch_s(d["timestamp"]) * 1000).round().astype("int64")
    rows = tmp_path / "rows.json.gz"
    with gzip.open(rows, "wt") as fh:
        json.dump(d.to_dict(orient="records"), fh)
    columns = tmp_path / "columns.json"
    columns.write_text(json.dumps({c: {str(k): v for k, v in enumerate(d[c].tolist())} for c in cols}))
    csv = tmp_path / "t.csv"
    d.to_csv(csv, index=False)
    parquet = tmp_path / "t.parquet"
    d.to_parquet(parquet)
    outs = []
    for p in (rows, columns, csv, parquet):
        r = run_cli("replay", str(p), "--all-pairs", "--no-gate")
        assert r.returncode == 0, r.stderr
        ev, summary = events_of(r.stdout)
        outs.append(ev)
        assert summary["reports"] == len(d)
    assert outs[0] == outs[1] == outs[2] == outs[3]
    assert any(e["kind"] == "conflict" for e in outs[0])
    check_lifecycle(outs[0])


def test_replay_minima_option_and_errors(tmp_path: Path, slice_df) -> None:
    p = tmp_path / "t.parquet"
    slice_df.drop(columns=["source"]).to_parquet(p)
    wide = events_of(run_cli("replay", str(p), "--all-pairs", "--minima", "10,2000,300").stdout)[1]
    narrow = events_of(run_cli("replay", str(p), "--all-pairs", "--minima", "3,1000,120").stdout)[1]
    assert wide["events"]["conflict_new"] > narrow["events"].get("conflict_new", 0)
    r = run_cli("replay", str(p), "--minima", "5,x,300")
    assert r.returncode == 2 and "not a number" in r.stderr
    r = run_cli("replay", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "no such file" in r.stderr and r.stdout == ""
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,icao24\n1,abc\n")
    r = run_cli("replay", str(bad))
    assert r.returncode == 2 and "missing column(s) latitude" in r.stderr


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the shared Swiss day: about 2 min alone, more beside other tests
def test_replay_whole_swiss_recording(swiss_day: dict) -> None:
    r = swiss_day["all_pairs"]  # sharedsky replay switzerland.json.gz --all-pairs
    assert r.returncode == 0, r.stderr
    events, summary = events_of(r.stdout)
    # 842 aircraft in the recording; the gate holds out 3444ca, parked at Basel while its
    # transponder says FL310-FL394 at 135 kt (issue 11), so 841 reach the engine
    assert summary["aircraft"] == 841
    assert summary["reports_rejected"] == {"stationary": 117, "vertical_rate": 3}
    assert summary["steps"] > 61000
    n_new = sum(1 for e in events if e["kind"] == "conflict" and e["state"] == "new")
    n_los = sum(1 for e in events if e["kind"] == "loss_of_separation" and e["state"] == "start")
    assert n_new == summary["events"]["conflict_new"] > 100
    assert n_los == summary["losses_of_separation"] > 10
    check_lifecycle(events)
    assert "losses of separation" in r.stderr and "reports rejected" in r.stderr
