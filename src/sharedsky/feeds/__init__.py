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

import gzip
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.feeds.base import FeedError, FeedStats, reports_from_columns
from sharedsky.feeds.beast import MLAT_HZ, BeastParser
from sharedsky.feeds.decode import FrameDecoder
from sharedsky.feeds.derive import TrackBuilder
from sharedsky.feeds.net import LinkStats, http_poll, parse_hostport, tcp_chunks

__all__ = ["FORMATS", "Feed", "FeedError", "FeedStats", "FrameDecoder", "TrackBuilder", "detect_format",
           "open_feed"]

FORMATS = ("beast", "avr", "sbs", "jsonl", "json", "csv", "parquet", "aircraft-json",
           "readsb-trace", "opensky")
_ALIASES = {"raw": "avr", "readsb": "aircraft-json", "readsb-json": "aircraft-json",
            "trace": "readsb-trace", "bin": "beast", "basestation": "sbs", "traffic": "json"}
_SCHEMES = {"beast": "beast", "raw": "avr", "avr": "avr", "sbs": "sbs"}
_DEFAULT_PORTS = {"beast": 30005, "avr": 30002, "sbs": 30003}
_EXT = {".bin": "beast", ".beast": "beast", ".avr": "avr", ".raw": "avr", ".hex": "avr",
        ".sbs": "sbs", ".basestation": "sbs", ".jsonl": "jsonl", ".json": "json",
        ".csv": "csv", ".parquet": "parquet"}


class Feed:
    """An iterator of report batches with counters: `.stats`, `.link`, `.done_bytes`."""

    def __init__(self, spec: str, fmt: str) -> None:
        self.spec = spec
        self.format = fmt
        self.stats = FeedStats()
        self.link: LinkStats | None = None
        self.decoder: FrameDecoder | None = None
        self.size_bytes: int | None = None
        self.done_bytes = 0
        #: latest merged state per aircraft (and derived motion), when `derive` is on
        self.tracks: TrackBuilder | None = None
        self._gen: Iterator[pd.DataFrame] = iter(())

    def __iter__(self) -> Feed:
        return self

    def __next__(self) -> pd.DataFrame:
        batch = next(self._gen)
        return self.tracks.update(batch) if self.tracks is not None else batch

    def close(self) -> None:
        close = getattr(self._gen, "close", None)
        if close is not None:
            close()

    def rejected(self) -> dict[str, int]:
        """Rejections by reason, the reader's and the decoder's together."""
        out = dict(self.stats.rejected)
        if self.decoder is not None:
            for k, v in self.decoder.stats.rejected.items():
                out[k] = out.get(k, 0) + v
        return out


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
            feed._gen = _poll(feed, spec, poll_interval_s, max_retries)
            return feed
        if scheme not in _SCHEMES:
            raise FeedError(f"{spec}: unknown scheme {scheme!r} (beast, raw, avr, sbs, http, https)")
        f = _SCHEMES[scheme]
        host, port = parse_hostport(spec, _DEFAULT_PORTS[f])
        feed = Feed(spec, f)
        feed.link = LinkStats()
        chunks = tcp_chunks(host, port, max_retries=max_retries, stats=feed.link,
                            backoff_initial_s=backoff_initial_s)
        feed._gen = _stream(feed, chunks, reference, batch_interval_s, batch_rows)
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
        feed._gen = _beast_file(feed, path, base, reference, batch_rows)
    elif f in ("avr", "sbs", "jsonl"):
        feed._gen = _lines_file(feed, path, f, base, reference, batch_rows)
    else:
        feed._gen = _table_file(feed, path, f, batch_rows)
    return feed


# -- files ---------------------------------------------------------------------------


