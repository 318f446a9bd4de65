"""The operations-room map in a real browser (Debian chromium driven by Playwright) against the
real service on loopback: sign-in, per-party disclosure, distress banner, acknowledgements,
filters kept in the URL, and no request to any host but the server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) is not "
                       "installed: `./run test` installs it, or apt-get install chromium"),
]

# Fixed traffic (re-stamped every second). Coalition and Russia see each other's aircraft
# within 50 NM or 300 s (examples/syria-2015.toml); Turkey sees everything.
TRAFFIC: dict[str, list[dict[str, Any]]] = {
    "coalition": [
        # converging head-on with RFF101, 18 NM apart, same level: a coalition/Russian conflict
        {"icao24": "ae0101", "callsign": "RCH101", "latitude": 35.00, "longitude": 38.00,
         "altitude": 25000, "groundspeed": 400, "track": 0, "vertical_rate": 0, "squawk": "2000"},
        {"icao24": "ae0102", "callsign": "RCH102", "latitude": 34.00, "longitude": 36.80,
         "altitude": 31000, "groundspeed": 300, "track": 270, "vertical_rate": 0, "squawk": "2000"},
    ],
    "russia": [
        {"icao24": "150101", "callsign": "RFF101", "latitude": 35.30, "longitude": 38.00,
         "altitude": 25000, "groundspeed": 400, "track": 180, "vertical_rate": 0, "squawk": "2000"},
        # far from every coalition aircraft and flying away: not disclosed to the coalition
        {"icao24": "150102", "callsign": "RFF102", "latitude": 33.00, "longitude": 42.50,
         "altitude": 20000, "groundspeed": 350, "track": 90, "vertical_rate": 0, "squawk": "2000"},
    ],
    "turkey": [
        {"icao24": "4b8101", "callsign": "TUAF101", "latitude": 39.50, "longitude": 32.00,
         "altitude": 15000, "groundspeed": 300, "track": 45, "vertical_rate": 0, "squawk": "7700"},
    ],
}
ALL = {a["icao24"] for v in TRAFFIC.values() for a in v}
SEEN_BY = {
    "coalition": {"ae0101", "ae0102", "150101"},
    "russia": {"150101", "150102", "ae0101"},
    "turkey": ALL,
}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    """The real service on loopback with a key per party, and traffic pushed every second."""
    from sharedsky.commands.demo import DemoService

    service = DemoService.start(tmp_path_factory.mktemp("web"), port=0)
    stop = threading.Event()

    def push() -> None:
        with httpx.Client(base_url=service.url, timeout=10) as c:
            while not stop.is_set():
                now = time.time()
                for party, acs in TRAFFIC.items():
                    r = c.post("/api/v1/reports", json={"reports": [{"timestamp": now, **a} for a in acs]},
                               headers={"Authorization": f"Bearer {service.keys[party]}"})
                    assert r.status_code == 202, r.text
                stop.wait(1.0)

    t = threading.Thread(target=push, daemon=True)
    t.start()
    # wait until the engine has a picture with every aircraft
    deadline = time.time() + 30
    while time.time() < deadline:
        r = httpx.get(f"{service.url}/api/v1/aircraft",
                      headers={"Authorization": f"Bearer {service.supervisor_key}"})
        if {a["icao24"] for a in r.json()["aircraft"]} == ALL:
            break
        time.sleep(0.3)
    else:
        pytest.fail("the service never showed all the test aircraft")
    yield service
    stop.set()
    t.join(5)
    service.stop()


class Screen:
    """One party's browser tab, with every request it made."""

    def __init__(self, browser: Any, svc: Any) -> None:
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 850})
        self.page = self.ctx.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("websocket", lambda ws: self.requests.append(ws.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text))
        self.svc = svc

    def csp_violations(self) -> list[str]:
        """Console messages of the browser refusing something under the Content-Security-Policy."""
        return [m for m in self.console if "Content Security Policy" in m or "Refused to" in m]

    def sign_in_form(self, key: str) -> Screen:
        self.page.goto(self.svc.url + "/")
        self.page.fill("#signin-key", key)
        self.page.click("#signin-go")
        self.wait_ready()
        return self

    def sign_in_url(self, key: str) -> Screen:
        self.page.goto(f"{self.svc.url}/?key={key}")
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        self.wait("window.sharedsky && window.sharedsky.ready")

    def js(self, expr: str) -> Any:
        return self.page.evaluate(expr)

    def wait(self, expr: str, timeout_ms: float = 20000) -> None:
        # As a function, not a bare expression: Playwright evaluates a bare expression
        # with eval() inside the page, which the map's Content-Security-Policy refuses.
        self.page.wait_for_function(f"() => ({expr})", timeout=timeout_ms)

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def screens(browser, svc):
    made: list[Screen] = []

    def make() -> Screen:
        s = Screen(browser, svc)
        made.append(s)
        return s

    yield make
    for s in made:
        assert not s.errors, f"page errors: {s.errors}"
        s.close()


