"""Issue 11, defect 8: steps that see one aircraft alone are merged in one move, and the
replay says exactly what it says stepping through each of them.

The recording is built here: aircraft A flies alone for 20 min, with a 40 s hole in its
altitude reports (counted `altitude unknown`); B joins and closes head-on with A (a
conflict and a loss of separation); B lands; A flies alone again, then squawks 7700 (a
distress episode while alone), then 1200 again; C appears for a minute far away; the
recording then has a 2-day gap and A flies again alone. Replayed twice: as `sharedsky
replay` does, and with a step callback (which makes replay assess every step): the same
events, the same summary but for the count of merged steps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.alerting.step import Assessment
from sharedsky.engine.separation import Minima
from sharedsky.replay.run import ReplaySummary, replay

from conftest import REPO

LEVELS = [Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)]
T0 = 1_700_000_000.0


def _track(icao: str, t: np.ndarray, lat: np.ndarray, lon: np.ndarray, alt: np.ndarray, trk: float,
           squawk: np.ndarray | str = "1200") -> pd.DataFrame:
    return pd.DataFrame({"timestamp": pd.to_datetime(T0 + t, unit="s", utc=True), "icao24": icao,
                         "callsign": icao.upper(), "latitude": lat, "longitude": lon, "altitude": alt,
                         "groundspeed": 420.0, "track": trk, "vertical_rate": 0.0, "squawk": squawk})


def recording() -> pd.DataFrame:
    deg_per_s = 420.0 / 3600.0 / 60.0
    t_a = np.arange(0.0, 3600.0)
    lon_a = 8.0 + t_a * deg_per_s / np.cos(np.radians(47.0))
    alt_a = np.full(t_a.shape, 35000.0)
    alt_a[(t_a >= 300) & (t_a < 340)] = np.nan  # 40 s without altitude (max age 20 s)
    sq = np.full(t_a.shape, "1200", dtype=object)
    sq[(t_a >= 2400) & (t_a < 2460)] = "7700"
    a = _track("a0a0a0", t_a, np.full(t_a.shape, 47.0), lon_a, alt_a, 90.0, sq)
    # B from 1,200 s to 1,800 s, head-on with A at the same level
    t_b = np.arange(1200.0, 1800.0)
    meet = 1500.0
    lon_meet = 8.0 + meet * deg_per_s / np.cos(np.radians(47.0))
    lon_b = lon_meet + (meet - t_b) * deg_per_s / np.cos(np.radians(47.0))
    b = _track("b0b0b0", t_b, np.full(t_b.shape, 47.002), lon_b, np.full(t_b.shape, 35000.0), 270.0)
    t_c = np.arange(3000.0, 3060.0)
    c = _track("c0c0c0", t_c, np.full(t_c.shape, 40.0), np.full(t_c.shape, 2.0), np.full(t_c.shape, 30000.0), 0.0)
    t_a2 = np.arange(2 * 86400.0, 2 * 86400.0 + 1800.0)
    a2 = _track("a0a0a0", t_a2, np.full(t_a2.shape, 47.5), 8.0 + (t_a2 - t_a2[0]) * deg_per_s, np.full(t_a2.shape, 33000.0),
                90.0)
    return pd.concat([a, b, c, a2], ignore_index=True).sort_values("timestamp", kind="stable").reset_index(drop=True)


def _run(df: pd.DataFrame, every_step: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    summary = ReplaySummary()
    opts: dict[str, Any] = {"on_step": (lambda snap: None)} if every_step else {}
    events = list(replay(df, Assessment.for_agreement(None, levels=LEVELS), ("all",),
                         np.zeros(len(df), dtype=np.int32), summary=summary, **opts))
    return events, summary.as_dict()


def test_merged_steps_say_what_each_step_says() -> None:
    df = recording()
    merged, s_merged = _run(df, every_step=False)
    stepped, s_stepped = _run(df, every_step=True)
    kinds = {(e["kind"], e["state"]) for e in stepped}
    assert {("conflict", "new"), ("loss_of_separation", "start"), ("distress", "start"), ("distress", "end")} <= kinds
    assert merged == stepped
    assert s_stepped["aircraft_altitude_unknown"] == 1 and s_stepped["max_aircraft_at_once"] == 2
    assert s_stepped.pop("steps_alone") == 0
    alone = s_merged.pop("steps_alone")
    assert s_merged == s_stepped
    # most of A's lone hour and all of its second flight are merged
    assert alone > 2500 + 1700
    assert s_merged["steps"] > alone


def test_cli_month_of_one_aircraft_merges_its_flights(tmp_path) -> None:  # noqa: ANN001
    """`replay` of three flights of one aircraft over ten days: every step but a few per
    flight merged, none left out of the count."""
    t0 = 1_600_000_000
    frames = []
    for day in (0, 4, 9):
        s = np.arange(3600)
        frames.append(pd.DataFrame({"timestamp": (t0 + day * 86400 + s) * 1000, "icao24": "4b1801",
                                    "callsign": "SWR100", "latitude": 47.0,
                                    "longitude": 2.0 + s * 450 / 3600 / 60 / np.cos(np.radians(47)),
                                    "altitude": 35000.0, "groundspeed": 450.0, "track": 90.0,
                                    "vertical_rate": 0.0}))
    path = tmp_path / "month.json.gz"
    pd.concat(frames, ignore_index=True).to_json(path, orient="records", compression="gzip")
    r = subprocess.run([sys.executable, "-m", "sharedsky.cli", "replay", str(path), "--all-pairs", "--summary-only"],
                       capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.splitlines()[-1])
    assert s["steps"] == 3 * 3600 + 2 * 20  # each flight's steps and the 20 s it stays in the picture
    assert s["steps"] - s["steps_alone"] <= 3 * 3
    assert s["max_aircraft_at_once"] == 1
