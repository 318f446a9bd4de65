"""Inputs that made the service answer 500 (issue 14, defect 5), against a real server.

Each gets a 4xx naming the field and leaves no traceback in the server's log: integers
too large for a float, notice times in years out of range, deep nesting, a lone
surrogate and a `Last-Event-ID` that is a digit but not a number. A property-based test
then posts generated JSON to every route that takes a body and asserts no 5xx.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service_support import Keys, Server, agreement_text, issue_keys

pytestmark = pytest.mark.timeout(300)

NOW = time.time()
BIG = 10**400
YEAR_S = 31556952.0
SQUARE = {"type": "Polygon", "coordinates": [[[36, 35], [37, 35], [37, 36], [36, 35]]]}


def year(y: int) -> float:
    """An epoch time in year `y` as a client would send it (ms when above 1e11, as the API reads it)."""
    t = (y - 1970) * YEAR_S + 86400 * 40
    return t * 1000.0 if t > 1e11 else t


def report(**over: Any) -> dict[str, Any]:
    return {"reports": [{"timestamp": NOW, "icao24": "aa0001", "latitude": 35.0, "longitude": 36.0,
                         "altitude": 20000, **over}]}


def notice(**over: Any) -> dict[str, Any]:
    return {"type": "NOTICE", "area": SQUARE, "floor_ft": 0, "ceiling_ft": 10000, "start": NOW + 60,
            "end": NOW + 120, **over}


def distress(**over: Any) -> dict[str, Any]:
    return {"type": "DISTRESS", "icao24": "aa0001", "latitude": 35, "longitude": 36, "nature": "x", **over}


# (path, body: JSON value or raw bytes, text the detail must contain)
CASES: list[tuple[str, Any, str]] = [
    ("/api/v1/reports", report(latitude=BIG), "reports[0].latitude"),
    ("/api/v1/reports", report(timestamp=BIG), "reports[0].timestamp"),
    ("/api/v1/reports", report(groundspeed=BIG), "reports[0].groundspeed"),
    ("/api/v1/reports", report(altitude=-BIG), "reports[0].altitude"),
    ("/api/v1/reports", report(selected_altitude=BIG), "reports[0].selected_altitude"),
    ("/api/v1/reports", report(selected_altitude=200_000), "reports[0].selected_altitude"),
    ("/api/v1/messages", distress(latitude=BIG), "latitude"),
    ("/api/v1/messages", {"type": "REQUEST", "to": "red", "text": "x", "deadline": BIG}, "deadline"),
    ("/api/v1/messages", notice(start=BIG), "start"),
    ("/api/v1/messages", notice(start=year(0)), "start"),
    ("/api/v1/messages", notice(end=year(10000)), "end"),
    ("/api/v1/messages", notice(end=year(11476)), "end"),
    ("/api/v1/messages", notice(start=year(-29719)), "start"),
    ("/api/v1/ack", {"seq": BIG}, "seq"),
    ("/api/v1/reports", b"[" * 100_000, "body"),
    ("/api/v1/messages", b'{"a":' * 5000 + b"1" + b"}" * 5000, "body"),
    ("/api/v1/messages", json.dumps(distress(nature="\ud800")).encode(), "nature"),
    ("/api/v1/messages", b'{"type": "DISTRESS", "\\udc00": 1}', "body"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    d = tmp_path_factory.mktemp("inputs")
    (d / "a.toml").write_text(agreement_text())
    keys = issue_keys(d / "s.db")
    srv = Server(d / "a.toml", d / "s.db").start()
    yield srv, keys
    srv.stop()


def no_traceback(srv: Server) -> None:
    log = srv.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.parametrize(("path", "body", "field"), CASES, ids=[f"{c[0][8:]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_input_that_made_a_500_gets_a_4xx_naming_the_field(server: tuple[Server, Keys], path: str, body: Any,
                                                            field: str) -> None:
    srv, keys = server
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.post(srv.url + path, content=raw, timeout=30,
                   headers={"Authorization": f"Bearer {keys.blue}", "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    assert r.json()["detail"].startswith(field), r.json()["detail"]
    no_traceback(srv)


def test_last_event_id_that_is_a_digit_but_not_a_number(server: tuple[Server, Keys]) -> None:
    srv, keys = server
    for leid in (b"\xb2", b"1" * 400, b"-1"):  # '\xb2' is '\u00b2' (superscript two) read as latin-1
        headers: Any = {"Authorization": f"Bearer {keys.blue}", "Last-Event-ID": leid}  # a bytes value: raw
        r = httpx.get(srv.url + "/api/v1/events/stream", timeout=10, headers=headers)
        assert r.status_code == 400, (leid, r.status_code)
        assert r.json()["detail"].startswith("Last-Event-ID:")
    no_traceback(srv)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**500), max_value=10**500)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4),
    max_leaves=20)
FIELDS = st.sampled_from(["type", "icao24", "latitude", "longitude", "nature", "area", "start", "end", "floor_ft",
                          "ceiling_ft", "to", "text", "deadline", "request_seq", "seq", "reports", "timestamp",
                          "altitude", "groundspeed", "callsign", "squawk", "emergency", "onground", "track"])
TYPES = st.sampled_from(["DISTRESS", "NOTICE", "REQUEST", "RESPONSE"])
MESSAGE = st.builds(lambda t, d: {"type": t, **d}, TYPES, st.dictionaries(FIELDS, JSON, max_size=7))
REPORTS = st.builds(lambda rs: {"reports": rs}, st.lists(st.dictionaries(FIELDS, JSON, max_size=8), max_size=3))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/api/v1/reports", "/api/v1/messages", "/api/v1/ack"]),
       body=JSON | MESSAGE | REPORTS | st.builds(lambda v: {"seq": v}, JSON))
def test_no_generated_body_gets_a_5xx(server: tuple[Server, Keys], path: str, body: Any) -> None:
    srv, keys = server
    r = httpx.post(srv.url + path, content=json.dumps(body).encode(), timeout=30,
                   headers={"Authorization": f"Bearer {keys.red}", "Content-Type": "application/json"})
    assert r.status_code < 500, (body, r.text[:300])
    no_traceback(srv)