def _disclosed(svc: Any, party: str) -> set[str]:
    r = httpx.get(f"{svc.url}/api/v1/aircraft", headers={"Authorization": f"Bearer {svc.keys[party]}"})
    return {a["icao24"] for a in r.json()["aircraft"]}


def test_two_parties_each_see_exactly_their_disclosed_view(svc, screens):
    coalition = screens().sign_in_form(svc.keys["coalition"])
    russia = screens().sign_in_url(svc.keys["russia"])
    assert coalition.js("sharedsky.me.party") == "coalition"
    assert russia.js("sharedsky.me.party") == "russia"
    for screen, party in ((coalition, "coalition"), (russia, "russia")):
        want = sorted(SEEN_BY[party])
        assert sorted(_disclosed(svc, party)) == want, "the service's own disclosure changed"
        screen.wait(f"JSON.stringify(sharedsky.known.sort()) === '{json.dumps(want, separators=(',', ':'))}'")
        screen.wait(f"sharedsky.drawn.length === {len(want)}")
        assert sorted(screen.js("sharedsky.drawn")) == want
        # the key came from the form or the URL; the URL no longer shows it
        assert "key=" not in screen.page.url
        assert screen.js("sessionStorage.getItem('sharedsky.key')") == svc.keys[party]
    assert "150102" not in coalition.js("sharedsky.known")
    assert "4b8101" not in russia.js("sharedsky.known")


def test_supervisor_and_turkey_see_everything(svc, screens):
    sup = screens().sign_in_url(svc.supervisor_key)
    turkey = screens().sign_in_url(svc.keys["turkey"])
    for s in (sup, turkey):
        s.wait(f"sharedsky.known.length === {len(ALL)}")
        assert set(s.js("sharedsky.known")) == ALL
    assert sup.js("sharedsky.me.supervisor") is True
    assert sup.page.inner_text("#me") == "SUPERVISOR"


def test_conflict_alert_acknowledged_on_one_side_seen_on_the_other(svc, screens):
    coalition = screens().sign_in_url(svc.keys["coalition"])
    russia = screens().sign_in_url(svc.keys["russia"])
    find = ("sharedsky.alerts.find(a => a.kind === 'conflict' && !a.ended && "
            "a.id.includes('150101') && a.id.includes('ae0101'))")
    coalition.wait(f"!!({find})")
    russia.wait(f"!!({find})")
    alert = coalition.js(find)
    assert alert["level"] in ("advisory", "warning")
    assert alert["ttl_s"] is not None and 0 < alert["ttl_s"] <= 300
    row = coalition.page.locator(f'li[data-thread="{alert["id"]}"]')
    assert "RCH101" in row.inner_text() and "RFF101" in row.inner_text()
    row.locator("button[data-ack]").click()
    # the acknowledging side loses its button; the other side sees who acknowledged
    coalition.wait(f"{find}.acks.includes('coalition')")
    russia.wait(f"{find}.acks.includes('coalition')")
    russia_row = russia.page.locator(f'li[data-thread="{alert["id"]}"]')
    russia.wait(f"document.querySelector('li[data-thread=\"{alert['id']}\"] .acked') !== null")
    assert "ACK" in russia_row.inner_text()
    assert russia_row.locator("button[data-ack]").count() == 1  # Russia has not acknowledged yet
    assert coalition.page.locator(f'li[data-thread="{alert["id"]}"] button[data-ack]').count() == 0
    # party tags keep their colours under the CSP (set through the CSSOM, not style attributes)
    tag = row.locator(".ptag").first
    assert tag.evaluate("e => getComputedStyle(e).borderTopColor") not in ("", "rgba(0, 0, 0, 0)")
    assert tag.evaluate("e => e.style.borderColor") != ""
    assert coalition.csp_violations() == [] and russia.csp_violations() == []


