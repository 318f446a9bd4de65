"""The quality gate on real noisy/spoofed data and on hand-made cases, one per reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sharedsky.alerting.step import Assessment
from sharedsky.engine.separation import Minima
from sharedsky.ingest.feeds.recordings import read_recording
from sharedsky.ingest.quality import QualityGate, distance_nm
from sharedsky.ingest.schema import epoch_s, normalise
from sharedsky.replay.run import replay

from conftest import run_cli

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def noisy(shared_data: Path) -> pd.DataFrame:
    return read_recording(shared_data / "adsb" / "noisy_spoofing.json.gz")


def test_noisy_spoofing_impossible_jumps_are_rejected(noisy: pd.DataFrame) -> None:
    gate = QualityGate()
    out = gate.filter(noisy)
    print("noisy_spoofing rejected by reason:", dict(gate.rejected), "suspect:", sorted(gate.suspect))
    assert dict(gate.rejected) == {"altitude": 11, "speed": 12}
    assert gate.suspect == {"4baac6"}
    rej = gate.last_rejected
    # no rejected report is passed on
    assert out.index.intersection(rej.index).empty and len(out) + len(rej) == len(noisy)
    # the 298 NM jump after a 10 min gap (1,700 kt), the 16.6 NM jump in 25 s, and the
    # 134 NM jump from a position frozen for 14 min while ground speed reads 51 kt at FL380
    stamps = set(rej["timestamp"].astype(str))
    for stamp in ("09:58:11", "09:39:43", "09:24:25"):
        assert f"2024-09-17 {stamp}+00:00" in stamps
    # the 38,000 -> 37,000 -> 38,000 ft glitch (1,000 ft in 1 s) is rejected
    assert (rej.loc[rej["reason"] == "altitude", "altitude"] == 37000.0).any()
    # what passes is flyable: no step between accepted distinct positions above 1,000 kt
    pos = out.dropna(subset=["latitude"]).drop_duplicates(["latitude", "longitude"])
    t = pos["last_position"].to_numpy() / 1000.0
    d = distance_nm(pos["latitude"].to_numpy()[:-1], pos["longitude"].to_numpy()[:-1],
                    pos["latitude"].to_numpy()[1:], pos["longitude"].to_numpy()[1:])
    fast = d / np.maximum(np.diff(t), 1e-3) * 3600 > 1000
    # only the re-acquisition points of a suspect track may exceed it
    assert fast.sum() <= gate.reacquired


@pytest.mark.parametrize("chunk", [5, 17, 250, 100_000])
def test_batches_give_the_same_verdicts(noisy: pd.DataFrame, chunk: int) -> None:
    """Vectorised checks plus per-aircraft replay of failures = the one-by-one definition."""
    whole = QualityGate()
    ref = whole.filter(noisy).index
    gate = QualityGate()
    kept = [gate.filter(noisy.iloc[i : i + chunk]).index for i in range(0, len(noisy), chunk)]
    assert np.array_equal(np.concatenate(kept), ref.to_numpy())
    assert gate.rejected == whole.rejected


def _track(n: int = 20, gs_kt: float = 450.0, dt_s: float = 1.0, icao: str = "abc123") -> pd.DataFrame:
    """A straight eastbound track at FL350 along 45 N."""
    t = T0 + np.arange(n) * dt_s
    lon = 5.0 + gs_kt * (t - T0) / 3600.0 / (60.0 * np.cos(np.radians(45.0)))
    return normalise(pd.DataFrame({
        "timestamp": t, "icao24": icao, "latitude": 45.0, "longitude": lon, "altitude": 35000.0,
        "groundspeed": gs_kt, "track": 90.0, "vertical_rate": 0.0,
    }))


def test_clean_track_passes_untouched() -> None:
    df = pd.concat([_track(), _track(icao="def456")], ignore_index=True).sort_values("timestamp")
    gate = QualityGate()
    assert gate.filter(df).shape == df.shape and not gate.rejected and not gate.suspect


def test_each_reason() -> None:
    df = _track(30)
    df.loc[10, "latitude"] = 45.5  # 30 NM off: impossible speed
    df.loc[11, "latitude"] = 45.5  # the same spoofed position held: still rejected
    df.loc[12, ["latitude", "longitude"]] = [45.0, df.loc[12, "longitude"] + 3.0]  # 127 NM ahead
    df.loc[15, "altitude"] = 40000.0  # +5,000 ft in 1 s
    df.loc[18, "latitude"] = 95.0  # out of range
    # 1 NM to the north-west of the last position: a 135 deg turn in 2 s (row 20 vs row 19)
    df.loc[20, ["latitude", "longitude"]] = [df.loc[19, "latitude"] + 0.7 / 60, df.loc[19, "longitude"] - 1.0 / 60]
    dup = df.loc[[22]]  # the same report again
    back = df.loc[[5]].assign(latitude=45.001)  # an old time after newer reports
    df = pd.concat([df.iloc[:23], dup, back, df.iloc[23:]], ignore_index=True)
    gate = QualityGate()
    gate.filter(df)
    print(dict(gate.rejected))
    assert dict(gate.rejected) == {"speed": 3, "altitude": 1, "out_of_range": 1, "turn": 1, "duplicate": 1,
                                   "time_backwards": 1}
    assert set(gate.last_rejected.index) == {10, 11, 12, 15, 18, 20, 23, 24}
    assert not gate.suspect


def test_a_consistent_jump_is_reacquired_and_marked_suspect() -> None:
    df = _track(30)
    df.loc[10:, "latitude"] = 45.8  # moved 48 NM north and stays there
    gate = QualityGate(reacquire_n=5, suspect_after=3)
    out = gate.filter(df)
    assert gate.rejected["speed"] == 4 and gate.reacquired == 1
    assert gate.suspect == {"abc123"}
    assert out.index.tolist() == list(range(10)) + list(range(14, 30))


def test_stale_tracks_coast_then_end() -> None:
    df = _track(5, gs_kt=100.0)
    # 70 s later (beyond coast_s=60), without a speed, 12 NM away: too far for the last
    # reported 100 kt, possible for 1,000 kt; the old speed no longer bounds the move
    later = _track(1, gs_kt=100.0).assign(timestamp=pd.Timestamp((T0 + 74) * 1e9, tz="UTC"),
                                          longitude=5.0 + 12.0 / (60 * np.cos(np.radians(45))),
                                          groundspeed=np.nan)
    gate = QualityGate(coast_s=60.0)
    gate.filter(df)
    assert gate.filter(later).shape[0] == 1
    # within coast the same jump is rejected against the reported ground speed
    gate2 = QualityGate(coast_s=120.0)
    gate2.filter(df)
    assert gate2.filter(later).shape[0] == 0 and gate2.rejected["speed"] == 1
    assert gate.expire(T0 + 74 + 1801) == 1 and gate.summary()["tracked"] == 0


def test_settings_are_checked() -> None:
    with pytest.raises(TypeError, match="max_sped_kt"):
        QualityGate(max_sped_kt=5)
    assert QualityGate(max_speed_kt=600).config.max_speed_kt == 600.0


def test_a_rejected_position_raises_no_conflict(noisy: pd.DataFrame) -> None:
    """A spoofed run placing 4baac6 next to another aircraft: alerts only without the gate."""
    df = noisy.drop(columns="last_position").copy()
    # where positions are fresh (each of the last 10 reports moved): a spoofer's best chance
    moved = (df["longitude"].diff() != 0).rolling(10).sum().to_numpy()
    i = int(np.flatnonzero(moved[1000:] == 10)[0]) + 1001
    spoof = df.index[i : i + 3]
    df.loc[spoof, "longitude"] += 1.0  # 40 NM east at 47.4 N
    other = df.loc[spoof].copy()
    other["icao24"] = "ffffff"
    other["callsign"] = "OTHER"
    df = pd.concat([df, other]).sort_values("timestamp", kind="stable").reset_index(drop=True)
    party = (df["icao24"] == "ffffff").to_numpy().astype(np.int32)
    levels = [Minima.uniform(2, 5.0, 1000.0, 120.0)]

    def events(reports: pd.DataFrame, p: np.ndarray) -> list[dict]:
        return [e for e in replay(reports, Assessment(levels), ("a", "b"), p, step_s=1.0) if e["kind"] != "summary"]

    assert any(e["kind"] in ("conflict", "loss_of_separation") for e in events(df, party))
    gate = QualityGate()
    kept = gate.filter(df)
    spoofed = (df["icao24"] == "4baac6") & df["timestamp"].isin(noisy.loc[spoof, "timestamp"])
    assert set(gate.last_rejected.index) >= set(df.index[spoofed])
    assert gate.rejected["speed"] >= 12 + 3
    assert events(kept, party[kept.index.to_numpy()]) == []


def test_replay_cli_reports_the_gate_counts(shared_data: Path) -> None:
    res = run_cli("replay", str(shared_data / "adsb" / "noisy_spoofing.json.gz"), "--summary-only")
    assert res.returncode == 0, res.stderr
    assert "altitude 11" in res.stderr and "speed 12" in res.stderr and "1 suspect" in res.stderr
    print(res.stderr)


def test_timestamps_of_accepted_reports_never_go_backwards(noisy: pd.DataFrame) -> None:
    shuffled = noisy.sample(frac=1.0, random_state=1)
    gate = QualityGate()
    out = gate.filter(shuffled)
    t = epoch_s(out["timestamp"])
    assert (np.diff(t) >= 0).all() and gate.rejected["time_backwards"] > 1000
