"""The one assessment step: every mode runs it, and it alone calls the separation engine."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

from sharedsky.agreement import load_agreement
from sharedsky.alerting.step import Assessment
from sharedsky.engine.separation import Minima, detect
from sharedsky.ingest.snapshot import Snapshot
from sharedsky.replay.run import replay

from conftest import REPO

SRC = REPO / "src" / "sharedsky"
LEVELS = [Minima.uniform(1, 5.0, 1000.0, 300.0, same_party=True)]


def _calls(path: Path, name: str) -> int:
    tree = ast.parse(path.read_text(), filename=str(path))
    return sum(
        isinstance(n, ast.Call) and (
            (isinstance(n.func, ast.Name) and n.func.id == name)
            or (isinstance(n.func, ast.Attribute) and n.func.attr == name))
        for n in ast.walk(tree)
    )


def test_detect_is_called_from_the_assessment_step_alone() -> None:
    callers = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                     if "engine" not in p.relative_to(SRC).parts and _calls(p, "detect"))
    assert callers == ["alerting/step.py"]


def test_package_inits_hold_no_logic() -> None:
    for init in SRC.rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        for node in tree.body:
            ok = isinstance(node, ast.Import | ast.ImportFrom) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) or (
                isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] in (["__all__"], ["__version__"]))
            assert ok, f"{init.relative_to(SRC)}:{node.lineno}: logic in a package __init__"


def _snap(t: float, squawk: list[str], emergency: list[str] | None = None) -> Snapshot:
    n = len(squawk)
    return Snapshot(
        t_s=t, id=np.array([f"a0000{i}" for i in range(n)]), party=np.zeros(n, np.int32),
        lat_deg=np.linspace(34.0, 35.0, n), lon_deg=np.full(n, 36.0), alt_ft=np.full(n, 20000.0),
        track_deg=np.zeros(n), gs_kt=np.full(n, 300.0), vs_fpm=np.zeros(n),
        last_report_s=np.full(n, t), parties=("all",), callsign=np.array(["C"] * n),
        squawk=np.array(squawk), emergency=None if emergency is None else np.array(emergency),
    )


def test_distress_episodes_from_squawk_and_emergency_status() -> None:
    agr = load_agreement(REPO / "examples" / "syria-2015.toml")
    step = Assessment.for_agreement(agr, levels=LEVELS, airspace=False)
    evs = step.step(_snap(0.0, ["7700", "1000"], ["", "none"])).events
    assert [(e["kind"], e["state"], e["icao24"]) for e in evs] == [("distress", "start", "a00000")]
    assert evs[0]["frequencies_mhz"] == list(agr.channels.distress_mhz) and evs[0]["auto"] is True
    assert "7700" in evs[0]["nature"]
    # still squawking: no new call; the other declares an emergency by ADS-B status
    evs = step.step(_snap(1.0, ["7700", "1000"], ["", "general"])).events
    assert [(e["state"], e["icao24"]) for e in evs] == [("start", "a00001")]
    assert "general" in evs[0]["nature"]
    # both recover: each episode ends once
    evs = step.step(_snap(2.0, ["1000", "1000"], ["", ""])).events
    assert sorted((e["state"], e["icao24"]) for e in evs) == [("end", "a00000"), ("end", "a00001")]
    assert step.step(_snap(3.0, ["1000", "1000"])).events == []


def test_replay_raises_distress_like_the_service() -> None:
    t0 = 1_500_000_000
    rows = [{"timestamp": pd.Timestamp(t0 + s, unit="s", tz="UTC"), "icao24": "abc123", "callsign": "MEDEVAC1",
             "latitude": 47.0, "longitude": 8.0 + s * 0.001, "altitude": 12000.0,
             "groundspeed": 250.0, "track": 90.0, "vertical_rate": 0.0,
             "squawk": "7700" if 10 <= s < 40 else "7000"} for s in range(60)]
    df = pd.DataFrame(rows)
    step = Assessment.for_agreement(None, levels=LEVELS)
    events = list(replay(df, step, ("all",), np.zeros(len(df), np.int32)))
    distress = [(e["state"], e["time"]) for e in events if e["kind"] == "distress"]
    assert distress == [("start", "2017-07-14T02:40:10+00:00"), ("end", "2017-07-14T02:40:40+00:00")]


def test_step_conflicts_are_the_engines() -> None:
    rng = np.random.default_rng(5)
    n = 300
    s = Snapshot(
        t_s=0.0, id=np.array([f"{i:06x}" for i in range(n)]), party=np.zeros(n, np.int32),
        lat_deg=rng.uniform(45, 47, n), lon_deg=rng.uniform(6, 9, n), alt_ft=rng.choice([33000.0, 34000.0, 35000.0], n),
        track_deg=rng.uniform(0, 360, n), gs_kt=rng.uniform(300, 480, n), vs_fpm=np.zeros(n),
        last_report_s=np.zeros(n), parties=("all",),
    )
    got = Assessment(LEVELS).step(s)
    want = detect(s, LEVELS)
    assert len(want) > 0
    assert np.array_equal(got.conflicts.a, want.a) and np.array_equal(got.conflicts.b, want.b)
    assert sum(e["kind"] == "conflict" and e["state"] == "new" for e in got.events) == len(want)
