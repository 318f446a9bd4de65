"""Resolution advisories on the map (issue 13, Build 4: "the map shows the advised manoeuvre on
the aircraft and in the alert list"), in Debian's chromium against one real `sharedsky serve`
on loopback with a blue/red head-on encounter:

* blue's tab lists its aircraft's advisory, word for word, in the alert list, and never red's;
* it draws the advised track as an arrow from blue's aircraft along that track (read from the
  page's own account of what it drew, and from the canvas's pixels), none on red's;
* with the aircraft selected, its card states the advice and the values of each dimension the
  engine judged free (the advisory's bands)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from service_support import Keys, Server, agreement_text, serve_pushing
from test_web_map import CHROMIUM, Screen

pytestmark = pytest.mark.timeout(180)

# Head-on at the same level, about 20 NM apart (re-stamped every second, so the geometry
# holds and the advice given is kept).
BLUE = {"icao24": "aa0600", "callsign": "BLU6", "latitude": 35.0, "longitude": 36.0,
        "altitude": 20000, "groundspeed": 400, "track": 90, "vertical_rate": 0}
RED = {"icao24": "bb0600", "callsign": "RED6", "latitude": 35.0, "longitude": 36.4,
       "altitude": 20000, "groundspeed": 400, "track": 270, "vertical_rate": 0}
ADVICE = (0, 229, 255)  # map.js ADVICE_COLOUR


def _blue_advice(s: Screen, keys: Keys, icao24: str) -> dict[str, Any]:
    """Signed in as blue: the last advisory event the page received for `icao24`."""
    s.sign_in_url(keys.blue)
    s.wait(f"sharedsky.events.some(e => e.kind === 'advisory' && e.icao24 === '{icao24}')", 30000)
    ev: dict[str, Any] = s.js(f"sharedsky.events.filter(e => e.kind === 'advisory' && e.icao24 === '{icao24}').pop()")
    return ev


def _drawn_marks(s: Screen) -> dict[str, Any]:
    """The page's own account of the advice marks it drew, and at four points along each mark
    the pixel nearest the advice colour."""
    return s.js("""(() => {
        const want = ADVICE_RGB;
        sharedsky.draw();
        const c = document.getElementById('map').getContext('2d'), d = window.devicePixelRatio;
        const marks = sharedsky.adviceMarks.map(m => Object.assign({}, m));
        // At each point along the mark, the pixel of the 3 x 3 around it nearest the advice
        // colour: a 2-px line at a fractional position covers the pixel under it only in part
        // (anti-aliased), but always covers one of its neighbours whole.
        const near = (x, y) => {
            const a = c.getImageData(Math.round(x * d) - 1, Math.round(y * d) - 1, 3, 3).data;
            let best = null, bestD = Infinity;
            for (let i = 0; i < a.length; i += 4) {
                const dd = Math.abs(a[i] - want[0]) + Math.abs(a[i + 1] - want[1]) + Math.abs(a[i + 2] - want[2]);
                if (dd < bestD) { bestD = dd; best = Array.from(a.slice(i, i + 4)); }
            }
            return best;
        };
        const px = marks.map(m => [0.3, 0.45, 0.6, 0.75].map(f => near(m.x + f * (m.x2 - m.x), m.y + f * (m.y2 - m.y))));
        return {marks, px};
    })()""".replace("ADVICE_RGB", json.dumps(ADVICE)))


def _the_mark(s: Screen, lon: float, icao24: str) -> tuple[dict[str, Any], list[list[int]]]:
    """Centred on (35.0, `lon`): the one advice mark drawn (asserted to be on `icao24`), and
    the pixels sampled along it (`_drawn_marks`)."""
    s.js(f"sharedsky.setView(35.0, {lon}, 10)")
    s.wait("sharedsky.adviceMarks.length > 0")
    got = _drawn_marks(s)
    assert [m["icao24"] for m in got["marks"]] == [icao24], got["marks"]
    return got["marks"][0], got["px"][0]


def _on_mark(px: list[list[int]]) -> int:
    """How many of a mark's sampled pixels are the advice colour."""
    return sum(all(abs(p - q) <= 40 for p, q in zip(c[:3], ADVICE, strict=True)) for c in px)


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    with serve_pushing(tmp_path_factory.mktemp("web-advisories"), agreement_text(resolution=True, disclosure="all"), BLUE, RED) as got:
        yield got


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_the_advice_is_shown_on_the_aircraft_in_the_list_and_on_its_card(browser: Any,
                                                                          line: tuple[Server, Keys]) -> None:
    srv, keys = line
    s = Screen(browser, srv)
    try:
        ev = _blue_advice(s, keys, "aa0600")
        assert ev["state"] in ("new", "updated") and ev["text"], ev
        # The alert list: the advice word for word, for blue's aircraft by callsign.
        s.wait("(document.querySelector('#alerts li[data-thread^=\"advisory:\"]') || {}).textContent"
               "?.includes('BLU6')", 30000)
        rows = s.js("Array.from(document.querySelectorAll('#alerts li[data-thread^=\"advisory:\"]'), li => li.textContent)")
        assert len(rows) == 1 and "RA BLU6" in rows[0] and ev["text"] in rows[0], rows
        # Red's advisory exists (red's own tab would list it) but never reaches blue.
        assert all(e["icao24"] == "aa0600" for e in s.js("sharedsky.events.filter(e => e.kind === 'advisory')"))
        # On the map: one mark, on blue's aircraft, along the advised track.
        m, px = _the_mark(s, 36.2, "aa0600")
        assert m["manoeuvre"] == ev["manoeuvre"]
        if ev["manoeuvre"] == "track":
            assert m["track_deg"] == ev["track_deg"]
            drawn = math.degrees(math.atan2(m["x2"] - m["x"], m["y"] - m["y2"])) % 360.0
            assert abs((drawn - ev["track_deg"] + 180.0) % 360.0 - 180.0) < 1.0, (drawn, ev["track_deg"])
        else:
            assert (m["y2"] < m["y"]) == (ev["vs_fpm"] > 0)
            assert m["sense"] == ("climb" if ev["vs_fpm"] > 0 else "descend")
        assert _on_mark(px) >= 2, (px, ev["text"])
        # Selected, its card states the advice and the free values of each dimension.
        s.js("sharedsky.select('aa0600')")
        s.wait("document.getElementById('selected').textContent.includes('RA ')")
        card = s.js("document.getElementById('selected').textContent")
        assert f"RA {ev['text']}" in card, card
        bands = ev["bands"]
        assert set(bands) == {"track_deg", "gs_kt", "alt_ft"}, bands
        trk = ", ".join(f"{v:03d}°" for v in bands["track_deg"]) or "none"
        assert f"free trk {trk}" in card, card
        assert "free gs " + (", ".join(f"{v} kt" for v in bands["gs_kt"]) or "none") in card, card
        assert "free alt " + (", ".join(f"FL{v // 100:03d}" for v in bands["alt_ft"]) or "none") in card, card
        assert not s.errors and not s.csp_violations()
    finally:
        s.close()