def test_distress_from_one_party_is_a_banner_on_the_other(svc, screens):
    coalition = screens().sign_in_url(svc.keys["coalition"])
    russia = screens().sign_in_url(svc.keys["russia"])
    assert russia.js("sharedsky.banner") is None or "RCH102" not in russia.js("sharedsky.banner.text")
    # the coalition calls distress from its screen: the line, DISTRESS, its own aircraft
    coalition.page.select_option("#m-type", "DISTRESS")
    coalition.wait("document.querySelector('#m-icao option[value=\"ae0102\"]') !== null")
    coalition.page.select_option("#m-icao", "ae0102")
    coalition.page.fill("#m-nature", "hydraulic failure")
    coalition.page.click("#m-send")
    coalition.wait("document.querySelector('#m-status').textContent.includes('DISTRESS sent')")
    russia.wait("sharedsky.banner !== null && sharedsky.banner.text.includes('hydraulic failure')")
    banner = russia.page.locator("#banner")
    assert banner.is_visible()
    assert "ae0102" in banner.inner_text() and "121.5" in banner.inner_text()
    assert russia.js("sharedsky.beeps") >= 1
    # the banner stays until acknowledged
    time.sleep(2.5)
    assert banner.is_visible()
    seq = russia.js("sharedsky.banner.seq")
    russia.page.click("#banner-ack")
    russia.wait(f"sharedsky.banner === null || sharedsky.banner.seq !== {seq}")
    # the caller sees Russia's acknowledgement of its distress call
    coalition.wait(f"sharedsky.alerts.some(a => a.seq === {seq} && a.acks.includes('russia'))")


def test_emergency_squawk_is_labelled(svc, screens):
    turkey = screens().sign_in_url(svc.keys["turkey"])
    turkey.wait("sharedsky.known.includes('4b8101')")
    turkey.js("sharedsky.setView(39.5, 32.0, 8)")
    turkey.wait("sharedsky.tagged.some(t => t.icao24 === '4b8101' && t.label === 'EMERGENCY')")
    # the service raises an automatic distress event for squawk 7700
    turkey.wait("sharedsky.events.some(e => e.kind === 'distress' && e.icao24 === '4b8101')")


def test_the_line_request_overdue_then_answered(svc, screens):
    coalition = screens().sign_in_url(svc.keys["coalition"])
    russia = screens().sign_in_url(svc.keys["russia"])
    deadline = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3))
    r = httpx.post(f"{svc.url}/api/v1/messages", headers={"Authorization": f"Bearer {svc.keys['coalition']}"},
                   json={"type": "REQUEST", "to": "russia", "text": "confirm RFF101 intentions",
                         "deadline": deadline})
    assert r.status_code == 201, r.text
    seq = r.json()["seq"]
    russia.wait(f"document.querySelector('#messages li[data-seq=\"{seq}\"]') !== null")
    assert "confirm RFF101 intentions" in russia.page.inner_text(f'#messages li[data-seq="{seq}"]')
    # each message's trail starts with its sending time (delivered / acknowledged follow, issue 15);
    # this agreement names no witnesses, so nothing is witnessed
    assert russia.page.inner_text(f'#messages li[data-seq="{seq}"] .trail').startswith("sent ")
    assert "not yet witnessed" in russia.page.inner_text("#witnessed")
    # nobody answered in time: both rooms list it as overdue
    for s in (coalition, russia):
        s.wait("document.querySelectorAll('#overdue li').length > 0", 30000)
        assert f"#{seq}" in s.page.inner_text("#overdue")
    # Russia answers from its screen
    russia.page.click(f'#overdue button[data-respond="{seq}"]')
    assert russia.page.input_value("#m-type") == "RESPONSE"
    russia.page.fill("#m-text", "RFF101 climbing FL290")
    russia.page.click("#m-send")
    russia.wait("document.querySelector('#m-status').textContent.includes('RESPONSE sent')")
    for s in (coalition, russia):
        s.wait(f"!document.querySelector('#overdue').textContent.includes('#{seq}')")
    coalition.wait("document.querySelector('#messages').textContent.includes('RFF101 climbing FL290')")
    # and a NOTICE from the coalition's form reaches Russia
    coalition.page.select_option("#m-type", "NOTICE")
    coalition.page.fill("#m-text", "tanker track ALPHA active")
    coalition.page.click("#m-send")
    coalition.wait("document.querySelector('#m-status').textContent.includes('NOTICE sent')")
    russia.wait("document.querySelector('#messages').textContent.includes('tanker track ALPHA active')")


