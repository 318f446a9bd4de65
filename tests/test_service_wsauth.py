"""Keys out of URLs and a locked-down map (issue 14, defect 10), against a real `sharedsky serve`.

A browser cannot set `Authorization` on a WebSocket, so the map used to put its key in
the stream's URL, where access logs, proxies and histories keep it. The key now travels
in the `Sec-WebSocket-Protocol` offer (`sharedsky.v1, sharedsky.key.<key>`); the server
answers with `sharedsky.v1` only, never echoing the key. The map's pages carry security
headers: a Content-Security-Policy allowing only the server itself and no framing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import InvalidHandshake
from websockets.sync.client import connect

from service_support import REPO, Keys, Server, agreement_text, issue_keys

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("wsauth")
    (d / "a.toml").write_text(agreement_text())
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db", "--log-level", "info").start()
    yield srv, keys
    srv.stop()


def test_a_websocket_authenticates_by_subprotocol_and_the_key_is_in_no_url_or_log(
        server: tuple[Server, Keys]) -> None:
    srv, keys = server
    url = srv.url.replace("http", "ws") + "/api/v1/stream?after=999999"
    with connect(url, subprotocols=["sharedsky.v1", f"sharedsky.key.{keys.blue}"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "sharedsky.v1"
        ws.send(json.dumps({"type": "ack", "id": "probe", "seq": 999999}))
        while (r := json.loads(ws.recv(timeout=5)))["type"] in ("picture", "event"):
            pass
        assert r == {"type": "error", "status": 404, "detail": "seq: no event 999999 for 'blue'", "id": "probe"}
    # a wrong key offered that way is refused like any other
    with connect(url, subprotocols=["sharedsky.v1", "sharedsky.key.ssk_00000000_wrong"]) as ws:  # type: ignore[list-item]
        r = json.loads(ws.recv(timeout=5))
        assert r["type"] == "error" and r["status"] == 401
    time.sleep(0.5)
    log = srv.log.read_text(errors="replace")
    assert "/api/v1/stream" in log
    assert keys.blue not in log and "ssk_00000000_wrong" not in log


def test_the_subprotocol_offer_alone_without_a_key_is_refused(server: tuple[Server, Keys]) -> None:
    srv, _ = server
    url = srv.url.replace("http", "ws") + "/api/v1/stream"
    try:
        with connect(url, subprotocols=["sharedsky.v1"]) as ws:  # type: ignore[list-item]
            r = json.loads(ws.recv(timeout=5))
            assert r["status"] == 401
    except InvalidHandshake:
        pass


def test_the_map_is_served_with_security_headers(server: tuple[Server, Keys]) -> None:
    from sharedsky.service.dossiers import STYLE_HASH

    srv, keys = server
    for path in ("/", "/index.html", "/main.js", "/style.css"):
        r = httpx.get(srv.url + path)
        assert r.status_code == 200, path
        csp = r.headers.get("content-security-policy", "")
        directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
        assert directives.get("default-src") == ["'self'"], (path, csp)
        assert directives.get("frame-ancestors") == ["'none'"], (path, csp)
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        # styles: the map's files and, by hash, the incident dossier's one style block (opened as a blob: page)
        assert directives.get("style-src") == ["'self'", f"'{STYLE_HASH}'"], (path, csp)
        assert r.headers.get("x-content-type-options") == "nosniff"
        assert r.headers.get("referrer-policy") == "no-referrer"
        assert r.headers.get("x-frame-options") == "DENY"
    # the API's answers carry them too (no page of the service may be framed)
    r = httpx.get(srv.url + "/api/v1/me", headers={"Authorization": f"Bearer {keys.blue}"})
    assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", "")


def test_the_map_builds_no_key_into_a_url_and_no_inline_style() -> None:
    web = REPO / "src" / "sharedsky" / "web"
    for js in web.glob("*.js"):
        text = js.read_text()
        assert "key=${" not in text and "?key=" + "${" not in text, js.name
        assert 'style="' not in text, f"{js.name} builds an inline style attribute (the CSP refuses it)"
    assert "style=" not in (web / "index.html").read_text()


@pytest.mark.parametrize("query, named", [("after=abc", "after"), ("after=-1", "after"), ("after=%C2%B2", "after"),
                                          ("pictures=maybe", "pictures"), ("after=3&pictures=", "pictures")])
def test_a_bad_stream_query_gets_a_clear_error_naming_it(server: tuple[Server, Keys], query: str,
                                                          named: str) -> None:
    """A stream asked for with a bad `after` or `pictures` is answered with an error frame that
    names the parameter and what it got (status 400, close code 4400), not a bare HTTP 403
    refusal of the handshake; the Python client raises it instead of reconnecting."""
    from sharedsky.client import Client, ServiceError

    srv, keys = server
    url = srv.url.replace("http", "ws") + "/api/v1/stream?" + query
    with connect(url, additional_headers={"Authorization": f"Bearer {keys.blue}"}) as ws:
        r = json.loads(ws.recv(timeout=5))
    assert r["type"] == "error" and r["status"] == 400, r
    assert r["detail"].startswith(f"{named}:"), r
    assert ws.close_code == 4400
    c = Client(srv.url, keys.blue)
    c._ws_url = lambda after, pictures=True: url  # type: ignore[method-assign]
    with pytest.raises(ServiceError) as err:
        next(c.stream(reconnect_for_s=5))
    assert err.value.status == 400 and named in str(err.value)