def _open_bytes(path: Path) -> tuple[gzip.GzipFile | io.BufferedReader, io.BufferedReader]:
    """(stream to read, raw file for progress); gzip by magic number, not by name."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw), raw
    return raw, raw


def _beast_file(feed: Feed, path: Path, base: float, reference: tuple[float, float] | None,
                batch_rows: int) -> Iterator[pd.DataFrame]:
    parser = BeastParser(stats=feed.stats)
    feed.decoder = FrameDecoder(reference, source=path.name)
    stream, raw = _open_bytes(path)
    mlat0: int | None = None
    with raw:
        while True:
            try:
                chunk = stream.read(1 << 20)
            except (OSError, EOFError) as exc:
                raise FeedError(f"{path}: cannot read: {exc}") from exc
            if not chunk:
                break
            feed.done_bytes = raw.tell()
            frames, mlat = parser.feed(chunk)
            if not frames:
                continue
            clock = np.asarray(mlat, dtype=np.float64)
            if mlat0 is None:
                mlat0 = int(clock[0])
            t = base + (clock - mlat0) / MLAT_HZ
            yield from _decoded(feed, frames, t, batch_rows)


def _decoded(feed: Feed, frames: list[str], t: np.ndarray, batch_rows: int) -> Iterator[pd.DataFrame]:
    assert feed.decoder is not None
    for i in range(0, len(frames), batch_rows):
        out = feed.decoder.decode(frames[i : i + batch_rows], t[i : i + batch_rows])
        if out.shape[0]:
            yield out


def _lines_file(feed: Feed, path: Path, fmt: str, base: float, reference: tuple[float, float] | None,
                batch_rows: int) -> Iterator[pd.DataFrame]:
    stream, raw = _open_bytes(path)
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
    handle = _line_handler(feed, fmt, path.name, reference, base)
    with raw:
        while True:
            try:
                lines = text.readlines(1 << 22)
            except (OSError, EOFError) as exc:
                raise FeedError(f"{path}: cannot read: {exc}") from exc
            if not lines:
                break
            feed.done_bytes = raw.tell()
            for i in range(0, len(lines), batch_rows):
                out = handle(lines[i : i + batch_rows], None)
                if out.shape[0]:
                    yield out


def _line_handler(feed: Feed, fmt: str, source: str, reference: tuple[float, float] | None,
                  base: float) -> Callable[[list[str], float | None], pd.DataFrame]:
    """A function turning a list of text lines (and the time they arrived) into reports."""
    from sharedsky.feeds.avr import parse_avr_lines
    from sharedsky.feeds.sbs import parse_sbs_lines

    if fmt == "sbs":
        return lambda lines, now: parse_sbs_lines(lines, feed.stats, source, now_s=now)
    feed.decoder = FrameDecoder(reference, source=source)
    if fmt == "avr":
        state: dict[str, int] = {}

        def avr(lines: list[str], now: float | None) -> pd.DataFrame:
            frames, mlat = parse_avr_lines(lines, feed.stats)
            if now is not None:
                t = np.full(len(frames), now)
            else:
                clock = np.array([np.nan if c is None else c for c in mlat], dtype=np.float64)
                if "mlat0" not in state and np.isfinite(clock).any():
                    state["mlat0"] = int(clock[np.isfinite(clock)][0])
                t = base + np.nan_to_num((clock - state.get("mlat0", 0)) / MLAT_HZ, nan=0.0)
            assert feed.decoder is not None
            return feed.decoder.decode(frames, t)

        return avr

    def jsonl(lines: list[str], now: float | None) -> pd.DataFrame:
        return _jsonl_lines(feed, lines, source)

    return jsonl


def _jsonl_lines(feed: Feed, lines: list[str], source: str) -> pd.DataFrame:
    """JSON lines: raw frames (decoded from `frame` alone) and/or report records."""
    frames: list[str] = []
    times: list[Any] = []
    records: list[dict[str, Any]] = []
    loads = json.loads
    for line in lines:
        if not line.strip():
            continue
        feed.stats.items += 1
        try:
            rec = loads(line)
        except ValueError:
            feed.stats.reject("jsonl_bad_line", 1, line)
            continue
        if not isinstance(rec, dict):
            feed.stats.reject("jsonl_bad_line", 1, line)
            continue
        fr = rec.get("frame")
        if fr is not None:
            if not isinstance(fr, str):
                feed.stats.reject("jsonl_bad_frame", 1, line)
                continue
            frames.append(fr)
            times.append(rec.get("timestamp"))
        else:
            records.append(rec)
    parts = []
    if frames:
        t = _times(times)
        bad = ~np.isfinite(t)
        feed.stats.reject("jsonl_bad_timestamp", int(bad.sum()))
        keep = np.flatnonzero(~bad)
        assert feed.decoder is not None
        parts.append(feed.decoder.decode([frames[i] for i in keep], t[keep]))
    if records:
        parts.append(_records(feed, records, source))
    if not parts:
        return reports_from_columns({"timestamp": np.empty(0)}, source)
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _times(values: list[Any]) -> np.ndarray:
    """Epoch seconds from numbers (s or ms) or date strings; NaN where unreadable."""
    num = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=np.float64)
    if np.isnan(num).any():
        strs = [v if isinstance(v, str) else None for v in values]
        if any(strs):
            dt = pd.to_datetime(pd.Series(strs, dtype=object), errors="coerce", utc=True, format="ISO8601")
            as_s = dt.to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
            num = np.where(np.isnan(num) & dt.notna().to_numpy(), as_s, num)
    with np.errstate(invalid="ignore"):
        num = np.where(num > 1e11, num / 1000.0, num)
    return num


def _records(feed: Feed, records: list[dict[str, Any]], source: str) -> pd.DataFrame:
    df = pd.DataFrame.from_records(records)
    return _traffic_table(feed, df, source)


def _traffic_table(feed: Feed, df: pd.DataFrame, source: str) -> pd.DataFrame:
    """A traffic-library table (any of its layouts) -> normalised reports; bad rows counted."""
    from sharedsky.feeds.opensky import HISTORICAL, from_historical
    from sharedsky.schema import normalise

    if HISTORICAL <= set(df.columns):
        return from_historical(df, source)
    missing = [c for c in ("timestamp", "icao24") if c not in df]
    if missing:
        raise FeedError(f"{source}: missing column(s) {', '.join(missing)}")
    n = df.shape[0]
    t = df["timestamp"]
    if not pd.api.types.is_datetime64_any_dtype(t):
        ts = _times(t.tolist())
        bad = ~np.isfinite(ts)
        df = df.loc[~bad].copy()
        df["timestamp"] = pd.to_datetime(np.round(ts[~bad] * 1e6).astype("int64"), unit="us", utc=True)
        feed.stats.reject("bad_timestamp", int(bad.sum()))
    feed.stats.items += n
    try:
        out = normalise(df, source=source)
    except (ValueError, TypeError) as exc:
        raise FeedError(f"{source}: cannot read reports: {exc}") from exc
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _table_file(feed: Feed, path: Path, fmt: str, batch_rows: int) -> Iterator[pd.DataFrame]:
    from sharedsky.feeds.opensky import from_rest
    from sharedsky.feeds.readsb import from_aircraft_json, from_trace

    source = path.name
    try:
        if fmt in ("json", "aircraft-json", "readsb-trace", "opensky") and not path.name.lower().endswith((".csv", ".csv.gz", ".parquet")):
            stream, raw = _open_bytes(path)
            with raw:
                doc = json.load(io.TextIOWrapper(stream, encoding="utf-8"))
            if isinstance(doc, dict) and (fmt == "aircraft-json" or "aircraft" in doc):
                df = from_aircraft_json(doc, source, feed.stats)
            elif isinstance(doc, dict) and (fmt == "readsb-trace" or "trace" in doc):
                df = from_trace(doc, source, feed.stats)
            elif isinstance(doc, dict) and (fmt == "opensky" or "states" in doc):
                df = from_rest(doc, source)
            elif isinstance(doc, list):
                if not all(isinstance(r, dict) for r in doc):
                    raise FeedError(f"{path}: a JSON list of reports must hold objects")
                df = _traffic_table(feed, pd.DataFrame.from_records(doc), source)
            elif isinstance(doc, dict) and all(isinstance(v, dict | list) for v in doc.values()):
                cols = {k: pd.Series(v) for k, v in doc.items()}
                df = _traffic_table(feed, pd.DataFrame(cols), source)
            else:
                raise FeedError(f"{path}: JSON is neither a traffic table, aircraft.json, a trace nor OpenSky states")
        elif fmt == "parquet" or (fmt == "opensky" and path.name.lower().endswith(".parquet")):
            df = _traffic_table(feed, pd.read_parquet(path), source)
        elif fmt in ("csv", "opensky"):
            df = _traffic_table(feed, pd.read_csv(path), source)
        else:
            raise FeedError(f"{path}: format {fmt!r} is not a table format")
    except FeedError:
        raise
    except (OSError, EOFError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise FeedError(f"{path}: cannot read as {fmt}: {exc}") from exc
    except Exception as exc:  # pyarrow and csv raise their own types
        raise FeedError(f"{path}: cannot read as {fmt}: {exc}") from exc
    feed.done_bytes = feed.size_bytes or 0
    for i in range(0, max(df.shape[0], 1), batch_rows):
        part = df.iloc[i : i + batch_rows]
        if part.shape[0]:
            yield part.reset_index(drop=True)


# -- streams -------------------------------------------------------------------------


def _stream(feed: Feed, chunks: Iterator[bytes], reference: tuple[float, float] | None,
            batch_interval_s: float, batch_rows: int) -> Iterator[pd.DataFrame]:
    """Batches from a TCP byte stream, flushed every `batch_interval_s` of wall time."""
    fmt = feed.format
    parser = BeastParser(stats=feed.stats) if fmt == "beast" else None
    if parser is not None:
        feed.decoder = FrameDecoder(reference, source=feed.spec)
        handle = None
    else:
        handle = _line_handler(feed, fmt, feed.spec, reference, 0.0)
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


def _poll(feed: Feed, url: str, interval_s: float, max_retries: int | None) -> Iterator[pd.DataFrame]:
    """Batches of new reports from a polled aircraft.json (or OpenSky REST) URL."""
    from sharedsky.feeds.opensky import from_rest
    from sharedsky.feeds.readsb import from_aircraft_json

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
