"""`replay --agreement examples/civil.toml` finds the same conflicts as
`replay --all-pairs --minima 5,1000,300` on the real Swiss recording (issue 3, must show)."""

from __future__ import annotations

import json
import subprocess

import pytest


def _events_of(r: subprocess.CompletedProcess) -> tuple[list[dict], dict]:
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    summary = rows.pop()
    assert summary["kind"] == "summary"
    for ev in rows:
        ev.pop("party_a", None)
        ev.pop("party_b", None)
    return rows, summary


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the shared Swiss day: about 2 min alone, more beside other tests
def test_civil_agreement_equals_all_pairs(swiss_day) -> None:
    # the Swiss day with the civil agreement, and with --all-pairs (default minima 5,1000,300)
    with_agreement, s1 = _events_of(swiss_day["civil"])
    all_pairs, s2 = _events_of(swiss_day["all_pairs"])
    assert s1["events"]["conflict_new"] > 500
    assert s1["events"] == s2["events"]
    assert with_agreement == all_pairs
