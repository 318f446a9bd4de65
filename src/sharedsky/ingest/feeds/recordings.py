"""A whole recording, any format `sharedsky.ingest.feeds.open_feed` knows (traffic JSON,
CSV, Parquet, JSON lines of frames, Beast, AVR, SBS, readsb, OpenSky), read into one
report table (`sharedsky.ingest.schema`) by the same routine `convert` uses."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharedsky.ingest.feeds.base import FeedError
from sharedsky.ingest.schema import empty_reports


class RecordingError(FeedError):
    """A recording that cannot be read: names the file and what is wrong."""


def read_recording(path: str | Path, fmt: str | None = None, *, derive: bool = False) -> pd.DataFrame:
    """Read a whole recording into the report table, sorted by time.

    The one reading routine of every command: the format is told by `fmt`, else by
    content where the extension allows several (a `.json` may be a traffic table,
    readsb `aircraft.json`, a readsb trace or OpenSky states), else by extension; gzip
    by its magic number. `attrs["rejected"]` counts reports refused while reading (by
    reason) and `attrs["not_numbers"]` values that were not numbers, so that callers
    can show them: nothing is dropped silently. Motion is derived (`derive`) only when
    asked: the commands derive it after the quality gate, which judges reported values.
    """
    from sharedsky.ingest.feeds import open_feed

    p = Path(path)
    try:
        feed = open_feed(str(p), fmt, derive=derive)
        batches = list(feed)
    except RecordingError:
        raise
    except FeedError as exc:
        raise RecordingError(str(exc)) from exc
    not_numbers: dict[str, int] = {}
    for b in batches:
        for col, n in b.attrs.get("not_numbers", {}).items():
            not_numbers[col] = max(not_numbers.get(col, 0), n)
    out = pd.concat(batches, ignore_index=True) if batches else empty_reports()
    out = out.sort_values("timestamp", kind="stable").reset_index(drop=True)
    out.attrs = {"rejected": feed.rejected(), "not_numbers": not_numbers}
    return out
