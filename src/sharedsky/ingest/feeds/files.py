"""Feed readers of files: Beast, AVR/SBS/JSON lines, and whole tables (traffic JSON,
CSV, Parquet, readsb aircraft.json and traces, OpenSky), each yielding report batches."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sharedsky.ingest.feeds.base import FeedError, reports_from_columns
from sharedsky.ingest.feeds.beast import MLAT_HZ, BeastParser
from sharedsky.ingest.feeds.decode import FrameDecoder
from sharedsky.ingest.feeds.feed import Feed
from sharedsky.ingest.schema import empty_reports

#: Columns a traffic table must have (its altitude may be missing: altitude unknown).
TABLE_COLUMNS = ("timestamp", "icao24", "latitude", "longitude")


def _open_bytes(path: Path) -> tuple[gzip.GzipFile | io.BufferedReader, io.BufferedReader]:
    """(stream to read, raw file for progress); gzip by magic number, not by name."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw), raw
    return raw, raw


def beast_file(feed: Feed, path: Path, base: float, reference: tuple[float, float] | None,
                batch_rows: int) -> Iterator[pd.DataFrame]:
    """Batches of a Beast file, timed by its MLAT clock from `base`."""
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


def lines_file(feed: Feed, path: Path, fmt: str, base: float, reference: tuple[float, float] | None,
                batch_rows: int) -> Iterator[pd.DataFrame]:
    """Batches of a text file of AVR, SBS or JSON lines (gzip by magic number)."""
    stream, raw = _open_bytes(path)
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace")
    handle = line_handler(feed, fmt, path.name, reference, base)
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


def line_handler(feed: Feed, fmt: str, source: str, reference: tuple[float, float] | None,
                  base: float) -> Callable[[list[str], float | None], pd.DataFrame]:
    """A function turning a list of text lines (and the time they arrived) into reports."""
    from sharedsky.ingest.feeds.avr import parse_avr_lines
    from sharedsky.ingest.feeds.sbs import parse_sbs_lines

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
        parts.append(records_table(feed, records, source))
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


def records_table(feed: Feed, records: list[dict[str, Any]], source: str) -> pd.DataFrame:
    """Report table of a list of JSON records (traffic or receiver fields)."""
    df = pd.DataFrame.from_records(records)
    return _traffic_table(feed, df, source)


def _traffic_table(feed: Feed, df: pd.DataFrame, source: str,
                   required: tuple[str, ...] = ("timestamp", "icao24")) -> pd.DataFrame:
    """A traffic-library table (any of its layouts) -> normalised reports; bad rows counted."""
    from sharedsky.ingest.feeds.opensky import HISTORICAL, from_historical
    from sharedsky.ingest.schema import normalise

    if HISTORICAL <= set(df.columns):
        return from_historical(df, source)
    missing = [c for c in required if c not in df]
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


def parquet_times(path: Path) -> np.ndarray | None:
    """Epoch seconds of a traffic Parquet file's `timestamp` column, read alone (a few
    bytes per report); None if it has none (another layout, read whole)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if "timestamp" not in pf.schema_arrow.names:
        return None
    col = pf.read(columns=["timestamp"]).column(0).to_pandas()
    if pd.api.types.is_datetime64_any_dtype(col):
        from sharedsky.ingest.schema import epoch_s

        return np.asarray(epoch_s(col), dtype=np.float64)
    return _times(col.tolist())


def _parquet_chunks(feed: Feed, path: Path, batch_rows: int) -> Iterator[pd.DataFrame]:
    """A traffic Parquet file in chunks of `batch_rows` reports, each normalised (and
    sorted) on its own: a large recording is never held whole. `attrs["not_numbers"]`
    counts the values so far (readers keep the largest)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    not_numbers: dict[str, int] = {}
    for batch in pf.iter_batches(batch_size=batch_rows):
        df = _traffic_table(feed, batch.to_pandas(), path.name, TABLE_COLUMNS)
        for col, n in df.attrs.get("not_numbers", {}).items():
            not_numbers[col] = not_numbers.get(col, 0) + n
        df.attrs["not_numbers"] = dict(not_numbers)
        if df.shape[0]:
            yield df
    feed.done_bytes = feed.size_bytes or 0


def table_file(feed: Feed, path: Path, fmt: str, batch_rows: int) -> Iterator[pd.DataFrame]:
    """Batches of a whole table file: traffic JSON/CSV/Parquet, readsb, OpenSky."""
    from sharedsky.ingest.feeds.opensky import from_rest
    from sharedsky.ingest.feeds.readsb import from_aircraft_json, from_trace

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
                df = _traffic_table(feed, pd.DataFrame.from_records(doc), source, TABLE_COLUMNS) if doc else empty_reports()
            elif isinstance(doc, dict) and all(isinstance(v, dict | list) for v in doc.values()):
                cols = {k: pd.Series(v) for k, v in doc.items()}
                df = _traffic_table(feed, pd.DataFrame(cols), source, TABLE_COLUMNS)
            else:
                raise FeedError(f"{path}: JSON is neither a traffic table, aircraft.json, a trace nor OpenSky states")
        elif fmt == "parquet" and parquet_times(path) is not None:
            yield from _parquet_chunks(feed, path, batch_rows)
            return
        elif fmt == "parquet" or (fmt == "opensky" and path.name.lower().endswith(".parquet")):
            df = _traffic_table(feed, pd.read_parquet(path), source, TABLE_COLUMNS)
        elif fmt in ("csv", "opensky"):
            df = _traffic_table(feed, pd.read_csv(path), source, TABLE_COLUMNS)
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

