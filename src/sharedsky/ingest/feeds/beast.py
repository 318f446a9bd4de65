"""Beast binary frames (dump1090/readsb port 30005): 0x1A, type, 6-byte MLAT clock,
signal byte, then the Mode S frame; any 0x1A after the type byte is doubled.

The parser is incremental (a TCP stream arrives in arbitrary pieces) and never raises
on bad bytes: it resynchronises on the next 0x1A and counts what it skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sharedsky.ingest.feeds.base import FeedStats

ESC = 0x1A
#: type byte -> payload length (Mode A/C, Mode S short, Mode S long)
_PAYLOAD = {0x31: 2, 0x32: 7, 0x33: 14}
MLAT_HZ = 12e6  # the Beast MLAT clock ticks at 12 MHz


@dataclass
class BeastParser:
    """Incremental Beast decoder: `feed(bytes)` -> (hex frames, MLAT counters)."""

    stats: FeedStats = field(default_factory=FeedStats)
    _buf: bytes = b""

    def feed(self, data: bytes) -> tuple[list[str], list[int]]:
        buf = self._buf + data
        frames: list[str] = []
        mlat: list[int] = []
        n = len(buf)
        i = 0
        keep_from = n
        while True:
            k = buf.find(ESC, i)
            if k != i and i < n:
                self.stats.reject("beast_junk_bytes", 1)  # bytes outside any frame
            i = k
            if i < 0:
                keep_from = n
                break
            if i + 1 >= n:
                keep_from = i
                break
            typ = buf[i + 1]
            if typ == ESC:  # a doubled escape out of sync: skip both bytes
                i += 2
                continue
            size = _PAYLOAD.get(typ)
            if size is None:
                self.stats.reject("beast_bad_type", 1)
                i += 1
                continue
            need = 7 + size
            body = buf[i + 2 : i + 2 + need]
            j = i + 2 + need
            if ESC in body:
                body, j, broken = _unescape(buf, i + 2, need)
                if broken:
                    self.stats.reject("beast_broken_frame", 1)
                    i = j
                    continue
            if len(body) < need:
                keep_from = i
                break
            if typ == 0x31:
                self.stats.reject("mode_ac", 1)
            else:
                mlat.append(int.from_bytes(body[:6], "big"))
                frames.append(body[7:].hex())
            i = j
        self._buf = buf[keep_from:]
        if len(self._buf) > 1 << 16:  # never hold on to junk without bound
            self.stats.reject("beast_junk_bytes", 1)
            self._buf = b""
        self.stats.items += len(frames)
        return frames, mlat


def _unescape(buf: bytes, start: int, need: int) -> tuple[bytes, int, bool]:
    """Read `need` unescaped bytes from `start`; (bytes, next index, broken?)."""
    out = bytearray()
    j = start
    n = len(buf)
    while len(out) < need and j < n:
        b = buf[j]
        if b == ESC:
            if j + 1 >= n:
                break
            if buf[j + 1] != ESC:  # a lone 0x1A: a new frame starts, this one is cut
                return bytes(out), j, True
            j += 2
        else:
            j += 1
        out.append(b)
    return bytes(out), j, False
