"""`replay --agreement examples/civil.toml` finds the same conflicts as
`replay --all-pairs --minima 5,1000,300` on the real Swiss recording (issue 3, must show)."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli


def events(*args: str) -> tuple[list[dict], dict]:
    r = run_cli("replay", *args, "--step-s", "5")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    summary = rows.pop()
    assert summary["kind"] == "summary"
    for ev in rows:
        ev.pop("party_a", None)
        ev.pop("party_b", None)
    return rows, summary


@pytest.mark.slow
def test_civil_agreement_equals_all_pairs(shared_data) -> None:
    rec = str(shared_data / "adsb" / "switzerland.json.gz")
    with_agreement, s1 = events(rec, "--agreement", "examples/civil.toml")
    all_pairs, s2 = events(rec, "--all-pairs", "--minima", "5,1000,300")
    assert s1["events"]["conflict_new"] > 500
    assert s1["events"] == s2["events"]
    assert with_agreement == all_pairs
