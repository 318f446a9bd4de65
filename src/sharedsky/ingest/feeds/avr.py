"""Raw/AVR hex frames (dump1090 port 30002): one frame per line, `*8d4840d6...;`.

Also accepted: `@` + 12 hex digits of 12 MHz MLAT clock + frame (`@0000010203048d...;`),
`:` prefixed frames, and bare hex lines. Anything else is counted, never raised.
"""

from __future__ import annotations

from sharedsky.ingest.feeds.base import FeedStats

_HEX = set("0123456789abcdefABCDEF")


def parse_avr_lines(lines: list[str], stats: FeedStats) -> tuple[list[str], list[int | None]]:
    """Hex frames and MLAT counters (None when the line has none) of AVR lines."""
    frames: list[str] = []
    mlat: list[int | None] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        stats.items += 1
        clock: int | None = None
        if line[0] in "*:":
            body = line[1:]
        elif line[0] == "@":
            body = line[1:]
            if len(body) < 12 or not set(body[:12]) <= _HEX:
                stats.reject("avr_bad_line", 1, line)
                continue
            clock = int(body[:12], 16)
            body = body[12:]
        else:
            body = line
        body = body.rstrip(";").strip()
        if len(body) not in (14, 28) or not set(body) <= _HEX:
            stats.reject("avr_bad_line", 1, line)
            continue
        frames.append(body.lower())
        mlat.append(clock)
    return frames, mlat
