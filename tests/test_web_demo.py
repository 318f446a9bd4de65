"""`sharedsky demo` end to end, and the map's static files as the service serves them."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from pathlib import Path

import httpx
import pytest

from conftest import run_cli

WEB = Path(__file__).resolve().parents[1] / "src" / "sharedsky" / "web"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    from sharedsky.commands.demo import DemoService

    service = DemoService.start(tmp_path_factory.mktemp("static"), port=0)
    yield service
    service.stop()


def test_service_serves_the_map_from_the_package(svc):
    r = httpx.get(svc.url + "/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert '<canvas id="map">' in r.text
    assert '<script type="module" src="main.js">' in r.text
    # module scripts are refused unless served with a JavaScript MIME type
    modules = sorted(p.name for p in WEB.glob("*.js"))
    assert "main.js" in modules and len(modules) > 1
    for name, ctype in [(m, "javascript") for m in modules] + [("style.css", "text/css")]:
        r = httpx.get(f"{svc.url}/{name}")
        assert r.status_code == 200 and ctype in r.headers["content-type"]
        assert r.content == (WEB / name).read_bytes()


def test_the_demo_service_is_guarded_as_serve_is(svc):
    """The demo runs the service with `sharedsky serve`'s guards (issue 14): one address over the
    agreement's `connections_per_address` is answered 429 and closed before it is read."""
    per_address = int(svc.agreement.line.connections_per_address)
    held = [socket.create_connection(("127.0.0.1", svc.port), source_address=("127.0.0.9", 0))
            for _ in range(per_address)]
    try:
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", svc.port), source_address=("127.0.0.9", 0)) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            extra.settimeout(5)
            out = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := extra.recv(65536):
                    out += chunk
        assert out.startswith(b"HTTP/1.1 429") and b"connections_per_address" in out, out[:200]
    finally:
        for s in held:
            s.close()
    assert httpx.get(svc.url + "/").status_code == 200  # another address is served


def test_every_module_import_is_a_sibling_file():
    """main.js and its modules import only ./name.js files that exist in the web folder."""
    for p in WEB.glob("*.js"):
        for spec in re.findall(r"""^import\b[^;]*?\bfrom\s*["']([^"']+)["']""", p.read_text(encoding="utf-8"), re.M):
            assert spec.startswith("./") and (WEB / spec[2:]).is_file(), f"{p.name}: import {spec}"


def test_demo_keys_sign_in_as_their_party(svc):
    for party, key in svc.keys.items():
        me = httpx.get(f"{svc.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
        assert me["party"] == party and me["supervisor"] is False
    me = httpx.get(f"{svc.url}/api/v1/me", params={"key": svc.supervisor_key}).json()
    assert me["supervisor"] is True
    assert httpx.get(f"{svc.url}/api/v1/me", params={"key": "ssk_x_y"}).status_code == 401


def test_web_files_reference_no_other_host():
    """No CDN, font or tile URL in the page's files (the browser test checks the requests)."""
    ref = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//|"""
                     r"""(?:fetch|import|WebSocket)\s*\(\s*["'`](?:https?|wss?):|"""
                     r"""\bfrom\s*["'](?:https?:)?//""", re.I)
    files = [p for p in WEB.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"index.html", "main.js", "style.css"}
    for p in files:
        hits = ref.findall(p.read_text(encoding="utf-8"))
        assert hits == [], f"{p.name}: {hits}"


@pytest.mark.slow
def test_demo_command_shows_conflict_airspace_warning_and_distress():
    # speed 3: the scripted two minutes take 40 s of wall time
    r = run_cli("demo", "--port", "0", "--duration", "45", "--speed", "3", timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    urls = dict(re.findall(r"^\s+(\w+)\s+(http://127\.0\.0\.1:\d+/\?key=ssk_\S+)$", out, re.M))
    assert {"coalition", "russia", "turkey", "supervisor"} <= set(urls)
    assert len(set(urls.values())) == len(urls), "each screen has its own key"
    assert re.search(r"CONFLICT (ADVISORY|WARNING).*\(russia\).*\(coalition\)|"
                     r"CONFLICT (ADVISORY|WARNING).*\(coalition\).*\(russia\)", out)
    assert re.search(r"AIRSPACE WARNING\s+RFF2102 \(russia\) -> tur", out)
    assert re.search(r"DISTRESS RCH77 \(coalition\)", out)
    # The scenario's notified operations (issue 17): the coalition's ISR orbit overlaps Russia's strike area.
    assert re.search(r"NOTICE CONFLICT NEW coalition:aleppo-isr-1020 x russia:idlib-strike-1020: .*SHORT NOTICE; "
                     r"coalition gives way", out)
    assert re.search(r"NOTIFIED VOLUME (ADVISORY|WARNING)\s+DUDE1\d \(coalition\) -> russia:idlib-strike-1020#0", out)
    assert ("demo showed a coalition/Russian conflict, a Turkish airspace warning, a notice conflict and a "
            "distress call") in out
    # Resolution advisories: one to each side of the scripted head-on, for its own aircraft.
    assert re.search(r"ADVISORY RCH451 \(coalition\): ", out)
    assert re.search(r"ADVISORY RFF2101 \(russia\): ", out)
    assert "demo showed a resolution advisory on each side of the coalition/Russian encounter" in out
    assert "push refused" not in r.stderr


def test_demo_rejects_a_bad_speed():
    r = run_cli("demo", "--speed", "0", "--port", "0", "--duration", "1")
    assert r.returncode != 0
    assert "--speed" in r.stderr
