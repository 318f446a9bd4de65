"""Feed readers of live streams: Beast, AVR and SBS over TCP, and polled aircraft.json
or OpenSky REST; batches are cut every `batch_interval_s` of wall-clock time."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pandas as pd

from sharedsky.ingest.feeds.base import FeedError
from sharedsky.ingest.feeds.beast import BeastParser
from sharedsky.ingest.feeds.decode import FrameDecoder
from sharedsky.ingest.feeds.feed import Feed
from sharedsky.ingest.feeds.files import line_handler
from sharedsky.ingest.feeds.net import http_poll


def stream(feed: Feed, chunks: Iterator[bytes], reference: tuple[float, float] | None,
            batch_interval_s: float, batch_rows: int) -> Iterator[pd.DataFrame]:
    """Batches from a TCP byte stream, flushed every `batch_interval_s` of wall time."""
    fmt = feed.format
    parser = BeastParser(stats=feed.stats) if fmt == "beast" else None
    if parser is not None:
        feed.decoder = FrameDecoder(reference, source=feed.spec)
        handle = None
    else:
        handle = line_handler(feed, fmt, feed.spec, reference, 0.0)
    frames: list[str] = []
    times: list[float] = []
    lines: list[str] = []
    line_times: list[float] = []
    partial = ""
    last_flush = time.monotonic()
    drops = 0
    try:
        for chunk in chunks:
            now = time.time()
            if feed.link is not None and feed.link.drops != drops:
                # A new connection: bytes left over from the old one belong to no frame.
                drops = feed.link.drops
                if parser is not None and parser._buf:
                    parser._buf = b""
                    feed.stats.reject("cut_by_disconnect", 1)
                if partial:
                    partial = ""
                    feed.stats.reject("cut_by_disconnect", 1)
            if chunk:
                if parser is not None:
                    fr, _ = parser.feed(chunk)
                    frames.extend(fr)
                    times.extend([now] * len(fr))
                else:
                    text = partial + chunk.decode("utf-8", errors="replace")
                    parts = text.split("\n")
                    partial = parts.pop()
                    if len(partial) > 1 << 16:
                        feed.stats.reject("line_too_long", 1)
                        partial = ""
                    lines.extend(parts)
                    line_times.extend([now] * len(parts))
            due = time.monotonic() - last_flush >= batch_interval_s
            if due or len(frames) >= batch_rows or len(lines) >= batch_rows:
                last_flush = time.monotonic()
                if frames:
                    assert feed.decoder is not None
                    out = feed.decoder.decode(frames, np.asarray(times))
                    frames, times = [], []
                    if out.shape[0]:
                        yield out
                if lines and handle is not None:
                    out = handle(lines, now)
                    lines, line_times = [], []
                    if out.shape[0]:
                        yield out
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def poll(feed: Feed, url: str, interval_s: float, max_retries: int | None) -> Iterator[pd.DataFrame]:
    """Batches of new reports from a polled aircraft.json (or OpenSky REST) URL."""
    from sharedsky.ingest.feeds.opensky import from_rest
    from sharedsky.ingest.feeds.readsb import from_aircraft_json

    last = pd.Series(dtype=np.float64)
    for doc in http_poll(url, interval_s=interval_s, max_retries=max_retries, stats=feed.link):
        if doc is None:
            continue
        try:
            df = from_rest(doc, url) if feed.format == "opensky" else from_aircraft_json(doc, url, feed.stats)
        except FeedError as exc:
            feed.stats.reject("bad_document", 1, str(exc))
            continue
        if df.shape[0] == 0:
            continue
        t = df["timestamp"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
        prev = last.reindex(df["icao24"]).to_numpy(dtype=np.float64)
        new = ~(t <= prev)  # NaN (never seen) counts as new
        df = df.loc[new].reset_index(drop=True)
        if df.shape[0]:
            upd = pd.Series(t[new], index=df["icao24"].to_numpy())
            upd = upd[~upd.index.duplicated(keep="last")]
            last = pd.concat([last[~last.index.isin(upd.index)], upd])
            yield df

