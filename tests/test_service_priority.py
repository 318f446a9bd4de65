"""Alerts before bulk work: what one party's flood may not put in front of another's alert.

Under a party's flood (tests/test_service_flood.py) an engine step that computes 60 ms took
450 ms of wall time beside the flood's batches and the pictures of its crowd, all on one
interpreter lock, and an alert recorded while a stream's picture was being built went out
after that picture (100-200 ms later). So a large batch and a picture publication wait for
a running step to end before they start, and a stream sends the events recorded while its
picture was built before the picture.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.sync.client import connect

from service_support import agreement_text, free_port, issue_keys
from sharedsky.agreement import loads_agreement
from sharedsky.record.keys import KeyInfo
from sharedsky.service.app import _submit_reports, create_app
from sharedsky.service.engine_loop import EngineLoop
from sharedsky.service.hotline import ALL
from sharedsky.service.jsonbody import PARSE_ON_LOOP_BYTES
from sharedsky.service.picture_feed import Frame, PictureFeed
from sharedsky.service.store import Hub

pytestmark = pytest.mark.timeout(60)

STEP_S = 1.0
BLUE = KeyInfo("k-blue", "blue", False, "", 0.0)


class SlowStep(EngineLoop):
    """An engine loop whose one step takes STEP_S; `inside` is set while it runs, `ended` after."""

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub, interval_s=60.0, min_interval_s=0.0)
        self.inside = threading.Event()
        self.ended_at = 0.0

    def step(self, now: float) -> list[Any]:
        self.inside.set()
        time.sleep(STEP_S)
        self.ended_at = time.monotonic()
        self._stop.set()  # one step only
        return []


class Rows:
    """A picture of a few aircraft, as the engine's `Picture` offers it to the feed."""

    t, seq = 1.0, 0

    def aircraft_for(self, who: Any) -> list[dict[str, Any]]:
        return [{"icao24": f"blue:aa{i:04x}", "latitude": 35.0, "longitude": 36.0 + i / 100} for i in range(5)]


def during_a_step(tmp_path: Path, work: Any) -> tuple[float, float, Any]:
    """Runs `work()` on a thread once a STEP_S engine step has begun; (when the work
    returned, when the step ended, what it returned), monotonic s."""
    tmp_path.mkdir(exist_ok=True)
    hub = Hub(loads_agreement(agreement_text()), str(tmp_path / "s.db"))
    loop = SlowStep(hub)
    loop.start()
    assert loop.inside.wait(10)
    out: dict[str, Any] = {}

    def run() -> None:
        out["value"] = work(hub)
        out["t"] = time.monotonic()

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    loop.stop()
    return out["t"], loop.ended_at, out["value"]


def test_a_picture_publication_waits_for_the_running_step(tmp_path: Path) -> None:
    def publish(hub: Hub) -> Frame | None:
        hub.picture, hub.picture_version = Rows(), 1
        return PictureFeed(hub, every_s=0.0).frame(BLUE, None)

    done, step_end, frame = during_a_step(tmp_path, publish)
    assert frame is not None and len(json.loads(frame.text)["aircraft"]) == 5
    assert done >= step_end, f"published {step_end - done:.2f} s before the step ended"


def batch(n: int) -> bytes:
    now = time.time()
    return json.dumps({"reports": [
        {"timestamp": now, "icao24": f"aa{i:04x}", "latitude": 35 + i * 0.001, "longitude": 36.0,
         "altitude": 20000, "groundspeed": 400, "track": 90} for i in range(n)]}).encode()


def test_a_large_batch_waits_for_the_running_step_and_a_small_one_does_not(tmp_path: Path) -> None:
    big = batch(1000)
    assert len(big) > PARSE_ON_LOOP_BYTES
    done, step_end, (n, _) = during_a_step(tmp_path / "big", lambda hub: _submit_reports(hub, BLUE, big))
    assert n == 1000
    assert done >= step_end, f"a large batch went in {step_end - done:.2f} s before the step ended"
    done, step_end, (n, _) = during_a_step(tmp_path / "small", lambda hub: _submit_reports(hub, BLUE, batch(3)))
    assert n == 3
    assert step_end - done > STEP_S / 2, "a small batch waited for the step"


class EventWhileBuilding(PictureFeed):
    """A feed whose one picture is built while an event is recorded for every party."""

    def __init__(self, hub: Hub) -> None:
        super().__init__(hub)
        self.built = False

    def due_in(self, who: Any, have: int | None) -> float | None:
        return None if self.built else 0.0

    def ready(self, who: Any, have: int | None) -> tuple[bool, Frame | None]:
        return False, None

    def frame(self, who: Any, have: int | None) -> Frame | None:
        self.hub.append_events([("unacknowledged", "", {"to": [ALL], "event": {
            "of_seq": 1, "of_kind": "notice", "party": "red", "ack_within_s": 60, "t": time.time()}}, None)])
        self.built = True
        return Frame.of(0, {"type": "picture", "t": 0.0, "seq": 0, "full": True, "aircraft": [], "removed": []})


def test_an_event_recorded_while_a_picture_is_built_goes_before_it(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(agreement_text())
    keys = issue_keys(tmp_path / "s.db")
    app = create_app(tmp_path / "a.toml", tmp_path / "s.db", run_engine=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        t0 = time.monotonic()
        while not server.started and time.monotonic() - t0 < 20:
            time.sleep(0.05)
        app.state.pictures = EventWhileBuilding(app.state.hub)
        kinds: list[str] = []
        with connect(f"ws://127.0.0.1:{port}/api/v1/stream?after=0",
                     additional_headers={"Authorization": f"Bearer {keys.blue}"}) as ws:
            while "picture" not in kinds:
                frame = json.loads(ws.recv(timeout=10))
                kinds.append(frame["type"] if frame["type"] != "event" else frame["event"]["kind"])
        assert "unacknowledged" in kinds and kinds.index("unacknowledged") < kinds.index("picture"), kinds
    finally:
        server.should_exit = True
        t.join(10)
