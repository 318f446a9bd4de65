"""Replay on the map (real service, real browser, the real Swiss recording): jumping to a time
shows the aircraft the replay's own step at that time had, each within one step's travel;
the alert list holds the events up to that moment and its link to a moment moves the slider;
playing at 60x moves the picture on."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_web_map import CHROMIUM, Screen

from conftest import REPO

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]

RECORDING = REPO / "data" / "switzerland.json.gz"
SPAN_S = 1500.0  # the first 25 minutes of the recording
AT_S = 1200.0  # the moment jumped to, from the start
STEP_S = 1.0


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory):
    from sharedsky.alerting.step import Assessment
    from sharedsky.commands.common import uniform_levels
    from sharedsky.commands.replay import _Gate, _read
    from sharedsky.commands.replay_map import agreement_for_all, start_map
    from sharedsky.ingest.schema import epoch_s
    from sharedsky.replay.run import ReplaySummary, replay_batches

    raw = _read(str(RECORDING), None)
    t = epoch_s(raw["timestamp"])
    # the first minutes, read and gated as replay reads a recording
    whole = _Gate(ReplaySummary(), True)(raw[t <= t.min() + SPAN_S].reset_index(drop=True), final=True)
    party = np.zeros(len(whole), dtype=np.int32)
    levels = uniform_levels(1, 5.0, 1000.0, 300.0, True)
    start = float(np.ceil(epoch_s(whole["timestamp"]).min()))
    at = start + AT_S
    snaps: dict[float, Any] = {}

    def grab(snap: Any) -> None:
        if abs(snap.t_s - at) <= STEP_S:
            snaps[snap.t_s] = snap

    events = list(replay_batches(iter([(whole, party)]), Assessment.for_agreement(None, levels=levels),
                                 ("all",), step_s=STEP_S, max_age_s=20.0, on_step=grab))
    work: Path = tmp_path_factory.mktemp("replaymap")
    svc = start_map(work, agreement_for_all(work, "switzerland", 5.0, 1000.0, 300.0), whole, party, events,
                    levels=levels, max_age_s=20.0, step_s=STEP_S)
    yield svc, at, snaps, events
    svc.stop()


def test_jump_to_a_time_matches_replay_within_one_step(replayed, browser):
    svc, at, snaps, events = replayed
    assert at in snaps, "the replay stepped at the moment"
    s = Screen(browser, svc).sign_in_url(svc.supervisor_key)
    try:
        s.wait("sharedsky.history.on && sharedsky.history.span !== null")
        s.page.evaluate(f"sharedsky.historySeek({at})")
        s.wait(f"!sharedsky.history.busy && Math.abs(sharedsky.history.t - {at}) < 1e-6 && sharedsky.known.length > 0")
        shown = s.page.evaluate("Array.from(sharedsky.knownAircraft)")
        snap = snaps[at]
        want = {str(i): (float(la), float(lo), float(gs)) for i, la, lo, gs in
                zip(snap.id, snap.lat_deg, snap.lon_deg, snap.gs_kt, strict=True)}
        got = {a["icao24"]: a for a in shown}
        assert set(got) == set(want), (set(got) ^ set(want))
        assert len(got) >= 10
        for icao, (lat, lon, gs) in want.items():
            a = got[icao]
            d_nm = 60 * math.hypot(a["lat"] - lat, (a["lon"] - lon) * math.cos(math.radians(lat)))
            one_step_nm = (gs if gs == gs else 600.0) * STEP_S / 3600
            assert d_nm <= one_step_nm + 1e-3, (icao, d_nm)
        # the alert list: the events up to that moment, none after it
        before = [e for e in events if e["t"] <= at and e["kind"] == "conflict"]
        assert before, "the recording has conflicts before the moment"
        s.wait(f"sharedsky.history.applied === {sum(1 for e in events if e['t'] <= at)}")
        rows = s.page.evaluate("sharedsky.alerts")
        assert rows and all(r["kind"] in ("conflict", "loss_of_separation", "distress", "airspace") for r in rows)
        # its link to a moment moves the slider there
        first = s.page.locator("#alerts button[data-moment]").last
        t_first = float(first.get_attribute("data-moment"))
        first.click()
        s.wait(f"Math.abs(sharedsky.history.t - {t_first}) < 1e-6")
        assert "at=" in s.page.url
        # playing at 60x moves the picture on
        s.page.evaluate("sharedsky.historyPlay(true, 60)")
        s.page.wait_for_timeout(2500)
        s.page.evaluate("sharedsky.historyPlay(false)")
        assert s.page.evaluate("sharedsky.history.t") > t_first + 60
        assert s.errors == [] and s.csp_violations() == []
    finally:
        s.close()