# Blue climbing at 1,000 ft/min between two red aircraft head-on, 2,000 ft above and below it;
# the agreement lets blue be asked only vertical manoeuvres and gives red the right of way: a
# level change either way meets a red aircraft, so blue is told to level off.
CLIMBING = dict(BLUE, icao24="aa0700", callsign="BLU7", altitude=19000, vertical_rate=1000)
ABOVE = dict(RED, icao24="bb0700", callsign="RED7", longitude=36.3, altitude=21000)
BELOW = dict(RED, icao24="bb0701", callsign="RED8", longitude=36.3, altitude=17000)
VERTICAL_ONLY = """
[[resolution.rule]]
party = "blue"
manoeuvres = ["vertical"]
[[resolution.rule]]
party = "red"
priority = 10
"""


@pytest.fixture(scope="module")
def level_off(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    text = agreement_text(resolution=True, disclosure="all").replace(
        "[resolution]\nenabled = true", "[resolution]\nenabled = true\n" + VERTICAL_ONLY)
    assert VERTICAL_ONLY in text
    with serve_pushing(tmp_path_factory.mktemp("web-level-off"), text, CLIMBING, [ABOVE, BELOW]) as got:
        yield got


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed")
def test_a_level_off_is_drawn_as_a_level_bar_not_a_climb_arrow(browser: Any,
                                                               level_off: tuple[Server, Keys]) -> None:
    """Level off (vertical advice at 0 ft/min) was drawn as a climb arrow: the sense was read as
    vs >= 0."""
    srv, keys = level_off
    s = Screen(browser, srv)
    try:
        ev = _blue_advice(s, keys, "aa0700")
        assert ev["manoeuvre"] == "vertical" and ev["vs_fpm"] == 0 and ev["text"].lower().startswith("level off"), ev
        m, px = _the_mark(s, 36.15, "aa0700")
        assert m["y2"] == m["y"] and m["x2"] > m["x"], m  # level, not up
        assert m["sense"] == "level", m
        assert _on_mark(px) >= 2, (px, ev["text"])
        assert not s.errors and not s.csp_violations()
    finally:
        s.close()
