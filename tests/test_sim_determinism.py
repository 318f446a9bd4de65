"""Determinism: the same seed gives byte-identical recordings; another seed another day."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from sharedsky.agreement import load_agreement
from sharedsky.sim.run import SimResult, run_scenario, write_recording
from sharedsky.sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
FORMATS = ("recording.json", "recording.json.gz", "recording.parquet", "recording.csv.gz")


def _run(seed: int) -> SimResult:
    scn = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    agr = load_agreement(REPO / "examples/syria-2015.toml")
    return run_scenario(scn, agr, hours=0.5, seed=seed, record_every_s=2.0)


@pytest.fixture(scope="module")
def runs() -> dict[str, SimResult]:
    return {"a": _run(7), "b": _run(7), "c": _run(8)}


def _digests(traffic: pd.DataFrame, tmp: Path) -> dict[str, str]:
    tmp.mkdir(parents=True, exist_ok=True)
    return {name: hashlib.sha256(write_recording(traffic, tmp / name).read_bytes()).hexdigest()
            for name in FORMATS}


def test_same_seed_same_bytes(runs: dict[str, SimResult], tmp_path: Path) -> None:
    da = _digests(runs["a"].traffic, tmp_path / "a")
    db = _digests(runs["b"].traffic, tmp_path / "b")
    assert da == db
    # The engine's view is as deterministic as the traffic: same events, same metrics.
    assert runs["a"].events == runs["b"].events
    strip = lambda m: {k: v for k, v in m.items() if k != "performance"}  # noqa: E731
    assert strip(runs["a"].metrics) == strip(runs["b"].metrics)


def test_different_seed_different_day(runs: dict[str, SimResult], tmp_path: Path) -> None:
    da = _digests(runs["a"].traffic, tmp_path / "a")
    dc = _digests(runs["c"].traffic, tmp_path / "c")
    assert all(da[k] != dc[k] for k in FORMATS)
    a, c = runs["a"].traffic, runs["c"].traffic
    # The scripted start of the day is the same; the random sorties are not.
    assert set(a.mission) & set(c.mission) >= {"demo-crossing-coalition", "jabal-turkman-orbit"}
    assert len(a) != len(c) or not a.equals(c)


def test_recording_formats_read_back(runs: dict[str, SimResult], tmp_path: Path) -> None:
    from sharedsky.ingest.feeds.recordings import read_recording

    traffic = runs["a"].traffic
    assert len(traffic) > 100
    for name in FORMATS:
        back = read_recording(write_recording(traffic, tmp_path / name))
        assert len(back) == len(traffic), name
        assert back.icao24.nunique() == traffic.icao24.nunique()
        assert abs(back.latitude.sum() - traffic.latitude.sum()) < 1e-3
        assert back.timestamp.min() == pd.Timestamp("2015-10-20T04:00:00Z")
    with pytest.raises(ValueError, match="unknown recording format"):
        write_recording(traffic, tmp_path / "r.txt")
