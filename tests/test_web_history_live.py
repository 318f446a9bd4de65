"""A party opening the history of the record sees exactly what its live screen showed (issue 18).

A real service on loopback, three parties reporting moving aircraft every second: a
coalition/Russian pair head-on (a conflict both are told of), a Russian/Turkish pair in
conflict far away and a lone Russian and Turkish aircraft, none of which the coalition may see
(disclosure: within 50 NM or 300 s). The coalition's live screen in chromium is read at one
instant (its aircraft, the seq and time of the picture, its alert list); a new tab with the
same key then opens the history at that moment (`#at=T&seq=S`, as the alert list's link does)
and must show the same aircraft at the same places and the same alerts, and the withheld
aircraft in neither."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import httpx
import pytest

from test_web_map import CHROMIUM, Screen

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
]

# (party, icao24, callsign, lat, lon, alt ft, gs kt, track deg)
TRAFFIC = [
    ("coalition", "ae0301", "DUDE11", 35.00, 38.00, 25000, 400, 0),     # head-on with RFF3411
    ("coalition", "ae0302", "DUDE12", 34.60, 37.40, 31000, 300, 270),
    ("russia", "150301", "RFF3411", 35.50, 38.00, 25000, 400, 180),
    ("russia", "150302", "RFF3412", 38.00, 40.30, 20000, 380, 270),     # head-on with TUAF301, far off
    ("russia", "150303", "RFF3413", 33.00, 42.50, 20000, 350, 90),      # alone, far off
    ("turkey", "4b8301", "TUAF301", 38.00, 40.00, 20000, 380, 90),
    ("turkey", "4b8302", "TUAF302", 39.50, 32.00, 15000, 300, 45),
]
LAG_S = 0.9
WITHHELD = {"150302", "150303", "4b8301", "4b8302"}  # from the coalition


def positions(t_s: float, t0_s: float) -> dict[str, list[dict[str, Any]]]:
    """Each party's reports at `t_s`: straight flight from the start positions at `t0_s`."""
    out: dict[str, list[dict[str, Any]]] = {}
    for party, icao, cs, lat, lon, alt, gs, trk in TRAFFIC:
        d_nm = gs * (t_s - t0_s) / 3600
        la = lat + d_nm * math.cos(math.radians(trk)) / 60
        lo = lon + d_nm * math.sin(math.radians(trk)) / 60 / math.cos(math.radians(lat))
        out.setdefault(party, []).append({
            "timestamp": t_s, "icao24": icao, "callsign": cs, "latitude": round(la, 5), "longitude": round(lo, 5),
            "altitude": alt, "groundspeed": gs, "track": trk, "vertical_rate": 0, "squawk": "2000"})
    return out


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    from sharedsky.commands.demo import DemoService

    service = DemoService.start(tmp_path_factory.mktemp("historylive"), port=0)
    stop = threading.Event()
    t0 = time.time()

    def push() -> None:
        with httpx.Client(base_url=service.url, timeout=10) as c:
            while not stop.is_set():
                now = time.time()
                for party, reps in positions(now, t0).items():
                    if party == "coalition":  # a feed 0.9 s behind: its reports often reach the
                        # service after an engine step later than their time (the history must
                        # leave them out of that step's picture, as the live step did)
                        reps = positions(now - LAG_S, t0)[party]
                    r = c.post("/api/v1/reports", json={"reports": reps},
                               headers={"Authorization": f"Bearer {service.keys[party]}"})
                    assert r.status_code == 202, r.text
                stop.wait(1.0)

    t = threading.Thread(target=push, daemon=True)
    t.start()
    yield service
    stop.set()
    t.join(5)
    service.stop()


# One instant of the live screen: waits (in the page, between two tasks) until the picture is
# at least as new as every event received, so the alert list and the aircraft are one moment.
CAPTURE_JS = """
async () => {
  const ss = window.sharedsky;
  for (let i = 0; i < 400; i++) {
    const evs = ss.events;
    const lastEventT = evs.reduce((m, e) => Math.max(m, e.t || 0), 0);
    if (ss.picture.t > 0 && lastEventT <= ss.picture.t) {
      return {t: ss.picture.t, seq: ss.picture.seq, aircraft: ss.knownAircraft, alerts: ss.alerts,
              lastSeq: ss.lastSeq};
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return null;
}
"""


def _by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["icao24"]: r for r in rows}


def test_history_at_a_moment_equals_the_live_screen_at_that_seq(svc, browser):
    live = Screen(browser, svc).sign_in_url(svc.keys["coalition"])
    past = None
    try:
        live.wait("sharedsky.alerts.some(r => r.kind === 'conflict' && !r.ended && r.id.includes('ae0301'))", 30000)
        live.wait("sharedsky.known.includes('150301') && sharedsky.known.includes('ae0302')", 20000)
        seen = live.page.evaluate(CAPTURE_JS)
        assert seen is not None, "the live picture never caught up with its events"
        assert seen["seq"] is not None and seen["seq"] > 0
        shown = _by_id(seen["aircraft"])
        assert set(shown) == {"ae0301", "ae0302", "150301"}, set(shown)
        assert any(r["kind"] == "conflict" for r in seen["alerts"])
        # the Russian/Turkish conflict far off concerns neither coalition aircraft: not on its screen
        assert not any("4b8301" in r["id"] or "150302" in r["id"] for r in seen["alerts"])
        # the same moment in a new tab with the same key, opened as the alert list's links open one
        past = Screen(browser, svc)
        past.page.goto(f"{svc.url}/?key={svc.keys['coalition']}#at={seen['t']!r}&seq={seen['seq']}")
        past.wait("sharedsky.ready && sharedsky.history.on", 30000)
        past.wait(f"!sharedsky.history.busy && sharedsky.history.t === {seen['t']!r} && sharedsky.known.length > 0",
                  30000)
        then = past.page.evaluate("[sharedsky.picture, sharedsky.knownAircraft, sharedsky.alerts]")
        pic, aircraft, alerts = then
        assert (pic["t"], pic["seq"]) == (seen["t"], seen["seq"])
        got = _by_id(aircraft)
        assert set(got) == set(shown), (set(got) ^ set(shown))
        assert not WITHHELD & set(got)
        for icao, a in shown.items():
            b = got[icao]
            assert (b["lat"], b["lon"], b["alt"], b["callsign"]) == (a["lat"], a["lon"], a["alt"], a["callsign"]), icao
        assert alerts == seen["alerts"]
        assert live.errors == [] and past.errors == []
    finally:
        live.close()
        if past is not None:
            past.close()
