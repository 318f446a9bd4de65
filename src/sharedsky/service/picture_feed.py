"""The air picture on the streams: one encoded frame per view, shared by every stream of it.

A view is what one key may see: a party's disclosure, or everything for supervisors.
Each view is published at most every `every_s`, when the engine has made a new picture:
a delta from the view's previous publication (changed rows, removed ids), and, only when
a stream asks for it, the whole picture. A stream that holds the previous publication is
sent the delta, any other (new, or fallen behind) the whole picture, and every stream of
the view is sent the same bytes, encoded once.

Per stream, nothing is kept but the number of the last publication it was sent. Before,
each stream kept a hash of every row it had sent and built and encoded its own frames:
100 non-reading subscribers of a 3,000-aircraft picture cost the server 101-117 MB, each
holding its own copies of frames it would never send (issue 14, defect 8). A changed row
whose 64-bit hash equals the old one's is not sent until it changes again (about one
change in 10^19).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

#: The air picture goes out at most this often per view (events go out at once).
PICTURE_EVERY_S = 0.9


@dataclass(frozen=True)
class Frame:
    """One picture frame of a view: its publication number, and its JSON as text and as UTF-8."""

    serial: int
    text: str
    utf8: bytes

    @classmethod
    def of(cls, serial: int, frame: dict[str, Any]) -> Frame:
        # orjson (Apache-2.0/MIT): 10,000 aircraft in 6 ms against the standard library's
        # 95 ms, the same bytes; it was the service's largest holder of the interpreter
        # lock under a party's flood (a quarter of it), delaying every other party's alerts.
        utf8 = orjson.dumps(frame)
        return cls(serial, utf8.decode(), utf8)


@dataclass
class _View:
    """The latest publication of one view."""

    serial: int = -1
    version: int = -1  # the hub's picture version it was made from
    at: float = -1e9  # when (monotonic s)
    t: float = 0.0
    seq: int = 0  # the record seq the picture was built from (`Picture.seq`)
    hashes: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    delta: Frame | None = None
    full: Frame | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class PictureFeed:
    """Publishes each view's picture frames for every stream of the view (thread-safe)."""

    def __init__(self, hub: Any, every_s: float = PICTURE_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.hub = hub
        self.every_s = every_s
        self.clock = clock
        self._views: dict[str, _View] = {}
        self._lock = threading.Lock()

    def _view(self, who: Any) -> _View:
        key = "*" if who.supervisor else who.party
        with self._lock:
            v = self._views.get(key)
            if v is None:
                v = self._views[key] = _View()
        return v

    def frame(self, who: Any, have: int | None) -> Frame | None:
        """The frame to send a stream of `who` that holds publication `have` (None: nothing
        yet), or None when it holds the latest. May publish; run it off the event loop."""
        v = self._view(who)
        with v.lock:
            pic, version = self.hub.picture, self.hub.picture_version
            if pic is not None and version != v.version and self.clock() - v.at >= self.every_s:
                self._publish(v, who, pic, version)
            if v.serial < 0 or have == v.serial:
                return None
            if have is not None and have == v.serial - 1:
                return v.delta
            if v.full is None:
                v.full = Frame.of(v.serial, {"type": "picture", "t": v.t, "seq": v.seq, "full": True,
                                             "aircraft": v.rows, "removed": []})
            return v.full

    def ready(self, who: Any, have: int | None) -> tuple[bool, Frame | None]:
        """(True, what `frame` would return) when that needs nothing built, else (False, None):
        the event loop answers most streams itself and sends only a publication to a worker."""
        v = self._view(who)
        with v.lock:
            if (self.hub.picture is not None and self.hub.picture_version != v.version
                    and self.clock() - v.at >= self.every_s):
                return False, None  # a publication is due
            if v.serial < 0 or have == v.serial:
                return True, None
            if have is not None and have == v.serial - 1:
                return True, v.delta
            return (True, v.full) if v.full is not None else (False, None)

    def due_in(self, who: Any, have: int | None) -> float | None:
        """Seconds until a frame may be due for a stream holding `have`, None if none is pending."""
        v = self._view(who)
        if have != v.serial and v.serial >= 0:
            return 0.0
        if self.hub.picture is None or self.hub.picture_version == v.version:
            return None
        return max(0.0, self.every_s - (self.clock() - v.at))

    def _publish(self, v: _View, who: Any, pic: Any, version: int) -> None:
        self.hub.yield_to_engine()  # the step's alerts first
        rows = pic.aircraft_for(who)
        now: dict[str, int] = {}
        changed: list[dict[str, Any]] = []
        old = v.hashes
        for r in rows:
            h = hash(tuple(r.values()))
            now[r["icao24"]] = h
            if old.get(r["icao24"]) != h:
                changed.append(r)
        removed = [k for k in old if k not in now]
        v.serial += 1
        v.delta = Frame.of(v.serial, {"type": "picture", "t": pic.t, "seq": pic.seq, "full": False,
                                      "aircraft": changed, "removed": removed})
        v.full = None
        v.hashes, v.rows, v.t, v.seq = now, rows, pic.t, pic.seq
        v.version, v.at = version, self.clock()
