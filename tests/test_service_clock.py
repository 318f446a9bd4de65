"""Reports from the future (issue 14, defect 2), against a real `sharedsky serve`.

A report may be stamped at most `[line] clock_skew_s` (default 2 s) ahead of the
service's clock; beyond that it is refused with a 422 naming the field. An accepted
report from a fast clock is taken as reported now, so it is in the picture at once and
never blocks a later correct report.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from service_support import Keys, Server, agreement_text, issue_keys
from sharedsky.client import Client, ServiceError

pytestmark = pytest.mark.timeout(120)


def start(tmp_path_factory: pytest.TempPathFactory, extra: str = "") -> tuple[Server, Keys]:
    d = tmp_path_factory.mktemp("clock")
    (d / "a.toml").write_text(agreement_text(disclosure="all") + extra)
    keys = issue_keys(d / "s.db")
    return Server(d / "a.toml", d / "s.db").start(), keys


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    srv, keys = start(tmp_path_factory)
    yield srv, keys
    srv.stop()


def rep(icao: str, t: float, lat: float = 35.0) -> dict[str, object]:
    return {"timestamp": t, "icao24": icao, "latitude": lat, "longitude": 36.0, "altitude": 20000,
            "groundspeed": 0, "track": 0}


def test_a_report_beyond_the_agreed_skew_is_refused_naming_the_field(world: tuple[Server, Keys]) -> None:
    srv, k = world
    blue = Client(srv.url, k.blue)
    with pytest.raises(ServiceError) as err:
        blue.push_reports([rep("aa0201", time.time()), rep("aa0202", time.time() + 3.0)])
    assert err.value.status == 422
    assert err.value.detail.startswith("reports[1].timestamp:") and "clock_skew_s" in err.value.detail
    with pytest.raises(ServiceError) as err:
        blue.push_reports([rep("aa0202", time.time() + 59.0)])
    assert err.value.status == 422


def test_a_fast_clock_neither_hides_its_aircraft_nor_blocks_fresher_reports(world: tuple[Server, Keys]) -> None:
    srv, k = world
    blue, red, sup = Client(srv.url, k.blue), Client(srv.url, k.red), Client(srv.url, k.sup)
    # blue's clock is 1.8 s fast: accepted, and in every picture from the next step on
    blue.push_reports([rep("aa0301", time.time() + 1.8, lat=35.0)])
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < 2.0:
        seen.append(any(a["icao24"] == "aa0301" for a in red.aircraft()))
        time.sleep(0.1)
    assert seen[-1] and sum(seen) >= len(seen) - 12, seen  # visible within about one engine step
    # a correct report right after it, at a new position, is taken (it is the fresher one)
    time.sleep(0.2)
    assert blue.push_reports([rep("aa0301", time.time(), lat=35.5)])["accepted"] == 1
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3.0:
        a = next((a for a in sup.aircraft() if a["icao24"] == "aa0301"), None)
        if a is not None and a["latitude"] == pytest.approx(35.5, abs=0.01):
            break
        time.sleep(0.1)
    assert a is not None and a["latitude"] == pytest.approx(35.5, abs=0.01), a
    assert a["t_report"] <= time.time() + 0.1  # nothing in the picture is stamped ahead of the clock


def test_the_agreement_sets_the_accepted_skew(tmp_path_factory: pytest.TempPathFactory) -> None:
    srv, k = start(tmp_path_factory, "\n[line]\nclock_skew_s = 10\n")
    try:
        blue = Client(srv.url, k.blue)
        assert blue.push_reports([rep("aa0401", time.time() + 8.0)])["accepted"] == 1
        with pytest.raises(ServiceError) as err:
            blue.push_reports([rep("aa0402", time.time() + 12.0)])
        assert err.value.status == 422 and "at most 10 s" in err.value.detail
    finally:
        srv.stop()