def test_filters_and_view_are_kept_in_the_url(svc, screens):
    s = screens().sign_in_url(svc.keys["coalition"])
    s.wait("sharedsky.drawn.length === 3")
    s.page.click("#filters-toggle")  # the filter panel opens from its title
    s.page.fill("#f-callsign", "RCH*")
    s.wait("sharedsky.drawn.length === 2")
    assert sorted(s.js("sharedsky.drawn")) == ["ae0101", "ae0102"]
    s.page.fill("#f-alt-min", "30000")
    s.wait("sharedsky.drawn.length === 1")
    s.js("sharedsky.setView(35.1, 38.2, 8.5)")
    s.wait("location.hash.includes('cs=RCH') && location.hash.includes('z=8.50')")
    url = s.page.url
    assert "alt=30000-" in url
    s.page.goto("about:blank")
    s.page.goto(url)  # the key is still in this tab's session storage
    s.wait_ready()
    s.wait("sharedsky.drawn.length === 1")
    assert s.page.input_value("#f-callsign") == "RCH*"
    assert s.page.input_value("#f-alt-min") == "30000"
    v = s.js("sharedsky.view")
    assert abs(v["lat"] - 35.1) < 1e-3 and abs(v["lon"] - 38.2) < 1e-3 and abs(v["z"] - 8.5) < 1e-3


def test_bad_key_is_refused_on_the_sign_in_screen(svc, screens):
    s = screens()
    s.page.goto(svc.url + "/")
    s.page.fill("#signin-key", "ssk_nope_nope")
    s.page.click("#signin-go")
    s.wait("document.querySelector('#signin-error').textContent.length > 0")
    assert "not valid" in s.page.inner_text("#signin-error")
    assert s.page.locator("#app").is_hidden()


def test_page_requests_nothing_from_any_other_host(svc, screens):
    s = screens().sign_in_url(svc.keys["coalition"])
    s.wait("sharedsky.drawn.length > 0")
    s.js("sharedsky.setView(36, 37, 6)")  # pan and zoom: still nothing but the server
    s.page.mouse.move(500, 400)
    s.page.mouse.wheel(0, -300)
    time.sleep(1.5)
    server = urlsplit(svc.url).netloc
    assert any(u.startswith("ws://") for u in s.requests), "the stream was not opened"
    assert any("/api/v1/basemap" in u for u in s.requests)
    foreign = [u for u in s.requests
               if not u.startswith(("data:", "blob:")) and urlsplit(u).netloc != server]
    assert foreign == [], f"requests to other hosts: {foreign}"
    # the key is in no URL the page opened (the stream offers it as a subprotocol), and the
    # page runs under its Content-Security-Policy without a single refusal
    key = svc.keys["coalition"]
    assert not [u for u in s.requests if key in u and not u.startswith(svc.url + "/?key=")]
    assert s.csp_violations() == [], s.csp_violations()
