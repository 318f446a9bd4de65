"""The incident dossier from the service (issue 16, build item 4): `GET /api/v1/dossier?seq=` on a
real `sharedsky serve` (loopback, the real SQLite record of `dossier_support`'s incident, witnessed
by both parties) builds the dossier for the asking party from what it may see, and `sharedsky
verify` accepts it offline; the map's alert list opens it in a real browser.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from dossier_support import IncidentRecord
from service_support import Server

from conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def served(incident_record: IncidentRecord, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The service restarted on a copy of the incident's record (so the shared record stays as it was)."""
    d = tmp_path_factory.mktemp("dossier-service")
    with sqlite3.connect(incident_record.db) as src, sqlite3.connect(d / "s.db") as dst:
        src.backup(dst)
    shutil.copy(incident_record.db.with_name(incident_record.db.name + ".key"), d / "s.db.key")
    srv = Server(incident_record.agreement, d / "s.db").start()
    yield srv
    srv.stop()


def _dossier(srv: Server, key: str, seq: int, **params: str) -> httpx.Response:
    return httpx.get(f"{srv.url}/api/v1/dossier", params={"seq": seq, **params},
                     headers={"Authorization": f"Bearer {key}"}, timeout=120)


def _verify(text: bytes, path: Path, incident: IncidentRecord) -> str:
    path.write_bytes(text)
    res = run_cli("verify", str(path), "--agreement", str(incident.agreement))
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_each_party_gets_the_dossier_it_may_see_and_verify_accepts_it(
        incident_record: IncidentRecord, served: Server, tmp_path: Path) -> None:
    keys = incident_record.keys
    assert keys is not None
    with ThreadPoolExecutor(1) as pool:
        building = pool.submit(_dossier, served, keys.blue, incident_record.los_seq)
        # While it is built the service answers and its engine steps on (about 1 Hz).
        time.sleep(0.3)
        sup = {"Authorization": f"Bearer {keys.sup}"}
        steps0 = httpx.get(f"{served.url}/metrics", headers=sup, timeout=5).json()["engine_steps"]
        time.sleep(2.5)
        steps1 = httpx.get(f"{served.url}/metrics", headers=sup, timeout=5).json()["engine_steps"]
        still = not building.done()
        r = building.result()
    if still:
        assert steps1 > steps0, "the engine stepped while the dossier was built"
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    text = r.text
    assert text.startswith("<!DOCTYPE html>") and "Incident dossier: loss of separation" in text
    assert "the service&#x27;s record as blue may see it, at blue&#x27;s request" in text
    assert f'data-seq="{incident_record.request_seq}"' in text  # blue's own request on the line
    out = _verify(r.content, tmp_path / "blue.html", incident_record)
    assert "every fact shown matches them; witnessed by blue, red" in out, out

    # Red asks for the airspace warning: blue's reports are not disclosed to red, so they are
    # cited as withheld (not hidden), and the dossier still verifies.
    r = _dossier(served, keys.red, incident_record.airspace_seq)
    assert r.status_code == 200, r.text
    assert "as red may see it" in r.text and "(payloads of blue withheld:" in r.text
    assert '<tr class="withheld"' in r.text and "BLU21" not in r.text
    out = _verify(r.content, tmp_path / "red.html", incident_record)
    assert "of them withheld from the copy it was built from" in out, out


def test_refusals_name_the_problem(incident_record: IncidentRecord, served: Server) -> None:
    keys = incident_record.keys
    assert keys is not None
    r = _dossier(served, keys.red, 10**9)
    assert r.status_code == 404 and r.json()["detail"] == f"seq: no entry {10**9} in the record", r.text
    r = _dossier(served, keys.red, 1)
    assert r.status_code == 422 and "entry 1 is a genesis entry, not an incident" in r.json()["detail"], r.text
    r = _dossier(served, keys.red, incident_record.los_seq, format="docx")
    assert r.status_code == 422 and r.json()["detail"].startswith("format:"), r.text

    # A conflict between a blue aircraft and an unattributed one is not disclosed to red: 403.
    # It happens after the last witnessed checkpoint (no witness runs now): blue is told so (404).
    now = time.time()
    sup = {"Authorization": f"Bearer {keys.sup}"}
    blue = {"Authorization": f"Bearer {keys.blue}"}
    rep = {"timestamp": now, "latitude": 34.0, "altitude": 15000, "groundspeed": 400, "vertical_rate": 0}
    assert httpx.post(f"{served.url}/api/v1/reports", headers=sup, json={"reports": [
        {**rep, "icao24": "cc0001", "callsign": "UNK1", "longitude": 36.0, "track": 90}]}).status_code == 202
    assert httpx.post(f"{served.url}/api/v1/reports", headers=blue, json={"reports": [
        {**rep, "icao24": "aa0202", "callsign": "BLU22", "longitude": 36.1, "track": 270}]}).status_code == 202
    seq = 0
    for _ in range(100):
        evs = httpx.get(f"{served.url}/api/v1/events", headers=sup, params={"after": incident_record.los_seq}).json()
        hit = [e for e in evs["events"] if e["kind"] in ("conflict", "loss_of_separation") and e.get("a") in
               ("aa0202", "cc0001")]
        if hit:
            seq = hit[0]["seq"]
            break
        time.sleep(0.1)
    assert seq, "a conflict of aa0202 and cc0001"
    r = _dossier(served, keys.red, seq)
    assert r.status_code == 403 and r.json()["detail"].endswith("does not concern red and is not disclosed to it"), \
        r.text
    r = _dossier(served, keys.blue, seq)
    assert r.status_code == 404 and f"entry {seq} is not yet covered by a witnessed checkpoint" in r.text, r.text


@pytest.mark.browser
def test_the_alert_list_opens_the_dossier_in_a_browser(incident_record: IncidentRecord, served: Server) -> None:
    from test_web_map import CHROMIUM, CHROMIUM_ARGS, Screen

    if not CHROMIUM.exists():
        pytest.skip("Debian chromium (/usr/bin/chromium) is not installed")
    from playwright.sync_api import sync_playwright

    keys = incident_record.keys
    assert keys is not None
    t0 = time.monotonic()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        red = Screen(browser, served).sign_in_url(keys.red)
        try:
            button = f'#alerts button[data-dossier="{incident_record.airspace_seq}"]'
            red.page.wait_for_selector(button, timeout=20000)
            with red.ctx.expect_page(timeout=60000) as popup:
                red.page.click(button)
            page = popup.value
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.wait_for_function("() => document.title.startsWith('Incident dossier: airspace')", timeout=60000)
            assert page.url.startswith("blob:" + served.url)
            text = page.inner_text("body")
            assert "as red may see it" in text and "withheld from this copy" in text
            # styled by its own style block (allowed by hash under the map's policy), figures drawn
            assert page.evaluate("getComputedStyle(document.querySelector('th')).backgroundColor") == "rgb(238, 238, 238)"
            assert page.evaluate("document.querySelector('img[alt=map]').naturalWidth") > 100
            assert not [m for m in console if "Content Security Policy" in m or "Refused to" in m], console
            assert not red.errors and not red.csp_violations(), (red.errors, red.console)
        finally:
            red.close()
            browser.close()
    assert time.monotonic() - t0 < 30
