"""Recorded traffic in the traffic library's layouts: JSON (row- or column-oriented,
optionally gzipped), CSV and Parquet, read into the report table (`sharedsky.ingest.schema`).

Any other format `sharedsky.ingest.feeds.open_feed` knows (JSON lines of raw frames, Beast,
AVR, SBS, readsb, OpenSky) is read through it, whole, into one table.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pandas as pd

from sharedsky.ingest.feeds.base import FeedError
from sharedsky.ingest.schema import normalise


class RecordingError(FeedError):
    """A recording that cannot be read: names the file and what is wrong."""


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for ext in (".json.gz", ".jsonl.gz", ".csv.gz", ".json", ".jsonl", ".csv", ".parquet"):
        if name.endswith(ext):
            return ext.replace(".gz", "")
    return path.suffix.lower()


def read_recording(path: str | Path, fmt: str | None = None) -> pd.DataFrame:
    """Read a whole recording into the report table, sorted by time."""
    p = Path(path)
    if not p.exists():
        raise RecordingError(f"{p}: no such file")
    kind = (fmt or _suffix(p)).lstrip(".")
    if kind not in ("json", "csv", "parquet"):
        return _read_feed(p, fmt)
    try:
        if kind == "json":
            opener = gzip.open if p.name.lower().endswith(".gz") else open
            with opener(p, "rt", encoding="utf-8") as fh:
                data = json.load(fh)
            # Row-oriented: a list of records. Column-oriented: {column: {row: value}}.
            df = pd.DataFrame(data) if isinstance(data, list) else pd.DataFrame(
                {k: pd.Series(v) for k, v in data.items()}
            )
        elif kind == "jsonl":
            df = pd.read_json(p, lines=True)
        elif kind == "csv":
            df = pd.read_csv(p)
        elif kind == "parquet":
            df = pd.read_parquet(p)
        else:
            raise RecordingError(f"{p}: unknown recording format {kind!r}")
    except RecordingError:
        raise
    except (OSError, EOFError, zlib.error, ValueError, json.JSONDecodeError) as exc:
        # A truncated .gz ends in EOFError; a corrupt one in zlib.error or BadGzipFile.
        raise RecordingError(f"{p}: cannot read as {kind}: {exc or type(exc).__name__}") from exc
    missing = [c for c in ("timestamp", "icao24", "latitude", "longitude", "altitude") if c not in df]
    if missing:
        raise RecordingError(f"{p}: missing column(s) {', '.join(missing)}")
    try:
        out = normalise(df, source=p.name)
    except ValueError as exc:
        raise RecordingError(f"{p}: {exc}") from exc
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _read_feed(p: Path, fmt: str | None) -> pd.DataFrame:
    """A whole file in any feed format, as one time-ordered report table."""
    from sharedsky.ingest.feeds import open_feed

    try:
        batches = list(open_feed(str(p), fmt))
    except RecordingError:
        raise
    except FeedError as exc:
        raise RecordingError(str(exc)) from exc
    if not batches:
        from sharedsky.ingest.schema import empty_reports

        return empty_reports()
    out = pd.concat(batches, ignore_index=True)
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)
