"""Well clear in replay and simulate (issue 12, Build 5: "replay and simulate report them"):
`wellclear` events printed like every other event and counted in the summary / metrics."""

from __future__ import annotations

import json
from pathlib import Path

from test_wellclear_step import _agreement

from conftest import REPO, run_cli


def test_replay_prints_and_counts_wellclear(tmp_path: Path) -> None:
    """A recorded head-on encounter (blue 1000xx northbound, red a000xx southbound), replayed
    with an agreement giving blue/red DO-365B: each aircraft's wellclear events are printed
    (party named, bands once corrective) and counted in the summary."""
    t0 = 1_700_000_000_000
    rows = []
    for s in range(0, 25):
        d = 400.0 * s / 3600.0 / 60.0
        for icao, cs, lat, trk in (("100001", "BLU1", 34.0 + d, 0.0), ("a00002", "RED2", 34.0 + 16 / 60 - d, 180.0)):
            rows.append({"timestamp": t0 + s * 1000, "icao24": icao, "callsign": cs, "latitude": lat,
                         "longitude": 36.0 if icao == "100001" else 36.006, "altitude": 20000.0,
                         "groundspeed": 400.0, "track": trk, "vertical_rate": 0.0})
    rec = tmp_path / "rec.json"
    rec.write_text(json.dumps(rows))
    agr = tmp_path / "a.toml"
    agr.write_text(_agreement(("blue", "red")))
    r = run_cli("replay", str(rec), "--agreement", str(agr))
    assert r.returncode == 0, r.stderr
    out = [json.loads(line) for line in r.stdout.splitlines()]
    wc = [e for e in out if e["kind"] == "wellclear"]
    assert {e["icao24"]: e["party"] for e in wc} == {"100001": "blue", "a00002": "red"}
    assert all(e["time"] for e in wc) and any(e["bands"] for e in wc)
    summary = out[-1]
    assert summary["kind"] == "summary"
    assert summary["events"]["wellclear_new"] == 2
    assert summary["events"]["wellclear_ended"] == 2
    assert summary["wellclear"]["alerts"] == 2 and summary["wellclear"]["aircraft"] == 2
    assert summary["wellclear"]["corrective_alerts"] == 2
    assert "2 well-clear alerts to 2 aircraft (2 corrective" in r.stderr


def test_simulate_reports_wellclear(tmp_path: Path) -> None:
    """The Syria 2015 day's first three minutes (its coalition/Russian crossing over Idlib)
    under the example agreement with DO-365B added for that pair, without advisories (flown,
    they now keep the crossing out of the volumes): the wellclear events are in events.jsonl,
    counted in metrics.json and printed. (Bands in events: test_wellclear_step.py.)"""
    text = (REPO / "examples" / "syria-2015.toml").read_text()
    at = text.index('[[minima]]\nparties = ["coalition", "russia"]')
    at = text.index("t_s = 120\n", at) + len("t_s = 120\n")
    agr = tmp_path / "syria-wc.toml"
    agr.write_text(text[:at] + "[minima.wellclear]\n" + text[at:])
    r = run_cli("simulate", str(REPO / "examples" / "syria-2015.scenario.toml"), "--agreement", str(agr),
                "--hours", "0.05", "--seed", "1", "--out", str(tmp_path / "o"), "--no-plots", "--no-resolution")
    assert r.returncode == 0, r.stderr
    events = [json.loads(x) for x in (tmp_path / "o" / "events.jsonl").read_text().splitlines()]
    wc = [e for e in events if e["kind"] == "wellclear"]
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    m = metrics["wellclear"]
    assert m["alerts"] == sum(e["state"] == "new" for e in wc) >= 1
    assert m["updates"] == sum(e["state"] == "updated" for e in wc)
    assert {e["party"] for e in wc} <= {"coalition", "russia"}
    assert f"simulate: {m['alerts']} well-clear alerts to {m['aircraft']} aircraft" in r.stderr
