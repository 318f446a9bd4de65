"""Feeds: everything that brings reports in, as time-ordered batches of the report table.

`open_feed(spec, fmt=None)` accepts a file path (format by extension, or `fmt`) or a
live stream:

==========================  ========================================================
``beast://host:30005``      Beast binary (dump1090/readsb), decoded with `FrameDecoder`
``raw://host:30002``        AVR hex lines (``avr://`` too)
``sbs://host:30003``        SBS/BaseStation lines
``http(s)://.../aircraft.json``  readsb/dump1090 JSON, polled (``fmt="opensky"``: REST)
``*.bin``, ``*.beast``      Beast file (MLAT clock for relative times, see below)
``*.avr``, ``*.raw``        AVR lines;  ``*.sbs``, ``*.basestation``: SBS lines
``*.jsonl[.gz]``            JSON lines: raw frames (``frame`` + ``timestamp``,
                            rs1090/jet1090 convention; other fields ignored) or records
``*.json[.gz]``             traffic JSON (rows or columns), readsb ``aircraft.json``,
                            readsb trace, or OpenSky REST ``states``: by content
``*.csv[.gz]``, ``*.parquet``  traffic tables, or OpenSky historical state vectors
==========================  ========================================================

A Beast or AVR file has no wall-clock time: its MLAT clock gives relative times from
`start_s` (default: the file's modification time). Live streams are timed on receipt.
The returned `Feed` is an iterator of DataFrames that also exposes `.stats`
(items and rejections by reason), `.link` (network counters) and progress figures.
"""

from __future__ import annotations

import os
from pathlib import Path

from sharedsky.ingest.feeds.base import FeedError
from sharedsky.ingest.feeds.derive import TrackBuilder
from sharedsky.ingest.feeds.feed import Feed
from sharedsky.ingest.feeds.files import beast_file, lines_file, table_file
from sharedsky.ingest.feeds.live import poll, stream
from sharedsky.ingest.feeds.net import LinkStats, parse_hostport, tcp_chunks

FORMATS = ("beast", "avr", "sbs", "jsonl", "json", "csv", "parquet", "aircraft-json",
           "readsb-trace", "opensky")
_ALIASES = {"raw": "avr", "readsb": "aircraft-json", "readsb-json": "aircraft-json",
            "trace": "readsb-trace", "bin": "beast", "basestation": "sbs", "traffic": "json"}
_SCHEMES = {"beast": "beast", "raw": "avr", "avr": "avr", "sbs": "sbs"}
_DEFAULT_PORTS = {"beast": 30005, "avr": 30002, "sbs": 30003}
_EXT = {".bin": "beast", ".beast": "beast", ".avr": "avr", ".raw": "avr", ".hex": "avr",
        ".sbs": "sbs", ".basestation": "sbs", ".jsonl": "jsonl", ".json": "json",
        ".csv": "csv", ".parquet": "parquet"}


def normalise_format(fmt: str) -> str:
    f = fmt.strip().lower().lstrip(".")
    f = _ALIASES.get(f, f)
    if f not in FORMATS:
        raise FeedError(f"unknown feed format {fmt!r} (known: {', '.join(FORMATS)})")
    return f


def detect_format(path: str | Path) -> str:
    """Format of a file from its extension (a trailing .gz is looked through)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    ext = os.path.splitext(name)[1]
    if ext not in _EXT:
        raise FeedError(f"{path}: cannot tell the format from the extension {ext!r}; give --format "
                        f"({', '.join(FORMATS)})")
    return _EXT[ext]


def open_feed(
    spec: str,
    fmt: str | None = None,
    *,
    reference: tuple[float, float] | None = None,
    batch_rows: int = 50_000,
    batch_interval_s: float = 1.0,
    max_retries: int | None = None,
    poll_interval_s: float = 1.0,
    start_s: float | None = None,
    backoff_initial_s: float = 0.5,
    derive: bool = True,
) -> Feed:
    """Open a file or stream; iterate to get time-ordered batches of normalised reports.

    `reference`: the receiver's (lat, lon), for surface positions and local CPR
    decoding. `derive`: fill ground speed, track and vertical rate from consecutive
    positions for aircraft that do not report them (`feed.tracks` keeps each aircraft's
    latest state). Streams reconnect with back-off; `max_retries` failures in a row end
    them with `FeedError`.
    """
    feed = _open(str(spec), fmt, reference=reference, batch_rows=batch_rows,
                 batch_interval_s=batch_interval_s, max_retries=max_retries,
                 poll_interval_s=poll_interval_s, start_s=start_s, backoff_initial_s=backoff_initial_s)
    if derive:
        feed.tracks = TrackBuilder()
    return feed


def _open(spec: str, fmt: str | None, *, reference: tuple[float, float] | None, batch_rows: int,
          batch_interval_s: float, max_retries: int | None, poll_interval_s: float, start_s: float | None,
          backoff_initial_s: float) -> Feed:
    if "://" in spec:
        scheme = spec.split("://", 1)[0].lower()
        if scheme in ("http", "https"):
            f = normalise_format(fmt) if fmt else "aircraft-json"
            feed = Feed(spec, f)
            feed.link = LinkStats()
            feed._gen = poll(feed, spec, poll_interval_s, max_retries)
            return feed
        if scheme not in _SCHEMES:
            raise FeedError(f"{spec}: unknown scheme {scheme!r} (beast, raw, avr, sbs, http, https)")
        f = _SCHEMES[scheme]
        host, port = parse_hostport(spec, _DEFAULT_PORTS[f])
        feed = Feed(spec, f)
        feed.link = LinkStats()
        chunks = tcp_chunks(host, port, max_retries=max_retries, stats=feed.link,
                            backoff_initial_s=backoff_initial_s)
        feed._gen = stream(feed, chunks, reference, batch_interval_s, batch_rows)
        return feed
    path = Path(spec)
    if not path.exists():
        raise FeedError(f"{path}: no such file")
    if path.is_dir():
        raise FeedError(f"{path}: is a directory, not a recording")
    f = normalise_format(fmt) if fmt else detect_format(path)
    feed = Feed(spec, f)
    feed.size_bytes = path.stat().st_size
    base = start_s if start_s is not None else path.stat().st_mtime
    if f == "beast":
        feed._gen = beast_file(feed, path, base, reference, batch_rows)
    elif f in ("avr", "sbs", "jsonl"):
        feed._gen = lines_file(feed, path, f, base, reference, batch_rows)
    else:
        feed._gen = table_file(feed, path, f, batch_rows)
    return feed

