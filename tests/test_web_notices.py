"""Notified operations on the map (issue 17), in a real browser against the real service:
a polygon drawn on the map with the NOTICE form, the conflict it causes with another
party's active volume on both screens (listed on the line, its overlap highlighted), and
the time control showing a volume active or upcoming."""

from __future__ import annotations

import time

import httpx
import pytest

from test_web_map import CHROMIUM, Screen

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not installed"),
    pytest.mark.timeout(180),
]
LAT, LON = 35.5, 38.0


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    from sharedsky.commands.demo import DemoService

    service = DemoService.start(tmp_path_factory.mktemp("web-notices"), port=0)
    yield service
    service.stop()


def test_a_polygon_drawn_on_the_map_conflicts_with_an_active_volume_on_both_screens(svc, browser) -> None:
    now = time.time()
    square = [[LON - 0.3, LAT - 0.3], [LON + 0.3, LAT - 0.3], [LON + 0.3, LAT + 0.3], [LON - 0.3, LAT + 0.3],
              [LON - 0.3, LAT - 0.3]]
    r = httpx.post(f"{svc.url}/api/v1/messages", headers={"Authorization": f"Bearer {svc.keys['russia']}"},
                   json={"type": "NOTICE", "operation": "strike-7", "purpose": "strike",
                         "area": {"type": "Polygon", "coordinates": [square]}, "floor_ft": 0, "ceiling_ft": 40000,
                         "start": now - 60, "end": now + 4 * 3600, "text": "strike area"})
    assert r.status_code == 201, r.text
    coalition, russia = Screen(browser, svc).sign_in_url(svc.keys["coalition"]), \
        Screen(browser, svc).sign_in_url(svc.keys["russia"])
    try:
        for s in (coalition, russia):
            s.js(f"window.sharedsky.setView({LAT}, {LON}, 8)")
            s.wait("window.sharedsky.notices.volumes.length === 1 && window.sharedsky.notices.volumes[0].active")
        # The coalition draws a triangle round the map centre and sends it (starts in 30 min, 1 h).
        page = coalition.page
        page.select_option("#m-type", "NOTICE")
        page.click("#m-draw")
        box = page.locator("#map").bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for dx, dy in ((-90, 60), (90, 60), (0, -90)):
            page.mouse.click(cx + dx, cy + dy)
        assert "3 point" in page.inner_text("#m-shape")
        page.click("#m-draw")  # finish
        page.fill("#m-text", "ISR orbit")
        page.click("#m-send")
        coalition.wait("document.querySelector('#m-status').textContent.includes('NOTICE sent')")
        for s in (coalition, russia):
            s.wait("window.sharedsky.notices.conflicts.length === 1")
            s.wait("document.querySelector('#messages').textContent.includes('NOTICE CONFLICT')")
            # The form declares no purpose: the lowest priority, it gives way to the strike.
            assert "US-led coalition gives way" in s.page.inner_text("#messages")
        sent = [e for e in russia.js("window.sharedsky.events") if e["kind"] == "notice" and e["from"] == "coalition"]
        assert len(sent[0]["area"]["coordinates"][0]) == 4  # the triangle, closed, not the circle
        # The coalition's volume is upcoming now, active at +1 h on the time control.
        vols = {v["party"]: v["active"] for v in coalition.js("window.sharedsky.notices.volumes")}
        assert vols == {"russia": True, "coalition": False}
        coalition.page.fill("#notice-ahead", "1")
        coalition.page.dispatch_event("#notice-ahead", "input")
        coalition.wait("window.sharedsky.notices.volumes.every(v => v.active)")
        # The overlap is highlighted: the map centre (inside both) is painted red.
        coalition.js("window.sharedsky.draw()")
        rgb = coalition.js("""(() => { const c = document.getElementById('map');
            const d = c.getContext('2d').getImageData(c.width / 2, c.height / 2 + 20, 1, 1).data;
            return [d[0], d[1], d[2]]; })()""")
        assert rgb[0] > rgb[1] + 40 and rgb[0] > rgb[2] + 40, rgb
        assert not coalition.errors and not russia.errors
        assert not coalition.csp_violations()
    finally:
        coalition.close()
        russia.close()
