"""The syria-2015 scenario under the syria-2015 agreement: the day's encounters show up
in the metrics, through the same engine (separation, conflict lifecycle, airspace watch)
as live data; the recording replays to the same events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sharedsky.agreement import load_agreement
from sharedsky.sim.run import Simulation, iter_report_batches
from sharedsky.sim.scenario import load_scenario

from conftest import run_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def syria() -> tuple[Simulation, dict]:
    """The first quarter hour without resolution advisories: the encounters as flown."""
    scn = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    agr = load_agreement(REPO / "examples/syria-2015.toml")
    sim = Simulation(scn, agr, hours=0.25, seed=1, resolution=False)
    res = sim.run()
    return sim, res.metrics


def test_advisories_followed_leave_no_coalition_russia_loss(syria: tuple[Simulation, dict]) -> None:
    """The same quarter hour, same seed, with the agreement's advisories flown (pilot delay
    5 s): the coalition/Russian losses of the run without them do not happen."""
    _, without = syria
    lost = without["losses_of_separation"]["by_pair"].get("coalition/russia", 0)
    assert lost >= 1
    scn = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    agr = load_agreement(REPO / "examples/syria-2015.toml")
    sim = Simulation(scn, agr, hours=0.25, seed=1)
    m = sim.run().metrics
    assert m["losses_of_separation"]["by_pair"].get("coalition/russia", 0) == 0
    parties = {e["party"] for e in sim.events if e["kind"] == "advisory" and e["state"] == "new"}
    assert {"coalition", "russia"} <= parties
    assert m["resolution"]["best_effort"] == 0


def test_attribution_by_the_agreement_matches_the_scenario(syria: tuple[Simulation, dict]) -> None:
    sim, m = syria
    assert m["attribution_mismatches"] == 0, m["attribution_mismatch_examples"]
    scn = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    agr = load_agreement(REPO / "examples/syria-2015.toml")
    full = Simulation(scn, agr, hours=24, seed=1, detection=False)
    assert full._n_mismatch == 0, full.attribution_mismatches
    assert len(full.plans) > 300


def test_coalition_russia_conflict_in_the_first_two_minutes(syria: tuple[Simulation, dict]) -> None:
    sim, m = syria
    pair = m["predicted_conflicts"]["by_pair"]["coalition/russia"]
    assert sum(pair.values()) >= 1
    first = [e for e in sim.events if e["kind"] == "conflict" and e["state"] == "new"
             and {e.get("party_a"), e.get("party_b")} == {"coalition", "russia"}]
    assert first and first[0]["t"] - sim.t0_s <= 120.0
    losses = [e for e in m["losses_of_separation"]["events"]
              if {e["party_a"], e["party_b"]} == {"coalition", "russia"}]
    assert losses, "the demo crossing is close enough to lose separation"
    assert losses[0]["t"] - sim.t0_s <= 120.0
    # Each loss had notice, counted from the first alert for that pair.
    assert all(e["notice_s"] >= 30.0 for e in losses)
    assert m["warning_time_s"]["count"] == m["losses_of_separation"]["total"]


def test_turkish_airspace_incursion_with_its_warnings(syria: tuple[Simulation, dict]) -> None:
    sim, m = syria
    assert m["airspace_watch"] is True
    air = m["airspace"]
    assert air["incursions"] >= 1
    inc = air["incursion_events"][0]
    assert inc["airspace"] == "tur" and inc["party"] == "russia"
    assert inc["warned"] and set(inc["notice_by_stage_s"]) >= {"advisory", "warning"}
    assert inc["notice_by_stage_s"]["advisory"] > inc["notice_by_stage_s"]["warning"] > 0
    assert air["events_by_state"]["advisory"] >= 1 and air["events_by_state"]["warning"] >= 1
    # The straying orbit enters the Yayladagi salient.
    p = next(p for p in sim.plans if p.icao24 == inc["icao24"])
    assert p.mission == "jabal-turkman-orbit"


def test_min_distance_distribution(syria: tuple[Simulation, dict]) -> None:
    _, m = syria
    md = m["min_distance_nm"]
    assert md["count"] >= 1 and md["min"] < 3.0
    assert sum(md["histogram"].values()) == md["count"]
    assert m["closest_encounters"][0]["pair"] == "coalition/russia"


def test_report_batches_match_the_run() -> None:
    scn = load_scenario(REPO / "examples/syria-2015.scenario.toml")
    agr = load_agreement(REPO / "examples/syria-2015.toml")
    batches = []
    for t, df, events in iter_report_batches(scn, agr, hours=0.05, seed=1):
        batches.append((t, df, events))
    assert len(batches) == 181  # both ends: 0 s and 180 s
    t0, df0, _ = batches[0]
    assert t0 == scn.start_s and len(df0) >= 4
    assert {"timestamp", "icao24", "callsign", "latitude", "longitude", "altitude"} <= set(df0)
    assert (np.diff([b[0] for b in batches]) == 1.0).all()
    kinds = {e["kind"] for _, _, evs in batches for e in evs}
    assert "conflict" in kinds


@pytest.mark.slow
def test_cli_writes_outputs_that_replay_reads(tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = run_cli("simulate", "examples/syria-2015.scenario.toml", "--agreement",
                "examples/syria-2015.toml", "--hours", "0.2", "--seed", "1", "--out", str(out),
                "--format", "json.gz", "--no-resolution")
    assert r.returncode == 0, r.stderr
    for name in ("recording.json.gz", "metrics.json", "events.jsonl", "map.png",
                 "warning_times.png", "worst_encounters.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["losses_of_separation"]["total"] >= 1
    assert "losses of separation" in r.stderr
    rep = run_cli("replay", str(out / "recording.json.gz"), "--agreement",
                  "examples/syria-2015.toml", "--summary-only")
    assert rep.returncode == 0, rep.stderr
    summary = json.loads(rep.stdout.strip().splitlines()[-1])
    assert summary["events"].get("loss_of_separation_start", 0) == metrics["losses_of_separation"]["total"]
    assert summary["events"].get("airspace_violation", 0) >= 1
